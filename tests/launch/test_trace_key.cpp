// compile() with KernelOptions::trace_key: a second process loads the code from the disk cache
// without tracing the body, from a launch stub that matches the traced kernel, and Kernel::ir()
// still gives the whole traced IR.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "backend/launch/kernel.h"
#include "dsl/ir/hash.h"
#include "dsl/ir/printer.h"
#include "dsl/tilejit.h"
#include "dsl/version.h"
#include "test_support.h"

namespace tilejit {
namespace {

using test::ScopedEnv;
using test::TempDir;

std::atomic<int> traces{0};

const KernelDef& keyed_kernel() {
  static const KernelDef def = kernel(
      "trace_key_probe",
      [](Ptr<float> x, Int n) {
        ++traces;
        SharedPtr<float> s = shared_array<float>(96);
        Value i = thread_id();
        s[i] = x[i];
        barrier();
        if_(i < n, [&] { x[i] = s[63 - i] * 2.0f; });
      },
      {.block = {64, 1, 1}, .param_names = {"x", "n"}, .min_blocks_per_sm = 3, .trace_key = "test v1"});
  return def;
}

// A device that needs sm_90a code and keeps what it was asked to load; it runs nothing.
class RecordingDevice : public Device {
 public:
  struct Loaded {
    ir::Function fn;
    CompiledCode code;
  };
  std::vector<Loaded> loads;

  DeviceKind kind() const override { return DeviceKind::Cuda; }
  Target target() const override { return Target::Sm90a; }
  std::string name() const override { return "recording device"; }
  DevicePtr alloc(size_t) override { throw std::logic_error("unused"); }
  void free(DevicePtr) override {}
  void copy_to_device(DevicePtr, const void*, size_t) override { throw std::logic_error("unused"); }
  void copy_to_host(void*, DevicePtr, size_t) override { throw std::logic_error("unused"); }
  void copy_device_to_device(DevicePtr, DevicePtr, size_t) override { throw std::logic_error("unused"); }
  void memset(DevicePtr, uint8_t, size_t) override { throw std::logic_error("unused"); }
  void synchronize() override {}
  std::unique_ptr<Stream> create_stream() override { throw std::logic_error("unused"); }
  std::unique_ptr<Event> create_event() override { throw std::logic_error("unused"); }
  std::unique_ptr<LoadedKernel> load(const ir::Function& fn, const CompiledCode* code) override {
    if (!code) throw std::logic_error("load() without code");
    loads.push_back({fn, *code});
    struct Nothing : LoadedKernel {
      void launch(Dim3, Dim3, std::span<const KernelArg>, Stream*, LaunchOptions) override {}
    };
    return std::make_unique<Nothing>();
  }
};

// Runs in a fresh process: compiles keyed_kernel() and checks whether it was traced.
void compile_in_fresh_process(bool expect_trace_skipped) {
  RecordingDevice dev;
  Kernel k = compile(keyed_kernel(), dev);
  EXPECT_EQ(k.info().trace_skipped, expect_trace_skipped);
  EXPECT_TRUE(k.info().disk_hit == expect_trace_skipped) << "a first compile is a miss";
  EXPECT_EQ(traces.load(), expect_trace_skipped ? 0 : 1);
  ASSERT_EQ(dev.loads.size(), 1u);

  // What the device was given matches the traced kernel, whichever way it was loaded.
  ir::Function traced = keyed_kernel().trace(Target::Sm90a);
  const ir::Function& loaded = dev.loads[0].fn;
  EXPECT_EQ(loaded.name, traced.name);
  ASSERT_EQ(loaded.params.size(), traced.params.size());
  for (size_t i = 0; i < traced.params.size(); ++i) {
    EXPECT_EQ(loaded.params[i].name, traced.params[i].name);
    EXPECT_EQ(loaded.params[i].type, traced.params[i].type);
  }
  EXPECT_EQ(loaded.shared_bytes(), traced.shared_bytes());
  EXPECT_EQ(loaded.shared_bytes(), 96u * 4);
  for (int d = 0; d < 3; ++d) EXPECT_EQ(loaded.block_size[d], traced.block_size[d]);
  EXPECT_EQ(loaded.min_blocks_per_sm, 3u);
  std::string ptx(dev.loads[0].code.binary.begin(), dev.loads[0].code.binary.end());
  EXPECT_NE(ptx.find(".entry trace_key_probe"), std::string::npos) << ptx.substr(0, 400);

  // ir() is the whole traced IR either way (traced on first use when it was skipped).
  std::string want = ir::print(traced);
  EXPECT_EQ(ir::print(k.ir()), want);
  EXPECT_EQ(k.info().ir_hash, ir::hash_text(want));
  EXPECT_EQ(&k.ir(), &k.ir());

  // Argument checks work from the stub alone.
  EXPECT_THROW(k.launch({1}, {64}, 1.5f, 3), UserError);
  EXPECT_THROW(k.launch({1}, {32}, RawPtr{0}, 3), UserError);
}

// A fresh process re-runs the test body up to its death test: it must use the parent's
// directory, not make one of its own.
class SharedDir {
 public:
  SharedDir() {
    if (const char* inherited = getenv("TJ_TRACE_KEY_TEST_DIR")) {
      path_ = inherited;
    } else {
      own_.emplace();
      path_ = own_->path();
    }
    mark_.emplace("TJ_TRACE_KEY_TEST_DIR", path_.string());
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::optional<TempDir> own_;
  std::filesystem::path path_;
  std::optional<ScopedEnv> mark_;
};

TEST(TraceKey, SecondProcessLoadsFromDiskWithoutTracing) {
  ASSERT_FALSE(build_id().empty()) << "libtilejit has no GNU build id: the trace key cannot work";
  SharedDir dir;
  ScopedEnv cache_dir("TILEJIT_CACHE_DIR", dir.path().string());
  ScopedEnv cache_on("TILEJIT_CACHE", std::nullopt);
  ScopedEnv no_dump("TILEJIT_DUMP", std::nullopt);
  TJ_IN_FRESH_PROCESS(compile_in_fresh_process(false), "");
  TJ_IN_FRESH_PROCESS(compile_in_fresh_process(true), "");
}

// A first process compiles keyed_kernel() into a fresh disk cache without dumps; a second one
// compiles it with TILEJIT_DUMP=`what` and hands the kernel and the dump folder to `check`.
template <class Check>
void dump_after_a_plain_run(const char* what, Check check) {
  SharedDir dir;
  ScopedEnv cache_dir("TILEJIT_CACHE_DIR", (dir.path() / "cache").string());
  ScopedEnv cache_on("TILEJIT_CACHE", std::nullopt);
  ScopedEnv no_dump("TILEJIT_DUMP", std::nullopt);
  TJ_IN_FRESH_PROCESS(compile_in_fresh_process(false), "");
  ScopedEnv dump("TILEJIT_DUMP", what);
  ScopedEnv dump_dir("TILEJIT_DUMP_DIR", (dir.path() / "dump").string());
  TJ_IN_FRESH_PROCESS(
      {
        RecordingDevice dev;
        Kernel k = compile(keyed_kernel(), dev);
        check(k, dir.path() / "dump");
      },
      "");
}

// With TILEJIT_DUMP the dump needs the traced IR: traced again, the code a plain disk hit.
TEST(TraceKey, DumpsStillTrace) {
  dump_after_a_plain_run("ir", [](const Kernel& k, const std::filesystem::path& dump) {
    EXPECT_FALSE(k.info().trace_skipped);
    EXPECT_TRUE(k.info().disk_hit);
    EXPECT_EQ(traces.load(), 1);
    EXPECT_FALSE(std::filesystem::is_empty(dump));
  });
}

// Plain compiles do not keep the LLVM IR; TILEJIT_DUMP=llvm compiles again under its own cache key
// (no disk hit on the plain entry), so the dumped .ll holds the IR.
TEST(TraceKey, LlvmDumpAfterAPlainRunHasTheLlvmIr) {
  dump_after_a_plain_run("llvm", [](const Kernel& k, const std::filesystem::path& dump) {
    EXPECT_FALSE(k.info().disk_hit);
    size_t ll_files = 0;
    for (const auto& f : std::filesystem::directory_iterator(dump))
      if (f.path().extension() == ".ll") {
        ++ll_files;
        EXPECT_GT(std::filesystem::file_size(f.path()), 0u) << f.path();
      }
    EXPECT_EQ(ll_files, 1u);
  });
}

TEST(Compile, ASecondCompileIsAMemoryHitOfTheSameKernel) {
  ScopedEnv no_disk("TILEJIT_CACHE", "0");
  TJ_IN_FRESH_PROCESS(
      {
        RecordingDevice dev;
        Kernel first = compile(keyed_kernel(), dev);
        Kernel second = compile(keyed_kernel(), dev);
        EXPECT_FALSE(first.info().memory_hit);
        EXPECT_TRUE(second.info().memory_hit);
        EXPECT_EQ(second.info().ir_hash, first.info().ir_hash);
        EXPECT_EQ(&second.ir(), &first.ir());
        EXPECT_EQ(dev.loads.size(), 1u);
        EXPECT_EQ(traces.load(), 1);
      },
      "");
}

}  // namespace
}  // namespace tilejit
