// Output buffers and downloads for the GEMM host runners.
#include "kernels/gemm/run.h"

#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "dsl/ir/numeric.h"

namespace tilejit::kernels::gemm_detail {

Buffer<uint8_t> output_buffer(Device& device, GemmOut out, int64_t elems, std::span<const uint8_t> initial,
                              const char* who) {
  const size_t bytes = size_t(elems) * (out == GemmOut::F32 ? 4 : 2);
  Buffer<uint8_t> c(device, bytes);
  if (initial.empty()) {
    c.fill_bytes(0xFF);
  } else if (initial.size() != bytes) {
    throw std::invalid_argument(fmt::format("{}: initial_c has {} bytes, expected {}", who, initial.size(), bytes));
  } else {
    c.upload(initial);
  }
  return c;
}

void download_output(const Buffer<uint8_t>& c, GemmOut out, GemmRun& run) {
  std::vector<uint8_t> bytes = c.download();
  if (out == GemmOut::F32) {
    run.c.resize(bytes.size() / 4);
    std::memcpy(run.c.data(), bytes.data(), bytes.size());
    return;
  }
  run.c_bf16.resize(bytes.size() / 2);
  std::memcpy(run.c_bf16.data(), bytes.data(), bytes.size());
  run.c.resize(run.c_bf16.size());
  for (size_t i = 0; i < run.c.size(); ++i) run.c[i] = ir::bf16_to_f32(run.c_bf16[i]);
}

}  // namespace tilejit::kernels::gemm_detail
