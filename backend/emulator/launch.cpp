// Kernel launch on the emulator: argument and resource checks, workgroups spread over the worker pool.
#include <fmt/format.h>

#include <atomic>
#include <exception>
#include <mutex>

#include "backend/emulator/device_state.h"
#include "backend/emulator/interp.h"
#include "dsl/error.h"

namespace tilejit::emulator::detail {

namespace {

std::string dims(Dim3 d) { return fmt::format("({},{},{})", d.x, d.y, d.z); }

void check_launch(const Program& P, Dim3 grid, Dim3 block, std::span<const KernelArg> args) {
  const ir::Function& fn = P.fn;
  if (!grid.x || !grid.y || !grid.z || !block.x || !block.y || !block.z)
    throw UserError(fmt::format("emulator: kernel '{}': grid {} and block {} must not have a zero dimension",
                                fn.name, dims(grid), dims(block)));
  const uint32_t* bs = fn.block_size;
  if (bs[0] || bs[1] || bs[2]) {
    Dim3 want{bs[0] ? bs[0] : 1, bs[1] ? bs[1] : 1, bs[2] ? bs[2] : 1};
    if (want.x != block.x || want.y != block.y || want.z != block.z)
      throw UserError(fmt::format("emulator: kernel '{}' has the fixed block size {} but was launched with {}",
                                  fn.name, dims(want), dims(block)));
  }
  const TargetInfo& ti = *P.target;
  if (block.count() > ti.max_block_threads)
    throw OutOfResources(fmt::format("emulator: kernel '{}': block {} has {} threads; {} allows at most {}",
                                     fn.name, dims(block), block.count(), ti.name, ti.max_block_threads));
  if (P.shared_bytes > ti.max_shared_bytes)
    throw OutOfResources(fmt::format("emulator: kernel '{}' needs {} bytes of shared memory; {} has {}", fn.name,
                                     P.shared_bytes, ti.name, ti.max_shared_bytes));
  if (args.size() != fn.params.size())
    throw UserError(fmt::format("emulator: kernel '{}' takes {} arguments, {} given", fn.name, fn.params.size(),
                                args.size()));
  for (size_t i = 0; i < args.size(); ++i)
    if (!(args[i].type == fn.params[i].type))
      throw UserError(fmt::format("emulator: kernel '{}': argument {} (parameter '{}') must be {}, got {}", fn.name,
                                  i, fn.params[i].name, ir::to_string(fn.params[i].type),
                                  ir::to_string(args[i].type)));
}

class EmuKernel : public LoadedKernel {
 public:
  EmuKernel(std::shared_ptr<DeviceState> dev, std::unique_ptr<Program> prog)
      : dev_(std::move(dev)), prog_(std::move(prog)) {}

  void launch(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream*, LaunchOptions) override {
    check_launch(*prog_, grid, block, args);
    LaunchInfo L;
    L.prog = prog_.get();
    L.grid = grid;
    L.block = block;
    L.args.assign(args.begin(), args.end());
    L.global = dev_->mem.snapshot();
    L.wave_size = uint32_t(prog_->target->wave_size);
    uint32_t n = uint32_t(block.count());
    for (auto& v : L.tid) v.resize(n);
    L.lane_id.resize(n);
    for (uint32_t l = 0; l < n; ++l) {
      L.tid[0][l] = l % block.x;
      L.tid[1][l] = (l / block.x) % block.y;
      L.tid[2][l] = l / (block.x * block.y);
      L.lane_id[l] = l % L.wave_size;
    }

    const uint64_t groups = grid.count();
    std::atomic<uint64_t> next{0};
    std::atomic<bool> stop{false};
    std::mutex err_mu;
    std::exception_ptr err;
    auto work = [&](unsigned) {
      try {
        Wave w;
        init_wave(w, L);
        while (!stop.load(std::memory_order_relaxed)) {
          uint64_t g = next.fetch_add(1, std::memory_order_relaxed);
          if (g >= groups) break;
          run_workgroup(w, uint32_t(g % grid.x), uint32_t((g / grid.x) % grid.y), uint32_t(g / (uint64_t(grid.x) * grid.y)));
        }
      } catch (...) {
        std::lock_guard lock(err_mu);
        if (!err) err = std::current_exception();
        stop = true;
      }
    };
    unsigned want = dev_->opts.threads ? dev_->opts.threads : std::thread::hardware_concurrency();
    unsigned workers = unsigned(std::min<uint64_t>(std::max(1u, want), groups));
    if (workers <= 1) work(0);
    else dev_->pool().run(workers, work);
    if (err) std::rethrow_exception(err);
  }

 private:
  std::shared_ptr<DeviceState> dev_;
  std::unique_ptr<Program> prog_;
};

}  // namespace

std::unique_ptr<LoadedKernel> make_kernel(std::shared_ptr<DeviceState> dev, const ir::Function& fn) {
  auto prog = build_program(fn, dev->opts);
  return std::make_unique<EmuKernel>(std::move(dev), std::move(prog));
}

}  // namespace tilejit::emulator::detail
