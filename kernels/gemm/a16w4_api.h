// The C++ API of the dense A16W4 GEMM: config -> compile(device) -> launch(a, w, w_scale, c, M, N, K, stream).
#pragma once
#include <optional>
#include <span>

#include "backend/launch/kernel.h"
#include "kernels/gemm/a16w4_kernel.h"
#include "kernels/gemm/config.h"
#include "kernels/gemm/run.h"

namespace tilejit::kernels {

/// C[M,N] = A[M,K] x dequant(W[N,K])^T: A bf16 row-major (raw bits); W MXFP4 (E2M1 codes, the low
/// nibble holding the even K element, one E8M0 scale per 32 K of a row) in the preshuffled layouts
/// of kernels/mxfp4/preshuffle.h for one expert (E = 1); C f32 or bf16 row-major. Weights decode
/// exactly as E2M1 x 2^(scale - 127); scale byte 255 decodes to NaN and 0 to 2^-127.
class A16W4Gemm {
 public:
  /// Throws std::invalid_argument when the configuration is invalid (see A16W4GemmConfig::validate).
  explicit A16W4Gemm(const A16W4GemmConfig& config);
  const A16W4GemmConfig& config() const { return config_; }
  const KernelDef& definition() const { return def_; }

  /// Compiles (or fetches from the caches) the kernel for `device` and keeps it for launch().
  const Kernel& compile(Device& device);
  /// Checks the launch arguments: a and w non-null and 16-byte aligned; w_scale non-null; c non-null
  /// and aligned to its element; M positive; N a positive multiple of 32; K a positive multiple of
  /// 256 up to 2^30; sizes within the kernel's index range. Throws std::invalid_argument naming the argument.
  void check(DevicePtr a, DevicePtr w, DevicePtr w_scale, DevicePtr c, int M, int N, int K) const;
  /// check(), then launches on the device it was compiled for (std::logic_error before compile()).
  /// Every element of C is written; nothing outside C is.
  void launch(DevicePtr a, DevicePtr w, DevicePtr w_scale, DevicePtr c, int M, int N, int K,
              Stream* stream = nullptr) const;
  /// The launch grid: (ceil(N / tile_n), ceil(M / tile_m)).
  Dim3 grid(int M, int N) const;

 private:
  A16W4GemmConfig config_;
  KernelDef def_;
  std::optional<Kernel> kernel_;
};

/// Host runner for tests and benchmarks: `a` is bf16 bits [M, K]; `w_packed` [N, K/2] packed
/// E2M1 bytes and `w_scales` [N, K/32] E8M0 bytes in the plain row-major layouts (the runner
/// preshuffles them); fills C with `initial_c` (its bytes; empty: a 0xFF NaN poison), launches,
/// downloads. Throws std::invalid_argument naming an input whose size does not match M, N, K.
GemmRun run_a16w4_gemm(Device& device, const A16W4GemmConfig& config, std::span<const uint16_t> a,
                       std::span<const uint8_t> w_packed, std::span<const uint8_t> w_scales, int M, int N, int K,
                       std::span<const uint8_t> initial_c = {});

}  // namespace tilejit::kernels
