// Tests of the GPU drivers on any machine: library loading, "no device" errors, argument packing.
#include <gtest/gtest.h>

#include <cstring>

#include "backend/runtime/cuda_api.h"
#include "backend/runtime/cuda_device.h"
#include "backend/runtime/hip_api.h"
#include "backend/runtime/hip_device.h"
#include "backend/runtime/launch_args.h"
#include "backend/runtime/no_device.h"
#include "dsl/error.h"
#include "test_support.h"

namespace tilejit {
namespace {

using test::ScopedEnv;

std::string what_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

TEST(CudaDriver, OverridePathThatDoesNotExistMeansNoDevice) {
  auto body = [] {
    ScopedEnv lib("TILEJIT_LIBCUDA", "/nonexistent/libcuda.so.1");
    try {
      cuda::open_device();
      ADD_FAILURE() << "opened a CUDA device through a library that does not exist";
    } catch (const NoDeviceError& e) {
      std::string msg = e.what();
      EXPECT_EQ(msg.rfind("CUDA: no device (libcuda.so.1: ", 0), 0u) << msg;
      EXPECT_NE(msg.find("/nonexistent/libcuda.so.1 (from TILEJIT_LIBCUDA)"), std::string::npos) << msg;
      EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
      EXPECT_EQ(e.library(), "libcuda.so.1");
      std::fprintf(stderr, "%s\n", msg.c_str());
    }
  };
  TJ_IN_FRESH_PROCESS(body(), "CUDA: no device");
}

TEST(CudaDriver, DefaultLibraryEitherOpensAnSm90OrSaysWhyNot) {
  std::string msg;
  try {
    auto dev = cuda::open_device();
    // A machine with a usable GPU: it must be an sm_90 described by the driver.
    const cuda::DeviceInfo* info = cuda::device_info(*dev);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(dev->kind(), DeviceKind::Cuda);
    EXPECT_EQ(dev->target(), Target::Sm90a);
    EXPECT_EQ(info->cc_major, 9);
    EXPECT_EQ(info->cc_minor, 0);
    EXPECT_GT(info->sm_count, 0);
    EXPECT_EQ(dev->compute_units(), uint32_t(info->sm_count));
    EXPECT_FALSE(dev->name().empty());
    return;
  } catch (const NoDeviceError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("CUDA: no device ("), std::string::npos) << msg;
  // Not loaded: the loader's reason; loaded: the driver's own error name or the arch.
  bool explained = msg.find("libcuda.so.1: cannot open shared object file") != std::string::npos ||
                   msg.find("CUDA_ERROR_") != std::string::npos ||
                   msg.find("needs sm_90") != std::string::npos ||
                   msg.find("reports no CUDA device") != std::string::npos;
  EXPECT_TRUE(explained) << msg;
}

TEST(CudaDriver, LibraryWithoutTheSymbolsNamesTheMissingOne) {
  std::string msg = what_of([] { cuda::load_api_from("libc.so.6"); });
  EXPECT_NE(msg.find("CUDA: no device (libc.so.6: the library lacks the driver symbol cuInit"),
            std::string::npos)
      << msg;
}

TEST(HipDriver, DefaultLibrariesEitherOpenAGfx950OrSayWhyNot) {
  std::string msg;
  try {
    auto dev = hip::open_device();
    const hip::DeviceInfo* info = hip::device_info(*dev);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(dev->kind(), DeviceKind::Hip);
    EXPECT_EQ(dev->target(), Target::Gfx950);
    EXPECT_EQ(info->gfx_major, 9);
    EXPECT_EQ(info->gfx_minor, 5);
    EXPECT_GT(info->cu_count, 0);
    return;
  } catch (const NoDeviceError& e) {
    msg = e.what();
    EXPECT_EQ(e.library().rfind("libamdhip64", 0), 0u) << e.library();
  }
  EXPECT_EQ(msg.rfind("HIP: no device (libamdhip64", 0), 0u) << msg;
  // Not loaded: every name tried; loaded: the runtime's own error name or the arch.
  bool explained = msg.find("libamdhip64.so: cannot open shared object file") != std::string::npos ||
                   msg.find("hipInit: hipError") != std::string::npos ||
                   msg.find("hipGetDeviceCount: hipError") != std::string::npos ||
                   msg.find("needs gfx950") != std::string::npos ||
                   msg.find("reports no HIP device") != std::string::npos;
  EXPECT_TRUE(explained) << msg;
}

TEST(HipDriver, OverridePathThatDoesNotExistMeansNoDevice) {
  auto body = [] {
    ScopedEnv lib("TILEJIT_LIBAMDHIP64", "/nonexistent/libamdhip64.so");
    std::string msg = what_of([] { hip::open_device(); });
    EXPECT_EQ(msg.rfind("HIP: no device (libamdhip64: /nonexistent/libamdhip64.so (from "
                        "TILEJIT_LIBAMDHIP64): ",
                        0),
              0u)
        << msg;
    std::fprintf(stderr, "%s\n", msg.c_str());
  };
  TJ_IN_FRESH_PROCESS(body(), "HIP: no device");
}

TEST(HipDriver, LibraryWithoutTheSymbolsNamesTheMissingOne) {
  std::string msg = what_of([] { hip::load_api_from("libc.so.6"); });
  EXPECT_NE(msg.find("HIP: no device (libc.so.6: the library lacks the runtime symbol hipInit"),
            std::string::npos)
      << msg;
}

TEST(DriverErrors, CarryTheApiNameAndTheDriversOwnWords) {
  // A table whose error functions answer like the driver does.
  cuda::Api api;
  api.cuGetErrorName = [](cuda::CUresult r, const char** s) {
    *s = r == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_UNKNOWN";
    return 0;
  };
  api.cuGetErrorString = [](cuda::CUresult, const char** s) {
    *s = "out of memory";
    return 0;
  };
  EXPECT_NO_THROW(cuda::check(api, 0, "cuMemAlloc_v2"));
  std::string msg = what_of([&] { cuda::check(api, 2, "cuMemAlloc_v2 of 64 bytes", "; more"); });
  EXPECT_EQ(msg, "cuMemAlloc_v2 of 64 bytes failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory); more");

  hip::Api hapi;
  static int cleared;
  cleared = 0;
  hapi.hipGetErrorName = [](hip::hipError_t) { return "hipErrorNoDevice"; };
  hapi.hipGetErrorString = [](hip::hipError_t) { return "no ROCm-capable device is detected"; };
  hapi.hipGetLastError = []() -> hip::hipError_t {
    ++cleared;
    return 0;
  };
  msg = what_of([&] { hip::check(hapi, 100, "hipInit"); });
  EXPECT_EQ(msg, "hipInit failed: hipErrorNoDevice (no ROCm-capable device is detected)");
  EXPECT_EQ(cleared, 1);
}

// ---- launch arguments ------------------------------------------------------------------

TEST(LaunchArgs, PacksEachParameterAtItsSize) {
  TJ_SEEDED_RNG(rng);
  using ir::Scalar;
  using ir::Type;
  std::vector<ir::Param> params{{"out", Type::pointer(Scalar::F32, ir::AddrSpace::Global)},
                                {"x", Type::scalar(Scalar::F32)},
                                {"n", Type::scalar(Scalar::I32)},
                                {"h", Type::scalar(Scalar::I16)},
                                {"b", Type::scalar(Scalar::I8)},
                                {"k", Type::scalar(Scalar::I64)},
                                {"d", Type::scalar(Scalar::F64)},
                                {"hb", Type::scalar(Scalar::BF16)}};
  const int sizes[] = {8, 4, 4, 2, 1, 8, 8, 2};
  std::vector<KernelArg> args;
  for (auto& p : params) args.push_back({p.type, (uint64_t(rng()) << 32) | rng()});
  std::vector<uint64_t> slots(params.size(), 0xdeadbeefdeadbeefull);
  std::vector<void*> pointers(params.size(), nullptr);
  pack_kernel_args("k", params, args, slots.data(), pointers.data());
  for (size_t i = 0; i < params.size(); ++i) {
    SCOPED_TRACE(params[i].name);
    ASSERT_EQ(pointers[i], &slots[i]);
    uint64_t want = sizes[i] == 8 ? args[i].bits : args[i].bits & ((uint64_t(1) << (8 * sizes[i])) - 1);
    uint64_t got = 0;
    std::memcpy(&got, pointers[i], size_t(sizes[i]));
    EXPECT_EQ(got, want);
    EXPECT_EQ(slots[i], want) << "bytes past the parameter's size must be zero";
  }
}

TEST(LaunchArgs, WrongCountOrTypeIsAUserErrorNamingTheArgument) {
  using ir::Scalar;
  using ir::Type;
  std::vector<ir::Param> params{{"out", Type::pointer(Scalar::F32, ir::AddrSpace::Global)},
                                {"n", Type::scalar(Scalar::I32)}};
  uint64_t slots[2];
  void* pointers[2];
  std::vector<KernelArg> one{{params[0].type, 0x1000}};
  std::string msg;
  try {
    pack_kernel_args("axpy", params, one, slots, pointers);
  } catch (const UserError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "kernel 'axpy' takes 2 argument(s), the launch passes 1");
  std::vector<KernelArg> wrong{{params[0].type, 0x1000}, {Type::scalar(Scalar::F32), 0}};
  msg.clear();
  try {
    pack_kernel_args("axpy", params, wrong, slots, pointers);
  } catch (const UserError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "kernel 'axpy': argument 1 ('n') is f32 but the parameter is i32");
}

TEST(LaunchArgs, GeometryChecks) {
  const uint32_t any[3] = {0, 0, 0};
  const uint32_t fixed[3] = {128, 0, 0};
  EXPECT_NO_THROW(check_launch_geometry("k", any, {4, 2, 1}, {256, 4, 1}, 1024));
  EXPECT_THROW(check_launch_geometry("k", any, {0, 1, 1}, {32, 1, 1}, 1024), UserError);
  EXPECT_THROW(check_launch_geometry("k", any, {1, 1, 1}, {32, 0, 1}, 1024), UserError);
  EXPECT_NO_THROW(check_launch_geometry("k", fixed, {7, 1, 1}, {128, 1, 1}, 1024));
  std::string msg;
  try {
    check_launch_geometry("k", fixed, {7, 1, 1}, {64, 2, 1}, 1024);
  } catch (const UserError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "kernel 'k' declares block size (128, 1, 1) but is launched with (64, 2, 1)");
  msg.clear();
  try {
    check_launch_geometry("k", any, {1, 1, 1}, {512, 2, 1}, 768);
  } catch (const OutOfResources& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find("a block of 1024 threads (512, 2, 1) exceeds the 768 threads"), std::string::npos)
      << msg;
}

TEST(DeviceKind, Names) {
  EXPECT_EQ(device_kind_name(DeviceKind::Emulator), "emulator");
  EXPECT_EQ(device_kind_name(DeviceKind::Hip), "hip");
  EXPECT_EQ(device_kind_name(DeviceKind::Cuda), "cuda");
}

}  // namespace
}  // namespace tilejit
