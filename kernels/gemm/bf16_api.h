// The C++ API of the BF16 GEMM: config -> compile(device) -> launch(a, b, c, M, N, K, stream).
#pragma once
#include <optional>
#include <span>

#include "backend/launch/kernel.h"
#include "kernels/gemm/bf16_kernel.h"
#include "kernels/gemm/config.h"
#include "kernels/gemm/run.h"

namespace tilejit::kernels {

/// C[M,N] = A[M,K] x B[N,K]^T with A and B bf16 row-major (raw bits), f32 accumulation, and C
/// f32 or bf16 (rounded to nearest even) row-major. One object per configuration.
class BF16Gemm {
 public:
  /// Throws std::invalid_argument when the configuration is invalid (see BF16GemmConfig::validate).
  explicit BF16Gemm(const BF16GemmConfig& config);
  const BF16GemmConfig& config() const { return config_; }
  const KernelDef& definition() const { return def_; }

  /// Compiles (or fetches from the caches) the kernel for `device` and keeps it for launch().
  const Kernel& compile(Device& device);
  /// Checks the launch arguments: a, b non-null and 16-byte aligned; c non-null and aligned to its
  /// element; M, N positive; K a positive multiple of tile_k; sizes within the kernel's index
  /// range. Throws std::invalid_argument naming the argument.
  void check(DevicePtr a, DevicePtr b, DevicePtr c, int M, int N, int K) const;
  /// check(), then launches on the device it was compiled for (std::logic_error before compile()).
  /// Every element of C is written; nothing outside C is.
  void launch(DevicePtr a, DevicePtr b, DevicePtr c, int M, int N, int K, Stream* stream = nullptr) const;
  /// The launch grid: (ceil(N / tile_n), ceil(M / tile_m)).
  Dim3 grid(int M, int N) const;

 private:
  BF16GemmConfig config_;
  KernelDef def_;
  std::optional<Kernel> kernel_;
};

/// Host runner for tests and benchmarks: uploads `a` (bf16 bits [M, K]) and `b` (bf16 bits [N, K]),
/// fills C with `initial_c` (its bytes; empty: a 0xFF NaN poison), launches, downloads.
/// Throws std::invalid_argument naming an input whose size does not match M, N, K.
GemmRun run_bf16_gemm(Device& device, const BF16GemmConfig& config, std::span<const uint16_t> a,
                      std::span<const uint16_t> b, int M, int N, int K, std::span<const uint8_t> initial_c = {});

}  // namespace tilejit::kernels
