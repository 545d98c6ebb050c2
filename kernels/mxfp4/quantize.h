// MXFP4 quantisation per 1x32 block (as aiter's per_1x32_f4_quant), nibble packing, dequantisation.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tilejit::mxfp4 {

/// K values sharing one E8M0 scale.
inline constexpr int kBlockSize = 32;
/// Packed bytes of one block (two E2M1 codes per byte).
inline constexpr int kBlockBytes = kBlockSize / 2;

/// One byte from two codes: the LOW nibble holds the even K element.
inline uint8_t pack_e2m1_pair(uint8_t even, uint8_t odd) { return uint8_t((even & 0xFu) | ((odd & 0xFu) << 4)); }

/// Code of K element `k` in a packed row (element k lives in byte k/2, low nibble when k is even).
inline uint8_t packed_code(std::span<const uint8_t> packed_row, int64_t k) {
  const uint8_t byte = packed_row[size_t(k / 2)];
  return (k % 2 == 0) ? uint8_t(byte & 0xFu) : uint8_t(byte >> 4);
}

/// Scale byte that aiter picks for a block whose largest magnitude is `amax`:
/// e8m0_from_float(amax / 4) (exponent rounded up when the significand of amax/4
/// is >= 1.5). An all-zero block (amax = 0) gets scale byte 0 (decoded 2^-127)
/// and all codes 0 (8 for -0.0 inputs). A block holding NaN or Inf gets 255.
uint8_t block_scale_for_amax(float amax);

/// Quantises one block of 32 f32 values: amax over the block (NaN propagates),
/// scale from block_scale_for_amax, then each x / e8m0_to_float(scale) (an f32
/// division) rounded by float_to_e2m1 (RNE, saturating at +-6). Writes 16 packed
/// bytes and returns the scale byte.
uint8_t quantize_block(std::span<const float, kBlockSize> x, std::span<uint8_t, kBlockBytes> packed);

/// quantize_block for BF16 inputs given as raw uint16 bits (widened exactly to f32).
uint8_t quantize_block_bf16(std::span<const uint16_t, kBlockSize> x, std::span<uint8_t, kBlockBytes> packed);

/// Exact dequantisation of one block: out[i] = e2m1_to_float(code_i) * e8m0_to_float(scale).
/// Exact in f32 for every scale byte except where the product overflows to +-Inf
/// (scale >= 253 with large codes); scale 255 gives NaN.
void dequantize_block(std::span<const uint8_t, kBlockBytes> packed, uint8_t scale, std::span<float, kBlockSize> out);

/// A row-major matrix in MXFP4: `packed` is [rows, cols/2] bytes, `scales` is
/// [rows, cols/32] E8M0 bytes (scale of row r, K block j at r*(cols/32) + j).
struct Mxfp4Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<uint8_t> packed;
  std::vector<uint8_t> scales;
};

/// Quantises a row-major f32 [rows, cols] matrix block by block along the rows.
/// Throws std::invalid_argument when cols is not a positive multiple of 32,
/// rows is negative, or x.size() != rows*cols.
Mxfp4Matrix quantize(std::span<const float> x, int64_t rows, int64_t cols);

/// quantize for BF16 input given as raw uint16 bits.
Mxfp4Matrix quantize_bf16(std::span<const uint16_t> x, int64_t rows, int64_t cols);

/// Exact dequantisation of a whole matrix to row-major f32 [rows, cols].
std::vector<float> dequantize(const Mxfp4Matrix& m);

/// Exact dequantisation from raw arrays: packed [rows, cols/2], scales [rows, cols/32].
/// Throws std::invalid_argument naming the argument whose size or shape is wrong.
std::vector<float> dequantize(std::span<const uint8_t> packed, std::span<const uint8_t> scales, int64_t rows, int64_t cols);

}  // namespace tilejit::mxfp4
