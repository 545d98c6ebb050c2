// MXFP4 block quantisation and dequantisation.
#include "kernels/mxfp4/quantize.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/mxfp4/e2m1.h"
#include "kernels/mxfp4/e8m0.h"

namespace tilejit::mxfp4 {
namespace {

// Largest |x| of a block; NaN wins (as torch.amax).
float block_amax(std::span<const float, kBlockSize> x) {
  float amax = 0.0f;
  for (float v : x) {
    const float a = std::fabs(v);
    if (std::isnan(a)) return a;
    if (a > amax) amax = a;
  }
  return amax;
}

void check_shape(const char* fn, int64_t rows, int64_t cols) {
  if (rows < 0) throw std::invalid_argument(fmt::format("{}: rows (= {}) must not be negative", fn, rows));
  if (cols <= 0 || cols % kBlockSize != 0)
    throw std::invalid_argument(fmt::format("{}: cols (= {}) must be a positive multiple of {}", fn, cols, kBlockSize));
}

template <class T, class Widen>
Mxfp4Matrix quantize_impl(const char* fn, std::span<const T> x, int64_t rows, int64_t cols, Widen widen) {
  check_shape(fn, rows, cols);
  if (int64_t(x.size()) != rows * cols)
    throw std::invalid_argument(
        fmt::format("{}: x has {} elements, expected rows*cols = {}*{} = {}", fn, x.size(), rows, cols, rows * cols));
  Mxfp4Matrix m;
  m.rows = rows;
  m.cols = cols;
  m.packed.resize(size_t(rows * cols / 2));
  m.scales.resize(size_t(rows * cols / kBlockSize));
  std::array<float, kBlockSize> block;
  for (int64_t b = 0; b < rows * cols / kBlockSize; ++b) {
    for (int i = 0; i < kBlockSize; ++i) block[i] = widen(x[size_t(b * kBlockSize + i)]);
    m.scales[size_t(b)] =
        quantize_block(std::span<const float, kBlockSize>(block), std::span<uint8_t, kBlockBytes>(m.packed.data() + b * kBlockBytes, kBlockBytes));
  }
  return m;
}

}  // namespace

uint8_t block_scale_for_amax(float amax) { return e8m0_from_float(amax / 4.0f); }

uint8_t quantize_block(std::span<const float, kBlockSize> x, std::span<uint8_t, kBlockBytes> packed) {
  const uint8_t scale = block_scale_for_amax(block_amax(x));
  const float s = e8m0_to_float(scale);
  for (int i = 0; i < kBlockBytes; ++i)
    packed[i] = pack_e2m1_pair(float_to_e2m1(x[2 * i] / s), float_to_e2m1(x[2 * i + 1] / s));
  return scale;
}

uint8_t quantize_block_bf16(std::span<const uint16_t, kBlockSize> x, std::span<uint8_t, kBlockBytes> packed) {
  std::array<float, kBlockSize> f;
  for (int i = 0; i < kBlockSize; ++i) f[i] = ir::bf16_to_f32(x[i]);
  return quantize_block(std::span<const float, kBlockSize>(f), packed);
}

void dequantize_block(std::span<const uint8_t, kBlockBytes> packed, uint8_t scale, std::span<float, kBlockSize> out) {
  const float s = e8m0_to_float(scale);
  for (int i = 0; i < kBlockBytes; ++i) {
    out[2 * i] = e2m1_to_float(packed[i] & 0xFu) * s;
    out[2 * i + 1] = e2m1_to_float(packed[i] >> 4) * s;
  }
}

Mxfp4Matrix quantize(std::span<const float> x, int64_t rows, int64_t cols) {
  return quantize_impl("mxfp4::quantize", x, rows, cols, [](float v) { return v; });
}

Mxfp4Matrix quantize_bf16(std::span<const uint16_t> x, int64_t rows, int64_t cols) {
  return quantize_impl("mxfp4::quantize_bf16", x, rows, cols, [](uint16_t v) { return ir::bf16_to_f32(v); });
}

std::vector<float> dequantize(std::span<const uint8_t> packed, std::span<const uint8_t> scales, int64_t rows, int64_t cols) {
  constexpr const char* fn = "mxfp4::dequantize";
  check_shape(fn, rows, cols);
  if (int64_t(packed.size()) != rows * cols / 2)
    throw std::invalid_argument(
        fmt::format("{}: packed has {} bytes, expected rows*cols/2 = {}", fn, packed.size(), rows * cols / 2));
  if (int64_t(scales.size()) != rows * cols / kBlockSize)
    throw std::invalid_argument(
        fmt::format("{}: scales has {} bytes, expected rows*cols/32 = {}", fn, scales.size(), rows * cols / kBlockSize));
  std::vector<float> out(size_t(rows * cols));
  for (int64_t b = 0; b < rows * cols / kBlockSize; ++b)
    dequantize_block(std::span<const uint8_t, kBlockBytes>(packed.data() + b * kBlockBytes, kBlockBytes), scales[size_t(b)],
                     std::span<float, kBlockSize>(out.data() + b * kBlockSize, kBlockSize));
  return out;
}

std::vector<float> dequantize(const Mxfp4Matrix& m) { return dequantize(m.packed, m.scales, m.rows, m.cols); }

}  // namespace tilejit::mxfp4
