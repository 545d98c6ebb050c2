// BF16Gemm argument checks and launch; the host-side runner.
#include "kernels/gemm/bf16_api.h"

#include <fmt/format.h>

#include <climits>
#include <stdexcept>

#include "kernels/gemm/check.h"

namespace tilejit::kernels {

using namespace gemm_detail;

namespace {
constexpr const char* kWho = "BF16Gemm::launch";
}

BF16Gemm::BF16Gemm(const BF16GemmConfig& config) : config_(config), def_(bf16_gemm_kernel(config)) {}

const Kernel& BF16Gemm::compile(Device& device) {
  kernel_ = tilejit::compile(def_, device);
  return *kernel_;
}

Dim3 BF16Gemm::grid(int M, int N) const {
  return {uint32_t((N + config_.tile_n - 1) / config_.tile_n), uint32_t((M + config_.tile_m - 1) / config_.tile_m), 1};
}

void BF16Gemm::check(DevicePtr a, DevicePtr b, DevicePtr c, int M, int N, int K) const {
  check_pointer(kWho, "a", a, 16);
  check_pointer(kWho, "b", b, 16);
  check_pointer(kWho, "c", c, config_.out == GemmOut::F32 ? 4 : 2);
  // Grid y is at most 65535 blocks; local C offsets (row * N + column) stay within i32.
  check_range(kWho, "M", M, 1, int64_t(65535) * config_.tile_m);
  check_range(kWho, "N", N, 1, (int64_t(INT_MAX) - config_.tile_n) / config_.tile_m);
  check_multiple(kWho, "K", K, config_.tile_k, "tile_k");
}

void BF16Gemm::launch(DevicePtr a, DevicePtr b, DevicePtr c, int M, int N, int K, Stream* stream) const {
  check(a, b, c, M, N, K);
  if (!kernel_) throw std::logic_error("BF16Gemm::launch before compile(device)");
  kernel_->launch_on(stream, grid(M, N), {uint32_t(kGemmThreads)}, RawPtr{c}, RawPtr{a}, RawPtr{b}, M, N, K);
}

GemmRun run_bf16_gemm(Device& device, const BF16GemmConfig& config, std::span<const uint16_t> a,
                      std::span<const uint16_t> b, int M, int N, int K, std::span<const uint8_t> initial_c) {
  constexpr const char* who = "run_bf16_gemm";
  config.validate();
  check_range(who, "M", M, 1, INT_MAX);
  check_range(who, "N", N, 1, INT_MAX);
  check_range(who, "K", K, 1, INT_MAX);
  check_size(who, "a", a.size(), int64_t(M) * K);
  check_size(who, "b", b.size(), int64_t(N) * K);
  BF16Gemm op(config);
  GemmRun run;
  run.compile = op.compile(device).info();
  Buffer<uint16_t> da(device, a), db(device, b);
  Buffer<uint8_t> dc = output_buffer(device, config.out, int64_t(M) * N, initial_c, who);
  run.kernel_ms = timed(device, [&] { op.launch(da.ptr(), db.ptr(), dc.ptr(), M, N, K); });
  download_output(dc, config.out, run);
  return run;
}

}  // namespace tilejit::kernels
