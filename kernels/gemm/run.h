// The result of a host-side GEMM run (upload, launch, download), shared by both GEMMs' runners.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "backend/launch/kernel.h"
#include "kernels/gemm/config.h"

namespace tilejit::kernels {

/// What run_bf16_gemm / run_a16w4_gemm return.
struct GemmRun {
  std::vector<float> c;          ///< C [M, N] row-major as floats (bf16 outputs widened exactly)
  std::vector<uint16_t> c_bf16;  ///< raw bf16 bits of C when the output is bf16 (else empty)
  double kernel_ms = 0;          ///< device time of the launch (events)
  CompileInfo compile;
};

namespace gemm_detail {
/// A device buffer for C [M, N] of `out` elements holding `initial` (its bytes; empty: 0xFF, a
/// NaN poison). Throws std::invalid_argument naming `who` when initial has the wrong size.
Buffer<uint8_t> output_buffer(Device& device, GemmOut out, int64_t elems, std::span<const uint8_t> initial,
                              const char* who);
/// Downloads C into a GemmRun.
void download_output(const Buffer<uint8_t>& c, GemmOut out, GemmRun& run);
/// Runs `launch` between two events on the default stream and returns the elapsed milliseconds.
template <class F>
double timed(Device& device, F&& launch) {
  auto start = device.create_event(), stop = device.create_event();
  start->record(nullptr);
  launch();
  stop->record(nullptr);
  stop->synchronize();
  return stop->elapsed_ms_since(*start);
}
}  // namespace gemm_detail

}  // namespace tilejit::kernels
