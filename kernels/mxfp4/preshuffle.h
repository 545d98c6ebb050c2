// The stage-2 preshuffled layouts of MXFP4 weights and E8M0 scales (closed forms of the contract), and their inverses.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tilejit::mxfp4 {

/// Rows per weight tile and K per weight tile group of the weight layout.
inline constexpr int64_t kWeightTileN = 16;
inline constexpr int64_t kWeightTileK = 128;
/// Rows and K values per scale tile of the scale layout.
inline constexpr int64_t kScaleTileN = 32;
inline constexpr int64_t kScaleTileK = 256;

/// Offset of weight byte (e, n, kb) (expert e, row n < N, byte kb < K/2 of the
/// row-major [N, K/2] expert matrix) in the preshuffled array. With n0 = n/16,
/// nl = n%16, k0 = kb/64, kl = (kb/16)%4, kp = kb%16:
/// e*N*K/2 + ((n0*(K/128) + k0)*4 + kl)*256 + nl*16 + kp.
/// Throws std::invalid_argument unless N % 16 == 0, K % 128 == 0 (both positive),
/// e >= 0, 0 <= n < N and 0 <= kb < K/2; the message names the argument.
int64_t weight_preshuffle_offset(int64_t e, int64_t n, int64_t kb, int64_t N, int64_t K);

/// Offset of scale byte (e, n, ks) (expert e, row n < N, scale block ks < K/32)
/// in the preshuffled array. With n = n1*32 + np*16 + nl and ks = k1*8 + kp*4 + kl:
/// ((((e*(N/32) + n1)*(K/256) + k1)*4 + kl)*16 + nl)*4 + kp*2 + np.
/// Throws std::invalid_argument unless N % 32 == 0, K % 256 == 0 (both positive),
/// e >= 0, 0 <= n < N and 0 <= ks < K/32.
int64_t scale_preshuffle_offset(int64_t e, int64_t n, int64_t ks, int64_t N, int64_t K);

/// A (expert, row, column) position in the unshuffled layout; the column is a
/// byte kb for weights, a scale block ks for scales.
struct PreshuffleIndex {
  int64_t e = 0;
  int64_t n = 0;
  int64_t k = 0;
  bool operator==(const PreshuffleIndex&) const = default;
};

/// Inverse of weight_preshuffle_offset: the (e, n, kb) stored at `offset` (>= 0).
PreshuffleIndex weight_preshuffle_index(int64_t offset, int64_t N, int64_t K);

/// Inverse of scale_preshuffle_offset: the (e, n, ks) stored at `offset` (>= 0).
PreshuffleIndex scale_preshuffle_index(int64_t offset, int64_t N, int64_t K);

/// Preshuffles weights: `w` is [E, N, K/2] packed bytes (row-major per expert);
/// the result has the same size, byte (e, n, kb) at weight_preshuffle_offset.
/// Throws std::invalid_argument on a bad E, N, K or w.size().
std::vector<uint8_t> preshuffle_weights(std::span<const uint8_t> w, int64_t E, int64_t N, int64_t K);

/// Inverse of preshuffle_weights: back to [E, N, K/2] row-major.
std::vector<uint8_t> unpreshuffle_weights(std::span<const uint8_t> w, int64_t E, int64_t N, int64_t K);

/// Preshuffles scales: `s` is [E*N, K/32] bytes (row-major); the result has the
/// same size, byte (e, n, ks) at scale_preshuffle_offset.
std::vector<uint8_t> preshuffle_scales(std::span<const uint8_t> s, int64_t E, int64_t N, int64_t K);

/// Inverse of preshuffle_scales: back to [E*N, K/32] row-major.
std::vector<uint8_t> unpreshuffle_scales(std::span<const uint8_t> s, int64_t E, int64_t N, int64_t K);

}  // namespace tilejit::mxfp4
