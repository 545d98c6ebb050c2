// A16W4Gemm argument checks and launch; the host-side runner (preshuffles the weights).
#include "kernels/gemm/a16w4_api.h"

#include <climits>
#include <stdexcept>

#include "kernels/gemm/check.h"
#include "kernels/mxfp4/preshuffle.h"

namespace tilejit::kernels {

using namespace gemm_detail;

namespace {
constexpr const char* kWho = "A16W4Gemm::launch";
}

A16W4Gemm::A16W4Gemm(const A16W4GemmConfig& config) : config_(config), def_(a16w4_gemm_kernel(config)) {}

const Kernel& A16W4Gemm::compile(Device& device) {
  kernel_ = tilejit::compile(def_, device);
  return *kernel_;
}

Dim3 A16W4Gemm::grid(int M, int N) const {
  return {uint32_t((N + config_.tile_n - 1) / config_.tile_n), uint32_t((M + config_.tile_m - 1) / config_.tile_m), 1};
}

void A16W4Gemm::check(DevicePtr a, DevicePtr w, DevicePtr w_scale, DevicePtr c, int M, int N, int K) const {
  check_pointer(kWho, "a", a, 16);
  check_pointer(kWho, "w", w, 16);
  check_pointer(kWho, "w_scale", w_scale, 1);
  check_pointer(kWho, "c", c, config_.out == GemmOut::F32 ? 4 : 2);
  // Grid y is at most 65535 blocks; local C offsets (row * N + column) stay within i32.
  check_range(kWho, "M", M, 1, int64_t(65535) * config_.tile_m);
  check_multiple(kWho, "N", N, 32, "the scale layout's row groups");
  check_range(kWho, "N", N, 32, (int64_t(INT_MAX) - config_.tile_n) / config_.tile_m);
  check_multiple(kWho, "K", K, 256, "the scale layout's K groups");
  check_range(kWho, "K", K, 256, int64_t(1) << 30);  // per-row weight word offsets (2K) stay within i32
}

void A16W4Gemm::launch(DevicePtr a, DevicePtr w, DevicePtr w_scale, DevicePtr c, int M, int N, int K,
                       Stream* stream) const {
  check(a, w, w_scale, c, M, N, K);
  if (!kernel_) throw std::logic_error("A16W4Gemm::launch before compile(device)");
  kernel_->launch_on(stream, grid(M, N), {uint32_t(kGemmThreads)}, RawPtr{c}, RawPtr{a}, RawPtr{w}, RawPtr{w_scale}, M,
                     N, K);
}

GemmRun run_a16w4_gemm(Device& device, const A16W4GemmConfig& config, std::span<const uint16_t> a,
                       std::span<const uint8_t> w_packed, std::span<const uint8_t> w_scales, int M, int N, int K,
                       std::span<const uint8_t> initial_c) {
  constexpr const char* who = "run_a16w4_gemm";
  config.validate();
  check_range(who, "M", M, 1, INT_MAX);
  check_multiple(who, "N", N, 32, "the scale layout's row groups");
  check_multiple(who, "K", K, 256, "the scale layout's K groups");
  check_size(who, "a", a.size(), int64_t(M) * K);
  check_size(who, "w_packed", w_packed.size(), int64_t(N) * K / 2);
  check_size(who, "w_scales", w_scales.size(), int64_t(N) * K / 32);
  std::vector<uint8_t> w = mxfp4::preshuffle_weights(w_packed, 1, N, K);
  std::vector<uint8_t> s = mxfp4::preshuffle_scales(w_scales, 1, N, K);

  A16W4Gemm op(config);
  GemmRun run;
  run.compile = op.compile(device).info();
  Buffer<uint16_t> da(device, a);
  Buffer<uint8_t> dw(device, std::span<const uint8_t>(w)), ds(device, std::span<const uint8_t>(s));
  Buffer<uint8_t> dc = output_buffer(device, config.out, int64_t(M) * N, initial_c, who);
  run.kernel_ms = timed(device, [&] { op.launch(da.ptr(), dw.ptr(), ds.ptr(), dc.ptr(), M, N, K); });
  download_output(dc, config.out, run);
  return run;
}

}  // namespace tilejit::kernels
