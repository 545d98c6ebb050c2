// The three rounding models of an MMA dot product (exact, Hopper truncation, CDNA3 groups), in integer arithmetic.
#include <algorithm>
#include <array>
#include <bit>
#include <climits>
#include <cstdint>

#include "dsl/error.h"
#include "dsl/matrix/float_round.h"
#include "dsl/matrix/mma.h"

namespace tilejit::matrix {
namespace {

using detail::bit_length;
using detail::classify;
using detail::kBf16;
using detail::kF32;
using detail::Kind;
using detail::Round;
using detail::round_to_format;
using detail::split;

constexpr uint32_t kNvidiaNaN = 0x7FFFFFFFu;     // MMA-Sim's f32 NaN for NVIDIA MMAs [isa §5.1, SRC]
constexpr uint32_t kCanonicalNaN = 0x7FC00000u;  // Exact and Cdna3; the gfx950 NaN pattern is UNCONFIRMED

/// One exact addend: (-1)^neg · sig · 2^(exp - frac). `exp` is MMA-Sim's exponent of the term: the
/// sum of the inputs' unbiased exponents for a product (significand in [0,4)), the f32 exponent for C.
struct Term {
  bool neg;
  uint64_t sig;
  int exp;
  int frac;
};

/// The product of two finite bf16 values, exact: 8-bit × 8-bit significands, 14 fractional bits.
Term product(uint16_t a, uint16_t b) {
  auto sa = split(a, kBf16), sb = split(b, kBf16);
  return {sa.neg != sb.neg, uint64_t(sa.sig) * sb.sig, sa.exp + sb.exp, 2 * kBf16.frac_bits};
}

Term accumulator(uint32_t c) {
  auto sc = split(c, kF32);
  return {sc.neg, sc.sig, sc.exp, kF32.frac_bits};
}

/// The IEEE special cases of Σ a·b + c: NaN inputs, Inf·0, +Inf with −Inf. Returns the encoding
/// of the special result (NaN as `nan_bits`), or 0 when every input is finite.
uint32_t special_result(const uint16_t* a, const uint16_t* b, int k, uint32_t c, uint32_t nan_bits) {
  bool nan = false, pos_inf = false, neg_inf = false;
  auto is_zero = [](uint16_t v) { return (v & 0x7FFFu) == 0; };
  for (int i = 0; i < k; ++i) {
    Kind ka = classify(a[i], kBf16), kb = classify(b[i], kBf16);
    if (ka == Kind::NaN || kb == Kind::NaN) {
      nan = true;
    } else if (ka == Kind::Inf || kb == Kind::Inf) {
      if (is_zero(a[i]) || is_zero(b[i])) nan = true;  // Inf · 0
      else (((a[i] ^ b[i]) >> 15) ? neg_inf : pos_inf) = true;
    }
  }
  switch (classify(c, kF32)) {
    case Kind::NaN: nan = true; break;
    case Kind::Inf: ((c >> 31) ? neg_inf : pos_inf) = true; break;
    case Kind::Finite: break;
  }
  if (nan || (pos_inf && neg_inf)) return nan_bits;
  if (pos_inf) return 0x7F800000u;
  if (neg_inf) return 0xFF800000u;
  return 0;
}

/// sig · 2^sh truncated toward zero (sh may be negative).
uint64_t shift_trunc(uint64_t sig, int sh) {
  if (sh >= 0) return sig << sh;
  return -sh >= 64 ? 0 : sig >> -sh;
}

/// floor(v · 2^sh) for a signed v (sh may be negative).
int64_t shift_floor(int64_t v, int sh) {
  if (sh >= 0) return v * (int64_t(1) << sh);
  if (-sh >= 63) return v < 0 ? -1 : 0;
  return v >> -sh;  // arithmetic shift: floor (C++20)
}

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// ---------------------------------------------------------------------------------------------
// Exact: a two's-complement fixed-point accumulator wide enough for every bf16 product and f32 C.

class WideAccumulator {
 public:
  /// Weight of bit 0. The smallest addend is a product of two bf16 subnormals: 2^(-133-133) = 2^-266.
  static constexpr int kLsbExp = -280;

  /// Adds (-1)^neg · mag · 2^lsb_exp exactly (mag < 2^32, lsb_exp >= kLsbExp).
  void add(bool neg, uint64_t mag, int lsb_exp) {
    const int pos = lsb_exp - kLsbExp;
    const int limb = pos / 64, s = pos % 64;
    const uint64_t parts[2] = {mag << s, s ? mag >> (64 - s) : 0};
    uint64_t carry = 0;  // carry (add) or borrow (subtract)
    for (int j = limb; j < kLimbs; ++j) {
      const uint64_t addend = j - limb < 2 ? parts[j - limb] : 0;
      if (j - limb >= 2 && carry == 0) break;
      unsigned __int128 t;
      if (!neg) {
        t = (unsigned __int128)limbs_[j] + addend + carry;
        carry = uint64_t(t >> 64);
      } else {
        t = (unsigned __int128)limbs_[j] - addend - carry;
        carry = uint64_t(t >> 127);  // wrapped below zero
      }
      limbs_[j] = uint64_t(t);
    }
  }

  /// The sum rounded once to f32, RNE; a zero sum is -0 when zero_is_negative.
  uint32_t round_f32(bool zero_is_negative) const {
    std::array<uint64_t, kLimbs> v = limbs_;
    const bool neg = v[kLimbs - 1] >> 63;
    if (neg) {  // magnitude of a negative two's-complement number
      uint64_t carry = 1;
      for (auto& l : v) {
        l = ~l + carry;
        carry = (carry && l == 0) ? 1 : 0;
      }
    }
    int top = kLimbs - 1;
    while (top >= 0 && v[top] == 0) --top;
    if (top < 0) return zero_is_negative ? 0x80000000u : 0u;
    const int t = top * 64 + 63 - std::countl_zero(v[top]);  // index of the leading bit
    if (t <= 62) return round_to_format(v[0], kLsbExp, neg, kF32, Round::NearestEven);
    // Keep the 63 leading bits and fold everything below into a sticky bit: f32 needs 24 bits plus
    // a round bit, so the sticky bit never sits at the rounding position.
    const int start = t - 62;
    const int li = start / 64, s = start % 64;
    uint64_t window = v[li] >> s;
    if (s && li + 1 < kLimbs) window |= v[li + 1] << (64 - s);
    window &= (uint64_t(1) << 63) - 1;
    bool sticky = s && (v[li] & ((uint64_t(1) << s) - 1));
    for (int j = 0; j < li; ++j) sticky = sticky || v[j];
    return round_to_format(((unsigned __int128)window << 1) | sticky, kLsbExp + start - 1, neg, kF32,
                           Round::NearestEven);
  }

 private:
  static constexpr int kLimbs = 10;  // 640 bits: products reach 2^256, times k terms
  std::array<uint64_t, kLimbs> limbs_{};
};

uint32_t dot_exact(const uint16_t* a, const uint16_t* b, int k, uint32_t c) {
  if (uint32_t s = special_result(a, b, k, c, kCanonicalNaN)) return s;
  WideAccumulator acc;
  bool all_negative_zero = true;  // IEEE: an exact zero sum is -0 only when every addend is -0
  auto add = [&](const Term& t) {
    all_negative_zero = all_negative_zero && t.sig == 0 && t.neg;
    if (t.sig) acc.add(t.neg, t.sig, t.exp - t.frac);
  };
  for (int i = 0; i < k; ++i) add(product(a[i], b[i]));
  add(accumulator(c));
  return acc.round_f32(all_negative_zero);
}

// ---------------------------------------------------------------------------------------------
// Sm90Truncate: MMA-Sim nv_fused_dot_add with 25 fractional bits (Hopper), f32 output truncated.

uint32_t dot_sm90(const uint16_t* a, const uint16_t* b, int k, uint32_t c) {
  constexpr int kFrac = 25;
  // Step 0: NaN -> 0x7FFFFFFF; otherwise an infinite input gives the infinite sum.
  if (uint32_t s = special_result(a, b, k, c, kNvidiaNaN)) return s;
  // Step 1: every product (exact) and C as (sign, significand, exponent). Zero terms take no part
  // in the alignment (MMA-Sim gives them an exponent far below any other).
  const Term ct = accumulator(c);
  int max_exp = ct.sig ? ct.exp : INT_MIN;
  for (int i = 0; i < k; ++i) {
    const Term p = product(a[i], b[i]);
    if (p.sig) max_exp = std::max(max_exp, p.exp);
  }
  if (max_exp == INT_MIN) return 0;  // all addends zero: the model returns +0
  // Step 2: align each term to 2^max_exp, keep 25 fractional bits, truncating toward zero;
  // Step 3: sum the truncated terms exactly (each is below 2^27 units of 2^(max_exp-25)).
  int64_t sum = 0;
  auto add = [&](const Term& t) {
    if (!t.sig) return;
    const int64_t v = int64_t(shift_trunc(t.sig, kFrac + t.exp - max_exp - t.frac));
    sum += t.neg ? -v : v;
  };
  for (int i = 0; i < k; ++i) add(product(a[i], b[i]));
  add(ct);
  // Step 4: normalise and truncate (RZ) to f32, subnormals kept, overflow gives Inf. Every zero
  // result is +0: the model truncates with Python's int(), which has no -0.
  const bool neg = sum < 0;
  const uint32_t r = round_to_format(uint64_t(neg ? -sum : sum), max_exp - kFrac, neg, kF32, Round::TowardZero);
  return r == 0x80000000u ? 0u : r;
}

// ---------------------------------------------------------------------------------------------
// Cdna3: MMA-Sim amd_fused_dot_add (bf16, CDNA3): groups of 8 products in K order.

constexpr int kCdna3Group = 8;  // min(8, K) for CDNA3 bf16; 8 or 16 for gfx950 is UNCONFIRMED

uint32_t dot_cdna3_group(const uint16_t* a, const uint16_t* b, int g, uint32_t acc) {
  constexpr int kFrac = 24;     // fractional bits kept per product inside the group
  constexpr int kSumFrac = 31;  // fractional bits of the group sum at the common exponent
  // Step 0: NaN and infinite inputs (including an infinite accumulator from an earlier group).
  if (uint32_t s = special_result(a, b, g, acc, kCanonicalNaN)) return s;
  // Step 1: products at or above 2^128 count as ±Inf (they overflow the f32 datapath).
  bool pos_inf = false, neg_inf = false;
  Term prods[kCdna3Group];
  for (int i = 0; i < g; ++i) {
    prods[i] = product(a[i], b[i]);
    if (prods[i].sig && prods[i].exp - prods[i].frac + bit_length(prods[i].sig) - 1 >= 128)
      (prods[i].neg ? neg_inf : pos_inf) = true;
  }
  if (pos_inf && neg_inf) return kCanonicalNaN;
  if (pos_inf) return 0x7F800000u;
  if (neg_inf) return 0xFF800000u;
  // Step 2: align the non-zero products to the group's largest product exponent e, truncate each
  // toward zero to 24 fractional bits and sum exactly: s (units of 2^(e-24)).
  int e = INT_MIN;
  for (int i = 0; i < g; ++i)
    if (prods[i].sig) e = std::max(e, prods[i].exp);
  int64_t s = 0;
  if (e != INT_MIN) {
    for (int i = 0; i < g; ++i) {
      if (!prods[i].sig) continue;
      const int64_t v = int64_t(shift_trunc(prods[i].sig, kFrac + prods[i].exp - e - prods[i].frac));
      s += prods[i].neg ? -v : v;
    }
  }
  // Step 3: E = max(e, exp(acc)). Floor s to 31 fractional bits at E and the accumulator to 24
  // fractional bits at E (both toward -Inf).
  const Term c = accumulator(acc);
  const int ec = c.sig ? c.exp : INT_MIN;
  const int E = std::max(e, ec);
  if (E == INT_MIN) return 0;  // all zero: +0
  const int64_t s31 = e == INT_MIN ? 0 : shift_floor(s, kSumFrac - kFrac + e - E);
  const int64_t c_signed = c.neg ? -int64_t(c.sig) : int64_t(c.sig);
  const int64_t c24 = ec == INT_MIN ? 0 : shift_floor(c_signed, kFrac - c.frac + ec - E);
  // Step 4: add (units of 2^(E-31)) and round once to f32, RNE.
  const int64_t total = s31 + c24 * (int64_t(1) << (kSumFrac - kFrac));
  const bool neg = total < 0;
  return round_to_format(uint64_t(neg ? -total : total), E - kSumFrac, neg, kF32, Round::NearestEven);
}

uint32_t dot_cdna3(const uint16_t* a, const uint16_t* b, int k, uint32_t c) {
  uint32_t acc = c;
  for (int i = 0; i < k; i += kCdna3Group) acc = dot_cdna3_group(a + i, b + i, std::min(kCdna3Group, k - i), acc);
  return acc;
}

}  // namespace

float mma_dot(MmaNumerics numerics, const uint16_t* a, const uint16_t* b, int k, float c) {
  const uint32_t cb = std::bit_cast<uint32_t>(c);
  switch (numerics) {
    case MmaNumerics::Exact: return from_bits(dot_exact(a, b, k, cb));
    case MmaNumerics::Sm90Truncate: return from_bits(dot_sm90(a, b, k, cb));
    case MmaNumerics::Cdna3: return from_bits(dot_cdna3(a, b, k, cb));
  }
  throw InternalError("mma_dot: unknown numerics model");
}

}  // namespace tilejit::matrix
