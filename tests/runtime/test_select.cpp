// Tests of device selection: TILEJIT_DEVICE, the emulator fallback and its one-time notice.
#include <gtest/gtest.h>

#include "backend/runtime/select.h"
#include "dsl/error.h"
#include "test_support.h"

namespace tilejit {
namespace {

using test::count_of;
using test::ScopedEnv;

TEST(Select, AutoFallsBackToTheEmulatorAndSaysSoOnce) {
  auto body = [] {
    ScopedEnv cuda("TILEJIT_LIBCUDA", "/nonexistent/libcuda.so.1");
    ScopedEnv hip("TILEJIT_LIBAMDHIP64", "/nonexistent/libamdhip64.so");
    ScopedEnv dev("TILEJIT_DEVICE", "auto");
    ScopedEnv tgt("TILEJIT_EMULATOR_TARGET", std::nullopt);
    testing::internal::CaptureStderr();
    auto a = open_device("auto");
    auto b = open_device("auto");
    Device& c = default_device();
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(a->kind(), DeviceKind::Emulator);
    EXPECT_EQ(b->kind(), DeviceKind::Emulator);
    EXPECT_EQ(c.kind(), DeviceKind::Emulator);
    EXPECT_EQ(&c, &default_device());
    EXPECT_EQ(a->target(), Target::Sm90a);
    EXPECT_EQ(count_of(err, "tilejit: no GPU found ("), 1) << err;
    EXPECT_EQ(count_of(err, "\n"), 1) << err;
    EXPECT_NE(err.find("tilejit: no GPU found (libcuda.so.1: /nonexistent/libcuda.so.1 (from "
                       "TILEJIT_LIBCUDA): "),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("; libamdhip64: /nonexistent/libamdhip64.so (from TILEJIT_LIBAMDHIP64): "),
              std::string::npos)
        << err;
    EXPECT_NE(err.find("), using the emulator\n"), std::string::npos) << err;
    std::fputs(err.c_str(), stderr);
  };
  TJ_IN_FRESH_PROCESS(body(), "no GPU found");
}

TEST(Select, AutoOnThisMachineNamesBothDriversWhenItFallsBack) {
  auto body = [] {
    ScopedEnv cuda("TILEJIT_LIBCUDA", std::nullopt);
    ScopedEnv hip("TILEJIT_LIBAMDHIP64", std::nullopt);
    testing::internal::CaptureStderr();
    auto d = open_device("auto");
    std::string err = testing::internal::GetCapturedStderr();
    if (d->kind() == DeviceKind::Emulator) {
      EXPECT_EQ(count_of(err, "tilejit: no GPU found (libcuda.so.1: "), 1) << err;
      EXPECT_EQ(count_of(err, "; libamdhip64"), 1) << err;
    } else {
      EXPECT_EQ(err, "") << "a GPU was found, so nothing is said";
    }
    std::fprintf(stderr, "device: %s\n", std::string(device_kind_name(d->kind())).c_str());
  };
  TJ_IN_FRESH_PROCESS(body(), "device: ");
}

TEST(Select, EmulatorTargetComesFromTheEnvironment) {
  {
    ScopedEnv t("TILEJIT_EMULATOR_TARGET", std::nullopt);
    EXPECT_EQ(emulator_target_from_env(), Target::Sm90a);
  }
  {
    ScopedEnv t("TILEJIT_EMULATOR_TARGET", "gfx950");
    EXPECT_EQ(emulator_target_from_env(), Target::Gfx950);
    auto d = open_device("emulator");
    EXPECT_EQ(d->kind(), DeviceKind::Emulator);
    EXPECT_EQ(d->target(), Target::Gfx950);
  }
  {
    ScopedEnv t("TILEJIT_EMULATOR_TARGET", "sm_90a");
    auto d = open_device("emulator");
    EXPECT_EQ(d->target(), Target::Sm90a);
  }
  ScopedEnv t("TILEJIT_EMULATOR_TARGET", "sm_80");
  std::string msg;
  try {
    emulator_target_from_env();
  } catch (const UserError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "TILEJIT_EMULATOR_TARGET=sm_80: expected gfx950 or sm_90a");
}

TEST(Select, UnknownDeviceIsAUserError) {
  std::string msg;
  try {
    open_device("bogus");
  } catch (const UserError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg, "TILEJIT_DEVICE=bogus: unknown device; expected auto, emulator, hip or cuda");
  auto body = [] {
    ScopedEnv dev("TILEJIT_DEVICE", "bogus");
    EXPECT_THROW(default_device(), UserError);
    std::fputs("threw\n", stderr);
  };
  TJ_IN_FRESH_PROCESS(body(), "threw");
}

TEST(Select, ExplicitGpuWithoutDeviceSaysNoDeviceAndWhy) {
  auto body = [] {
    ScopedEnv cuda("TILEJIT_LIBCUDA", "/nonexistent/libcuda.so.1");
    ScopedEnv hip("TILEJIT_LIBAMDHIP64", "/nonexistent/libamdhip64.so");
    std::string c, h;
    try {
      open_device("cuda");
    } catch (const RuntimeError& e) {
      c = e.what();
    }
    try {
      open_device("hip");
    } catch (const RuntimeError& e) {
      h = e.what();
    }
    EXPECT_EQ(c.rfind("CUDA: no device (libcuda.so.1: /nonexistent/libcuda.so.1", 0), 0u) << c;
    EXPECT_EQ(h.rfind("HIP: no device (libamdhip64: /nonexistent/libamdhip64.so", 0), 0u) << h;
    std::fputs("checked\n", stderr);
  };
  TJ_IN_FRESH_PROCESS(body(), "checked");
}

}  // namespace
}  // namespace tilejit
