// Compile-latency benchmark (a program, not a test): cold compiles per LLVM stage for both targets,
// disk-cache and in-memory hits, parallel startup compiles, and first-launch latency on a GPU.
// Writes compile_time.json and prints tables.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>
#include <time.h>

#include "backend/launch/kernel.h"
#include "backend/llvm/compile.h"
#include "backend/runtime/cache.h"
#include "backend/runtime/select.h"
#include "dsl/ir/hash.h"
#include "dsl/ir/parser.h"
#include "dsl/ir/printer.h"
#include "dsl/ir/verifier.h"
#include "dsl/version.h"
#include "examples/kernels.h"
#include "kernels/moe/stage2/api.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/moe/stage2/kernel.h"

using namespace tilejit;
using namespace tilejit::kernels;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Model {
  std::string name;
  int N, K, E, topk;
};
const Model kModels[] = {{"gpt_oss", 3072, 3072, 128, 4}, {"deepseek_r1", 7168, 1024, 384, 8}};

MoeStage2Config stage2_config(const Model& m, int tile_m, int k_batch) {
  MoeStage2Config c;  // defaults elsewhere: bf16 output, routing weight, accumulate, no bias
  c.model_dim = m.N;
  c.inter_dim = m.K;
  c.experts = m.E;
  c.topk = m.topk;
  c.tile_m = tile_m;
  c.tile_n = 128;
  c.k_batch = k_batch;
  return c;
}

/// A kernel under test: an example or one stage-2 config.
struct Item {
  std::string kind;  // "example" | "moe_stage2"
  KernelDef def;
  std::optional<MoeStage2Config> config;
  std::string model;
};

/// One cold compile: trace + verify + backend::compile with no cache, stage by stage.
struct ColdSample {
  double trace_ms = 0, verify_ms = 0, lower_ms = 0, opt_ms = 0, codegen_ms = 0, link_ms = 0, backend_ms = 0,
         total_ms = 0;
};

ColdSample cold_compile(const KernelDef& def, Target target, backend::CompileResult* keep = nullptr,
                        bool default_pipeline = false) {
  ColdSample s;
  auto t0 = Clock::now();
  ir::Function fn = def.trace(target);
  s.trace_ms = ms_since(t0);
  auto t1 = Clock::now();
  ir::verify(fn, target);
  s.verify_ms = ms_since(t1);
  auto t2 = Clock::now();
  backend::CompileOptions options;
  options.keep_llvm_ir = false;  // as compile() does unless TILEJIT_DUMP asks for the LLVM IR
  options.default_pipeline = default_pipeline;
  backend::CompileResult r = backend::compile(fn, target, options);
  s.backend_ms = ms_since(t2);
  s.total_ms = ms_since(t0);
  s.lower_ms = r.lower_ms;
  s.opt_ms = r.opt_ms;
  s.codegen_ms = r.codegen_ms;
  s.link_ms = r.link_ms;
  if (keep) *keep = std::move(r);
  return s;
}

json cold_json(const std::vector<ColdSample>& v, size_t code_bytes) {
  auto med = [&](double ColdSample::*f) {
    std::vector<double> x;
    for (const ColdSample& s : v) x.push_back(s.*f);
    return median(x);
  };
  double min_total = v.front().total_ms;
  for (const ColdSample& s : v) min_total = std::min(min_total, s.total_ms);
  return {{"trace_ms", med(&ColdSample::trace_ms)},   {"verify_ms", med(&ColdSample::verify_ms)},
          {"lower_ms", med(&ColdSample::lower_ms)},   {"opt_ms", med(&ColdSample::opt_ms)},
          {"codegen_ms", med(&ColdSample::codegen_ms)}, {"link_ms", med(&ColdSample::link_ms)},
          {"backend_ms", med(&ColdSample::backend_ms)}, {"total_ms", med(&ColdSample::total_ms)},
          {"total_min_ms", min_total},                 {"first_total_ms", v.front().total_ms},
          {"reps", v.size()},
          {"code_bytes", code_bytes}};
}

/// The key material compile() builds for `fn` on `target` (default options).
CacheKeyMaterial key_material(const ir::Function& fn, Target target) {
  CacheKeyMaterial m;
  m.ir_text = ir::print(fn);
  m.target = std::string(target_info(target).name);
  m.options = "O3";
  m.llvm_version = backend::llvm_version();
  return m;
}

CompiledEntry to_entry(const backend::CompileResult& r) {
  CompiledEntry e;
  e.code = r.code;
  e.llvm_ir = r.llvm_ir;
  e.assembly = r.assembly;
  e.metadata_json = r.resources_json.empty() ? "{}" : r.resources_json;
  return e;
}

/// Disk hits: an entry written by one KernelCache, read back by fresh ones on the same directory.
/// disk_ms times get_or_compile alone; traced_startup_ms the warm path of compile() for a kernel
/// without a trace key (trace, verify, print, key, disk read); startup_ms the path compile()
/// takes (with a trace key, see KernelOptions::trace_key: key, disk read, launch stub parse).
json warm_json(const KernelDef& def, Target target, const backend::CompileResult& compiled, const fs::path& dir,
               int reps) {
  CacheConfig cfg;
  cfg.disk = true;
  cfg.dir = dir;
  ir::Function fn = def.trace(target);
  CacheKeyMaterial material = key_material(fn, target);
  std::string key = material.key();
  const std::string quick_key = trace_cache_key(def, target);
  {
    KernelCache writer(cfg);
    const CompiledEntry& e = writer.get_or_compile(key, [&] { return to_entry(compiled); });
    if (writer.stats().disk_writes != 1) throw std::runtime_error("compile_time: the cache entry was not written");
    if (!quick_key.empty())  // what compile() also keeps for a kernel with a trace key
      writer.store(quick_key, trace_key_entry(e, fn, ir::hash_text(material.ir_text)));
  }
  auto no_compile = []() -> CompiledEntry { throw std::logic_error("compile_time: expected a disk hit, got a miss"); };
  std::vector<double> disk, traced_startup, startup;
  for (int i = 0; i < reps; ++i) {
    KernelCache reader(cfg);
    auto t0 = Clock::now();
    const CompiledEntry& e = reader.get_or_compile(key, no_compile);
    disk.push_back(ms_since(t0));
    if (reader.stats().disk_hits != 1 || e.code.binary != compiled.code.binary)
      throw std::runtime_error("compile_time: the disk hit returned other code");

    KernelCache reader2(cfg);
    auto t1 = Clock::now();
    ir::Function f2 = def.trace(target);
    ir::verify(f2, target);
    CacheKeyMaterial m2 = key_material(f2, target);
    const CompiledEntry& e2 = reader2.get_or_compile(m2, no_compile);
    traced_startup.push_back(ms_since(t1));
    if (reader2.stats().disk_hits != 1 || e2.code.binary != compiled.code.binary)
      throw std::runtime_error("compile_time: the warm startup path missed the disk entry");
    if (quick_key.empty()) {
      startup.push_back(traced_startup.back());
      continue;
    }
    KernelCache reader3(cfg);
    auto t2 = Clock::now();
    const CompiledEntry* e3 = reader3.find(trace_cache_key(def, target));
    ir::Function stub = e3 ? ir::parse(e3->launch_ir) : ir::Function{};
    startup.push_back(ms_since(t2));
    if (!e3 || e3->code.binary != compiled.code.binary || stub.params.size() != fn.params.size())
      throw std::runtime_error("compile_time: the trace-key path missed the disk entry");
  }
  return {{"disk_ms", median(disk)},
          {"startup_ms", median(startup)},
          {"traced_startup_ms", median(traced_startup)},
          {"trace_key", !quick_key.empty()},
          {"entry_bytes", fs::file_size(KernelCache(cfg).entry_path(key))},
          {"reps", reps}};
}

/// Launch arguments that make a kernel do a little real work (or, for stage 2, exit at once).
struct LaunchSetup {
  std::vector<Buffer<uint8_t>> buffers;
  std::function<void(const Kernel&)> launch;
};

LaunchSetup launch_setup(const Item& item, Device& dev) {
  LaunchSetup s;
  auto buf = [&](size_t bytes, uint8_t fill) -> DevicePtr {
    s.buffers.emplace_back(dev, bytes);
    s.buffers.back().fill_bytes(fill);
    return s.buffers.back().ptr();
  };
  const std::string& name = item.def.name();
  if (name == "vector_add") {
    int n = 1 << 20;
    DevicePtr a = buf(n * 4, 0x3f), b = buf(n * 4, 0x3f), c = buf(n * 4, 0);
    s.launch = [=](const Kernel& k) { k.launch({uint32_t(n / 1024)}, {256}, RawPtr{a}, RawPtr{b}, RawPtr{c}, n); };
  } else if (name == "silu_mul") {
    int n = 1 << 20;
    DevicePtr x = buf(n * 2, 0x3f), g = buf(n * 2, 0x3f), y = buf(n * 2, 0);
    s.launch = [=](const Kernel& k) { k.launch({uint32_t(n / 256)}, {256}, RawPtr{x}, RawPtr{g}, RawPtr{y}, n); };
  } else if (name == "row_softmax") {
    int rows = 1024, cols = 1024;
    DevicePtr x = buf(size_t(rows) * cols * 4, 0x3f), y = buf(size_t(rows) * cols * 4, 0);
    s.launch = [=](const Kernel& k) {
      k.launch({uint32_t(rows)}, {uint32_t(examples::kSoftmaxThreads)}, RawPtr{x}, RawPtr{y}, cols);
    };
  } else if (item.config) {
    // num_valid_ids = 0: every block exits after one load (this measures the launch path, not the kernel).
    DevicePtr z = buf(1 << 16, 0);
    Dim3 grid = MoeStage2A16W4(*item.config).grid(1);
    if (item.config->token_owner) {
      // One token whose expert ids are all -1: every block routes nothing and stores zeros.
      DevicePtr none = buf(1 << 12, 0xFF);
      s.launch = [=](const Kernel& k) {
        k.launch(grid, {uint32_t(kStage2Threads)}, RawPtr{z}, RawPtr{z}, RawPtr{z}, RawPtr{z}, RawPtr{none}, RawPtr{z},
                 RawPtr{z}, 0);
      };
      return s;
    }
    const uint32_t threads = uint32_t(item.config->block_threads());
    s.launch = [=](const Kernel& k) {
      k.launch(grid, {threads}, RawPtr{z}, RawPtr{z}, RawPtr{z}, RawPtr{z}, RawPtr{z}, RawPtr{z},
               RawPtr{z}, RawPtr{z}, RawPtr{z}, 1);
    };
  } else {
    throw std::logic_error("compile_time: no launch setup for " + name);
  }
  return s;
}

/// compile() on the device: the first call (traced, compiled or read from the cache, loaded), then
/// repeated calls that hit the in-process memo; on a GPU the first and later launch latencies.
json device_json(const Item& item, Device& dev, bool launches, int memory_reps, int launch_reps) {
  json j;
  std::optional<LaunchSetup> setup;
  if (launches) setup = launch_setup(item, dev);  // allocations before the timed compile
  auto t0 = Clock::now();
  Kernel k = compile(item.def, dev);
  double first_ms = ms_since(t0);
  const CompileInfo& info = k.info();
  j["first_compile"] = {{"wall_ms", first_ms},       {"trace_ms", info.trace_ms}, {"compile_ms", info.compile_ms},
                        {"load_ms", info.load_ms},   {"disk_hit", info.disk_hit}};
  if (launches) {
    auto t1 = Clock::now();
    setup->launch(k);
    dev.synchronize();
    double first_us = ms_since(t1) * 1e3;
    std::vector<double> later;
    for (int i = 0; i < launch_reps; ++i) {
      auto t2 = Clock::now();
      setup->launch(k);
      dev.synchronize();
      later.push_back(ms_since(t2) * 1e3);
    }
    j["first_launch_us"] = first_us;
    j["later_launch_us"] = median(later);
  } else {
    j["first_launch_us"] = nullptr;
    j["later_launch_us"] = nullptr;
  }
  std::vector<double> us;
  us.reserve(memory_reps);
  for (int i = 0; i < memory_reps; ++i) {
    auto t = Clock::now();
    Kernel again = compile(item.def, dev);
    us.push_back(ms_since(t) * 1e3);
    if (&again.ir() != &k.ir()) throw std::runtime_error("compile_time: the second compile() was not a memory hit");
  }
  auto t3 = Clock::now();
  for (int i = 0; i < memory_reps; ++i) (void)compile(item.def, dev);
  j["memory_hit_us"] = median(us);
  j["memory_hit_mean_us"] = ms_since(t3) * 1e3 / memory_reps;  // back-to-back calls, no clock reads between
  j["memory_hit_reps"] = memory_reps;
  return j;
}

double process_cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/// Compiles `items` for `target` (trace + verify + backend::compile each) one after another and
/// then on one std::thread each; medians over `reps` rounds. The process CPU time of the parallel
/// round shows whether the threads really overlapped (cpu / wall near the thread count) or were
/// starved by other load on the machine.
json parallel_json(const std::string& model, const std::vector<Item>& items, Target target, int reps) {
  auto one = [&](const Item& it) { cold_compile(it.def, target); };
  std::vector<double> seq, par, par_cpu;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    for (const Item& it : items) one(it);
    seq.push_back(ms_since(t0));
    std::vector<std::exception_ptr> errors(items.size());
    std::vector<std::thread> threads;
    double cpu0 = process_cpu_ms();
    auto t1 = Clock::now();
    for (size_t i = 0; i < items.size(); ++i)
      threads.emplace_back([&, i] {
        try {
          one(items[i]);
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
    for (std::thread& t : threads) t.join();
    par.push_back(ms_since(t1));
    par_cpu.push_back(process_cpu_ms() - cpu0);
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
  json names = json::array();
  for (const Item& it : items) names.push_back(it.def.name());
  double s = median(seq), p = median(par);
  return {{"model", model},
          {"target", target_info(target).name},
          {"configs", names},
          {"threads", items.size()},
          {"reps", reps},
          {"sequential_ms", s},
          {"parallel_ms", p},
          {"parallel_cpu_ms", median(par_cpu)},
          {"speedup", s / p},
          {"ideal_speedup", std::min<size_t>(items.size(), std::max(1u, std::thread::hardware_concurrency()))}};
}

json config_json(const MoeStage2Config& c) {
  return {{"model_dim", c.model_dim}, {"inter_dim", c.inter_dim}, {"experts", c.experts}, {"topk", c.topk},
          {"tile_m", c.tile_m},       {"tile_n", c.tile_n},       {"k_batch", c.k_batch}};
}

std::string short_name(const Item& it) {
  if (!it.config) return it.def.name();
  return fmt::format("{} {}", it.model, it.config->tiles_text());
}

fs::path make_temp_dir() {
  std::string tmpl = (fs::temp_directory_path() / "tilejit-compile-time-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("compile_time: mkdtemp failed for " + tmpl);
  return tmpl;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compile latency of the examples and the MoE stage-2 configs"};
  std::string out_dir = ".";
  std::vector<std::string> target_names{"gfx950", "sm_90a"}, models{"gpt_oss", "deepseek_r1"};
  std::vector<int> k_batches{1, 4}, parallel_tile_m{16, 32};
  int cold_reps = 3, warm_reps = 20, memory_reps = 2000, launch_reps = 20, parallel_reps = 3;
  bool use_env_cache = false, skip_parallel = false, emulator_launches = false, default_pipeline = false;
  std::string table_device;
  app.add_option("--out", out_dir, "directory for compile_time.json");
  app.add_option("--targets", target_names, "targets for the cold and disk-hit measurements");
  app.add_option("--models", models, "stage-2 models: gpt_oss, deepseek_r1");
  app.add_option("--kbatch", k_batches, "stage-2 k_batch values (tile_m 16, tile_n 128)");
  app.add_option("--parallel-tile-m", parallel_tile_m,
                 "tile_m values for the parallel test (its configs: these x --kbatch, per model)");
  app.add_option("--cold-reps", cold_reps, "cold compiles per kernel and target (median)")->check(CLI::PositiveNumber);
  app.add_option("--warm-reps", warm_reps, "disk hits per kernel and target (median)")->check(CLI::PositiveNumber);
  app.add_option("--memory-reps", memory_reps, "in-memory hits per kernel (median)")->check(CLI::PositiveNumber);
  app.add_option("--launch-reps", launch_reps, "later launches per kernel (median)")->check(CLI::PositiveNumber);
  app.add_option("--parallel-reps", parallel_reps, "rounds of the parallel test (median)")->check(CLI::PositiveNumber);
  app.add_flag("--use-env-cache", use_env_cache,
               "let compile() on the device use the disk cache from the environment (default: TILEJIT_CACHE=0, "
               "so the device's first compile is cold)");
  app.add_flag("--emulator-launches", emulator_launches,
               "measure launches on the emulator too (a check of the launch set-up; slow: use few --launch-reps)");
  app.add_flag("--skip-parallel", skip_parallel, "skip the parallel-compile test");
  app.add_flag("--default-pipeline", default_pipeline,
               "cold compiles through LLVM's full O3 pipeline instead of the target's own (sm_90a: a reduced O3; an A/B)");
  app.add_option("--table-device", table_device,
                 "also every distinct config the built-in table picks for a device of this name (e.g. \"NVIDIA H200\"), "
                 "1 to 4096 tokens, per model");
  CLI11_PARSE(app, argc, argv);

  if (!use_env_cache) ::setenv("TILEJIT_CACHE", "0", 1);  // before the process-wide cache exists
  std::vector<Target> targets;
  for (const std::string& t : target_names) {
    auto parsed = parse_target(t);
    if (!parsed) {
      fmt::print(stderr, "unknown target '{}'\n", t);
      return 2;
    }
    targets.push_back(*parsed);
  }
  std::vector<Model> chosen;
  for (const std::string& m : models) {
    auto it = std::find_if(std::begin(kModels), std::end(kModels), [&](const Model& x) { return x.name == m; });
    if (it == std::end(kModels)) {
      fmt::print(stderr, "unknown model '{}' (gpt_oss, deepseek_r1)\n", m);
      return 2;
    }
    chosen.push_back(*it);
  }

  Device& dev = default_device();
  const bool gpu = dev.kind() != DeviceKind::Emulator;
  fmt::print("device: {} ({}), {} hardware threads, LLVM {}\n", dev.name(), device_kind_name(dev.kind()),
             std::thread::hardware_concurrency(), backend::llvm_version());

  std::vector<Item> items{{"example", examples::vector_add, std::nullopt, ""},
                          {"example", examples::silu_mul, std::nullopt, ""},
                          {"example", examples::row_softmax, std::nullopt, ""}};
  for (const Model& m : chosen)
    for (int kb : k_batches) {
      MoeStage2Config c = stage2_config(m, 16, kb);
      items.push_back({"moe_stage2", moe_stage2_kernel(c), c, m.name});
    }
  // The configs a start-up on that device would compile (the chooser's picks per token bucket).
  for (const Model& m : table_device.empty() ? std::vector<Model>{} : chosen) {
    std::set<std::string> seen;
    for (int tokens : {1, 4, 8, 16, 32, 64, 128, 256, 1024, 4096}) {
      MoeStage2Config c =
          choose_moe_stage2(default_config_table(), {m.N, m.K, m.E, m.topk}, tokens, table_device, 132).config;
      if (seen.insert(c.kernel_name()).second) items.push_back({"moe_stage2", moe_stage2_kernel(c), c, m.name});
    }
  }

  fs::path temp = make_temp_dir();
  json kernels_json = json::array();
  fmt::print("\n{:<26} {:<7} {:>7} {:>7} {:>7} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8}\n", "kernel", "target", "trace",
             "verify", "lower", "opt", "codegen", "link", "cold_ms", "disk_ms", "warm_ms");
  for (const Item& it : items) {
    json kj;
    kj["name"] = it.def.name();
    kj["kind"] = it.kind;
    kj["model"] = it.config ? json(it.model) : json(nullptr);
    kj["config"] = it.config ? config_json(*it.config) : json(nullptr);
    json per_target;
    for (Target t : targets) {
      std::vector<ColdSample> samples;
      backend::CompileResult last;
      for (int r = 0; r < cold_reps; ++r) samples.push_back(cold_compile(it.def, t, &last, default_pipeline));
      json cold = cold_json(samples, last.code.binary.size());
      json warm = warm_json(it.def, t, last, temp / target_info(t).name, warm_reps);
      fmt::print("{:<26} {:<7} {:>7.2f} {:>7.2f} {:>7.1f} {:>8.1f} {:>8.1f} {:>7.1f} {:>9.1f} {:>8.3f} {:>8.3f}\n",
                 short_name(it), target_info(t).name, cold["trace_ms"].get<double>(), cold["verify_ms"].get<double>(),
                 cold["lower_ms"].get<double>(), cold["opt_ms"].get<double>(), cold["codegen_ms"].get<double>(),
                 cold["link_ms"].get<double>(), cold["total_ms"].get<double>(), warm["disk_ms"].get<double>(),
                 warm["startup_ms"].get<double>());
      std::fflush(stdout);
      per_target[std::string(target_info(t).name)] = {{"cold", cold}, {"warm", warm}};
    }
    kj["targets"] = per_target;
    kernels_json.push_back(kj);
  }

  const double process_first_ms = kernels_json[0]["targets"].begin().value()["cold"]["first_total_ms"].get<double>();
  fmt::print("first compile of the process (LLVM start-up included): {:.1f} ms\n", process_first_ms);
  fmt::print("\n{} ({}): compile() on the device\n", dev.name(), target_info(dev.target()).name);
  fmt::print("{:<26} {:>9} {:>8} {:>10} {:>8} {:>9} {:>9} {:>10} {:>10}\n", "kernel", "first_ms", "trace",
             "compile", "load", "mem_us", "mem_avg", "launch1_us", "launch_us");
  for (size_t i = 0; i < items.size(); ++i) {
    json dj = device_json(items[i], dev, gpu || emulator_launches, memory_reps, launch_reps);
    auto num = [](const json& v) { return v.is_null() ? std::string("-") : fmt::format("{:.1f}", v.get<double>()); };
    const json& fc = dj["first_compile"];
    fmt::print("{:<26} {:>9.2f} {:>8.2f} {:>10.2f} {:>8.2f} {:>9.3f} {:>9.3f} {:>10} {:>10}\n", short_name(items[i]),
               fc["wall_ms"].get<double>(), fc["trace_ms"].get<double>(), fc["compile_ms"].get<double>(),
               fc["load_ms"].get<double>(), dj["memory_hit_us"].get<double>(),
               dj["memory_hit_mean_us"].get<double>(), num(dj["first_launch_us"]),
               num(dj["later_launch_us"]));
    std::fflush(stdout);
    kernels_json[i]["device"] = dj;
  }

  json parallel = json::array();
  if (!skip_parallel) {
    fmt::print("\nall stage-2 configs of one model compiled at startup: sequential vs one std::thread each\n");
    fmt::print("{:<12} {:<7} {:>7} {:>13} {:>11} {:>8} {:>6} {:>9}\n", "model", "target", "configs",
               "sequential_ms", "parallel_ms", "speedup", "ideal", "cpu/wall");
    for (const Model& m : chosen)
      for (Target t : targets) {
        std::vector<Item> set;
        for (int tm : parallel_tile_m)
          for (int kb : k_batches) {
            MoeStage2Config c = stage2_config(m, tm, kb);
            set.push_back({"moe_stage2", moe_stage2_kernel(c), c, m.name});
          }
        json pj = parallel_json(m.name, set, t, parallel_reps);
        fmt::print("{:<12} {:<7} {:>7} {:>13.1f} {:>11.1f} {:>8.2f} {:>6} {:>9.2f}\n", m.name, target_info(t).name,
                   set.size(), pj["sequential_ms"].get<double>(), pj["parallel_ms"].get<double>(),
                   pj["speedup"].get<double>(), pj["ideal_speedup"].get<size_t>(),
                   pj["parallel_cpu_ms"].get<double>() / pj["parallel_ms"].get<double>());
        std::fflush(stdout);
        parallel.push_back(pj);
      }
  }
  fs::remove_all(temp);

  // The goals for the stage-2 configs: cold <= 150 ms, disk hit <= 2 ms, memory hit <= 5 us.
  double worst_cold = 0, worst_disk = 0, worst_startup = 0, worst_memory = 0;
  for (const json& k : kernels_json) {
    if (k["kind"] != "moe_stage2") continue;
    for (auto& [name, t] : k["targets"].items()) {
      worst_cold = std::max(worst_cold, t["cold"]["total_ms"].get<double>());
      worst_disk = std::max(worst_disk, t["warm"]["disk_ms"].get<double>());
      worst_startup = std::max(worst_startup, t["warm"]["startup_ms"].get<double>());
    }
    worst_memory = std::max(worst_memory, k["device"]["memory_hit_us"].get<double>());
  }
  json goals = {{"cold_ms", {{"worst", worst_cold}, {"goal", 150.0}, {"met", worst_cold <= 150.0}}},
                {"disk_hit_ms", {{"worst", worst_disk}, {"goal", 2.0}, {"met", worst_disk <= 2.0}}},
                {"warm_startup_ms", {{"worst", worst_startup}, {"goal", 2.0}, {"met", worst_startup <= 2.0}}},
                {"memory_hit_us", {{"worst", worst_memory}, {"goal", 5.0}, {"met", worst_memory <= 5.0}}}};
  fmt::print("\nstage-2 goals (worst config): cold {:.1f} ms (<= 150: {}), disk hit {:.3f} ms (<= 2: {}), "
             "warm startup {:.3f} ms (<= 2: {}), memory hit {:.3f} us (<= 5: {})\n",
             worst_cold, worst_cold <= 150 ? "met" : "MISSED", worst_disk, worst_disk <= 2 ? "met" : "MISSED",
             worst_startup, worst_startup <= 2 ? "met" : "MISSED", worst_memory, worst_memory <= 5 ? "met" : "MISSED");

  json result = {{"device", dev.name()}, {"default_pipeline", default_pipeline},
                 {"device_kind", device_kind_name(dev.kind())},
                 {"device_target", target_info(dev.target()).name},
                 {"gpu", gpu},
                 {"hardware_threads", std::thread::hardware_concurrency()},
                 {"llvm_version", backend::llvm_version()},
                 {"tilejit_version", version()},
                 {"device_compile_uses_disk_cache", use_env_cache},
                 {"process_first_compile_ms", process_first_ms},
                 {"kernels", kernels_json},
                 {"parallel", parallel},
                 {"goals", goals}};
  fs::create_directories(out_dir);
  std::ofstream(fs::path(out_dir) / "compile_time.json") << result.dump(2) << "\n";
  fmt::print("wrote {}\n", (fs::path(out_dir) / "compile_time.json").string());
  return 0;
}
