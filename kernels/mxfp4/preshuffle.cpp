// Weight and scale preshuffles for the stage-2 MoE kernel.
#include "kernels/mxfp4/preshuffle.h"

#include <fmt/format.h>

#include <stdexcept>

namespace tilejit::mxfp4 {
namespace {

void check_dims(const char* fn, int64_t N, int64_t K, int64_t tile_n, int64_t tile_k) {
  if (N <= 0 || N % tile_n != 0)
    throw std::invalid_argument(fmt::format("{}: N (= {}) must be a positive multiple of {}", fn, N, tile_n));
  if (K <= 0 || K % tile_k != 0)
    throw std::invalid_argument(fmt::format("{}: K (= {}) must be a positive multiple of {}", fn, K, tile_k));
}

void check_index(const char* fn, int64_t e, int64_t n, int64_t k, const char* kname, int64_t N, int64_t k_limit) {
  if (e < 0) throw std::invalid_argument(fmt::format("{}: e (= {}) must not be negative", fn, e));
  if (n < 0 || n >= N) throw std::invalid_argument(fmt::format("{}: n (= {}) must be in [0, N = {})", fn, n, N));
  if (k < 0 || k >= k_limit)
    throw std::invalid_argument(fmt::format("{}: {} (= {}) must be in [0, {})", fn, kname, k, k_limit));
}

void check_array(const char* fn, const char* name, size_t size, int64_t E, int64_t expected) {
  if (E <= 0) throw std::invalid_argument(fmt::format("{}: E (= {}) must be positive", fn, E));
  if (int64_t(size) != expected)
    throw std::invalid_argument(fmt::format("{}: {} has {} bytes, expected {}", fn, name, size, expected));
}

int64_t weight_offset(int64_t e, int64_t n, int64_t kb, int64_t N, int64_t K) {
  const int64_t n0 = n / 16, nl = n % 16;
  const int64_t k0 = kb / 64, kl = (kb / 16) % 4, kp = kb % 16;
  return e * N * K / 2 + ((n0 * (K / 128) + k0) * 4 + kl) * 256 + nl * 16 + kp;
}

int64_t scale_offset(int64_t e, int64_t n, int64_t ks, int64_t N, int64_t K) {
  const int64_t n1 = n / 32, np = (n / 16) % 2, nl = n % 16;
  const int64_t k1 = ks / 8, kp = (ks / 4) % 2, kl = ks % 4;
  return ((((e * (N / 32) + n1) * (K / 256) + k1) * 4 + kl) * 16 + nl) * 4 + kp * 2 + np;
}

// Applies `offset` to every (e, n, k) of an [E, N, kcols] array; forward scatters, inverse gathers.
template <class Offset>
std::vector<uint8_t> permute(std::span<const uint8_t> in, int64_t E, int64_t N, int64_t kcols, bool forward, Offset offset) {
  std::vector<uint8_t> out(in.size());
  int64_t linear = 0;
  for (int64_t e = 0; e < E; ++e)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < kcols; ++k, ++linear) {
        const int64_t shuffled = offset(e, n, k, N);
        if (forward)
          out[size_t(shuffled)] = in[size_t(linear)];
        else
          out[size_t(linear)] = in[size_t(shuffled)];
      }
  return out;
}

std::vector<uint8_t> weights_impl(const char* fn, std::span<const uint8_t> w, int64_t E, int64_t N, int64_t K, bool forward) {
  check_dims(fn, N, K, kWeightTileN, kWeightTileK);
  check_array(fn, "w", w.size(), E, E * N * (K / 2));
  return permute(w, E, N, K / 2, forward,
                 [K](int64_t e, int64_t n, int64_t kb, int64_t N_) { return weight_offset(e, n, kb, N_, K); });
}

std::vector<uint8_t> scales_impl(const char* fn, std::span<const uint8_t> s, int64_t E, int64_t N, int64_t K, bool forward) {
  check_dims(fn, N, K, kScaleTileN, kScaleTileK);
  check_array(fn, "s", s.size(), E, E * N * (K / 32));
  return permute(s, E, N, K / 32, forward,
                 [K](int64_t e, int64_t n, int64_t ks, int64_t N_) { return scale_offset(e, n, ks, N_, K); });
}

}  // namespace

int64_t weight_preshuffle_offset(int64_t e, int64_t n, int64_t kb, int64_t N, int64_t K) {
  constexpr const char* fn = "weight_preshuffle_offset";
  check_dims(fn, N, K, kWeightTileN, kWeightTileK);
  check_index(fn, e, n, kb, "kb", N, K / 2);
  return weight_offset(e, n, kb, N, K);
}

int64_t scale_preshuffle_offset(int64_t e, int64_t n, int64_t ks, int64_t N, int64_t K) {
  constexpr const char* fn = "scale_preshuffle_offset";
  check_dims(fn, N, K, kScaleTileN, kScaleTileK);
  check_index(fn, e, n, ks, "ks", N, K / 32);
  return scale_offset(e, n, ks, N, K);
}

PreshuffleIndex weight_preshuffle_index(int64_t offset, int64_t N, int64_t K) {
  constexpr const char* fn = "weight_preshuffle_index";
  check_dims(fn, N, K, kWeightTileN, kWeightTileK);
  if (offset < 0) throw std::invalid_argument(fmt::format("{}: offset (= {}) must not be negative", fn, offset));
  const int64_t per_expert = N * K / 2;
  PreshuffleIndex idx;
  idx.e = offset / per_expert;
  int64_t r = offset % per_expert;
  const int64_t kp = r % 16;
  const int64_t nl = (r / 16) % 16;
  r /= 256;  // ((n0*(K/128) + k0)*4 + kl)
  const int64_t kl = r % 4;
  r /= 4;
  const int64_t k0 = r % (K / 128);
  const int64_t n0 = r / (K / 128);
  idx.n = n0 * 16 + nl;
  idx.k = k0 * 64 + kl * 16 + kp;
  return idx;
}

PreshuffleIndex scale_preshuffle_index(int64_t offset, int64_t N, int64_t K) {
  constexpr const char* fn = "scale_preshuffle_index";
  check_dims(fn, N, K, kScaleTileN, kScaleTileK);
  if (offset < 0) throw std::invalid_argument(fmt::format("{}: offset (= {}) must not be negative", fn, offset));
  int64_t r = offset;
  const int64_t np = r % 2;
  const int64_t kp = (r / 2) % 2;
  r /= 4;
  const int64_t nl = r % 16;
  r /= 16;
  const int64_t kl = r % 4;
  r /= 4;
  const int64_t k1 = r % (K / 256);
  r /= K / 256;  // e*(N/32) + n1
  const int64_t n1 = r % (N / 32);
  PreshuffleIndex idx;
  idx.e = r / (N / 32);
  idx.n = n1 * 32 + np * 16 + nl;
  idx.k = k1 * 8 + kp * 4 + kl;
  return idx;
}

std::vector<uint8_t> preshuffle_weights(std::span<const uint8_t> w, int64_t E, int64_t N, int64_t K) {
  return weights_impl("preshuffle_weights", w, E, N, K, true);
}

std::vector<uint8_t> unpreshuffle_weights(std::span<const uint8_t> w, int64_t E, int64_t N, int64_t K) {
  return weights_impl("unpreshuffle_weights", w, E, N, K, false);
}

std::vector<uint8_t> preshuffle_scales(std::span<const uint8_t> s, int64_t E, int64_t N, int64_t K) {
  return scales_impl("preshuffle_scales", s, E, N, K, true);
}

std::vector<uint8_t> unpreshuffle_scales(std::span<const uint8_t> s, int64_t E, int64_t N, int64_t K) {
  return scales_impl("unpreshuffle_scales", s, E, N, K, false);
}

}  // namespace tilejit::mxfp4
