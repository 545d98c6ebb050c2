// Shared helpers of the matrix tests: fresh seeds, bf16 bits, random operands, packing tiles by written-out lane formulas.
#pragma once
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "dsl/matrix/mma.h"

namespace tilejit::matrix::test {

/// A seed from std::random_device; tests print it on failure through SCOPED_TRACE.
inline uint32_t fresh_seed() { return std::random_device{}(); }

inline float bf16_value(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }
inline uint32_t f32_bits(float f) { return std::bit_cast<uint32_t>(f); }
inline float f32_from_bits(uint32_t u) { return std::bit_cast<float>(u); }

/// bf16 bits of a value that bf16 holds exactly (checked).
inline uint16_t exact_bf16(double v) {
  const float f = float(v);
  const uint32_t u = std::bit_cast<uint32_t>(f);
  EXPECT_EQ(double(f), v) << "not an f32 value: " << v;
  EXPECT_EQ(u & 0xFFFFu, 0u) << "not a bf16 value: " << v;
  return uint16_t(u >> 16);
}

/// A random finite bf16 with unbiased exponent in [lo, hi], random sign and mantissa;
/// about one in `special` draws is ±0 or a subnormal instead (0 = never).
inline uint16_t random_bf16(std::mt19937& rng, int lo, int hi, int special = 0) {
  std::uniform_int_distribution<int> exp(lo, hi), mant(0, 127), sign(0, 1);
  if (special) {
    std::uniform_int_distribution<int> pick(0, special * 2 - 1);
    const int p = pick(rng);
    if (p == 0) return uint16_t(sign(rng) << 15);                   // ±0
    if (p == 1) return uint16_t((sign(rng) << 15) | (1 + mant(rng) % 127));  // subnormal
  }
  return uint16_t((sign(rng) << 15) | ((exp(rng) + 127) << 7) | mant(rng));
}

/// Full operand tiles: A m×k, B k×n, C m×n, all row-major.
struct Tiles {
  std::vector<uint16_t> A, B;
  std::vector<float> C;
};

/// Per-lane operand vectors as emulate_mma takes them.
struct Packed {
  std::vector<uint16_t> a, b;
  std::vector<float> c;
};

/// Lane maps written out here from the cited sources, independent of the table under test:
/// gfx950 from isa-semantics.md §1.2, sm_90 from the PTX ISA "Matrix Fragments for mma.m16n8k16".
struct WrittenLayout {
  Coord (*a)(int lane, int i);
  Coord (*b)(int lane, int i);
  Coord (*c)(int lane, int i);
};

inline WrittenLayout written_layout(MmaInstr instr) {
  if (instr == MmaInstr::Gfx950_F32_16x16x32_BF16) {
    return {
        [](int l, int i) { return Coord{l % 16, 8 * (l / 16) + i}; },  // A: m = l%16, k = 8(l/16)+i
        [](int l, int i) { return Coord{8 * (l / 16) + i, l % 16}; },  // B: n = l%16, k = 8(l/16)+i
        [](int l, int i) { return Coord{4 * (l / 16) + i, l % 16}; },  // C: n = l%16, m = 4(l/16)+i
    };
  }
  return {
      [](int l, int i) {  // PTX: row = groupID (+8 for a2,a3,a6,a7); col = 2·tig + (i&1) (+8 for i >= 4)
        const int group = l >> 2, tig = l % 4;
        const bool plus8_row = (i >= 2 && i < 4) || i >= 6;
        return Coord{group + (plus8_row ? 8 : 0), tig * 2 + (i & 1) + (i >= 4 ? 8 : 0)};
      },
      [](int l, int i) {  // PTX: row = 2·tig + (i&1) (+8 for i >= 2); col = groupID
        const int group = l >> 2, tig = l % 4;
        return Coord{tig * 2 + (i & 1) + (i >= 2 ? 8 : 0), group};
      },
      [](int l, int i) {  // PTX: row = groupID (+8 for i >= 2); col = 2·tig + (i&1)
        const int group = l >> 2, tig = l % 4;
        return Coord{group + (i >= 2 ? 8 : 0), tig * 2 + (i & 1)};
      },
  };
}

inline Packed pack(const MmaInfo& info, const Tiles& t) {
  const WrittenLayout w = written_layout(info.instr);
  Packed p{std::vector<uint16_t>(size_t(info.wave_size) * info.a_elems),
           std::vector<uint16_t>(size_t(info.wave_size) * info.b_elems),
           std::vector<float>(size_t(info.wave_size) * info.c_elems)};
  for (int l = 0; l < info.wave_size; ++l) {
    for (int i = 0; i < info.a_elems; ++i) {
      const Coord q = w.a(l, i);
      p.a[size_t(l) * info.a_elems + i] = t.A[size_t(q.row) * info.k + q.col];
    }
    for (int i = 0; i < info.b_elems; ++i) {
      const Coord q = w.b(l, i);
      p.b[size_t(l) * info.b_elems + i] = t.B[size_t(q.row) * info.n + q.col];
    }
    for (int i = 0; i < info.c_elems; ++i) {
      const Coord q = w.c(l, i);
      p.c[size_t(l) * info.c_elems + i] = t.C[size_t(q.row) * info.n + q.col];
    }
  }
  return p;
}

/// A poison pattern no model produces (a signalling NaN with a payload).
inline constexpr uint32_t kPoison = 0x7FA5A5A5u;

/// Runs emulate_mma on the packed tiles with a poisoned output and returns D as an m×n row-major
/// tile; fails the test if any output element was left unwritten.
inline std::vector<float> run_mma(MmaInstr instr, MmaNumerics numerics, const Tiles& t) {
  const MmaInfo& info = mma_info(instr);
  const Packed p = pack(info, t);
  std::vector<float> d(p.c.size(), f32_from_bits(kPoison));
  emulate_mma(instr, numerics, p.a.data(), p.b.data(), p.c.data(), d.data());
  const WrittenLayout w = written_layout(instr);
  std::vector<float> D(size_t(info.m) * info.n, f32_from_bits(kPoison));
  for (int l = 0; l < info.wave_size; ++l) {
    for (int i = 0; i < info.c_elems; ++i) {
      const float v = d[size_t(l) * info.c_elems + i];
      EXPECT_NE(f32_bits(v), kPoison) << info.name << ": lane " << l << " element " << i << " not written";
      const Coord q = w.c(l, i);
      D[size_t(q.row) * info.n + q.col] = v;
    }
  }
  return D;
}

/// Names of the enums, for messages.
inline const char* numerics_name(MmaNumerics n) {
  switch (n) {
    case MmaNumerics::Exact: return "Exact";
    case MmaNumerics::Sm90Truncate: return "Sm90Truncate";
    case MmaNumerics::Cdna3: return "Cdna3";
  }
  return "?";
}

}  // namespace tilejit::matrix::test
