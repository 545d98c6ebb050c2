// The matrix-instruction table (one row per instruction) and the whole-wave MMA emulation built on it.
#include "dsl/matrix/mma.h"

#include <array>
#include <vector>

#include "dsl/error.h"

namespace tilejit::matrix {
namespace {

// v_mfma_f32_16x16x32_bf16 (gfx950), isa-semantics.md §1.2: 16 lanes along M (A) / N (B, C),
// the four 16-lane groups along K (A, B: 8 consecutive k per lane) or M (C: 4 consecutive m per lane).
constexpr MmaInfo kGfx950Bf16{
    MmaInstr::Gfx950_F32_16x16x32_BF16,
    "v_mfma_f32_16x16x32_bf16",
    Target::Gfx950,
    16, 16, 32,
    64,
    8, 8, 4,
    [](int lane, int i) { return Coord{lane % 16, 8 * (lane / 16) + i}; },  // A[m][k]
    [](int lane, int i) { return Coord{8 * (lane / 16) + i, lane % 16}; },  // B[k][n]
    [](int lane, int i) { return Coord{4 * (lane / 16) + i, lane % 16}; },  // C[m][n]
};

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 (sm_90), isa-semantics.md §5.1, with
// g = lane>>2, t = lane&3. A: a0 = {A(g,2t), A(g,2t+1)}, a1 = rows +8, a2 = cols +8, a3 = both;
// B: b0 = {B(2t,g), B(2t+1,g)}, b1 = rows +8; C: c0,c1 = C(g, 2t..2t+1), c2,c3 = rows +8.
constexpr MmaInfo kSm90Bf16{
    MmaInstr::Sm90_F32_16x8x16_BF16,
    "mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32",
    Target::Sm90a,
    16, 8, 16,
    32,
    8, 4, 4,
    [](int lane, int i) {
      const int g = lane >> 2, t = lane & 3;
      return Coord{g + 8 * ((i >> 1) & 1), 2 * t + (i & 1) + 8 * (i >> 2)};
    },
    [](int lane, int i) {
      const int g = lane >> 2, t = lane & 3;
      return Coord{2 * t + (i & 1) + 8 * (i >> 1), g};
    },
    [](int lane, int i) {
      const int g = lane >> 2, t = lane & 3;
      return Coord{g + 8 * (i >> 1), 2 * t + (i & 1)};
    },
};

constexpr std::array<MmaInfo, 2> kTable{kGfx950Bf16, kSm90Bf16};
static_assert(kTable[size_t(MmaInstr::Gfx950_F32_16x16x32_BF16)].instr == MmaInstr::Gfx950_F32_16x16x32_BF16);
static_assert(kTable[size_t(MmaInstr::Sm90_F32_16x8x16_BF16)].instr == MmaInstr::Sm90_F32_16x8x16_BF16);

}  // namespace

const MmaInfo& mma_info(MmaInstr instr) {
  const size_t i = size_t(instr);
  if (i >= kTable.size()) throw InternalError("mma_info: unknown matrix instruction");
  return kTable[i];
}

std::span<const MmaInfo> all_mma_infos() { return kTable; }

std::optional<MmaInstr> mma_for_target(Target target) {
  switch (target) {
    case Target::Gfx950: return MmaInstr::Gfx950_F32_16x16x32_BF16;
    case Target::Sm90a: return MmaInstr::Sm90_F32_16x8x16_BF16;
  }
  return std::nullopt;
}

MmaNumerics default_numerics(MmaInstr instr) {
  return mma_info(instr).target == Target::Gfx950 ? MmaNumerics::Cdna3 : MmaNumerics::Sm90Truncate;
}

void emulate_mma(MmaInstr instr, MmaNumerics numerics, const uint16_t* a, const uint16_t* b,
                 const float* c, float* d) {
  const MmaInfo& info = mma_info(instr);
  const int M = info.m, N = info.n, K = info.k;
  // Gather the tiles through the row's lane maps: A row-major [m][k], B column-major [n][k]
  // (so each dot product reads two contiguous K runs), C [m][n].
  std::vector<uint16_t> at(size_t(M) * K), bt(size_t(N) * K);
  std::vector<float> ct(size_t(M) * N);
  for (int lane = 0; lane < info.wave_size; ++lane) {
    for (int i = 0; i < info.a_elems; ++i) {
      const Coord p = info.a_at(lane, i);
      at[size_t(p.row) * K + p.col] = a[lane * info.a_elems + i];
    }
    for (int i = 0; i < info.b_elems; ++i) {
      const Coord p = info.b_at(lane, i);
      bt[size_t(p.col) * K + p.row] = b[lane * info.b_elems + i];
    }
    for (int i = 0; i < info.c_elems; ++i) {
      const Coord p = info.c_at(lane, i);
      ct[size_t(p.row) * N + p.col] = c[lane * info.c_elems + i];
    }
  }
  // Compute D and scatter it through the C map.
  for (int lane = 0; lane < info.wave_size; ++lane) {
    for (int i = 0; i < info.c_elems; ++i) {
      const Coord p = info.c_at(lane, i);
      d[lane * info.c_elems + i] =
          mma_dot(numerics, &at[size_t(p.row) * K], &bt[size_t(p.col) * K], K, ct[size_t(p.row) * N + p.col]);
    }
  }
}

}  // namespace tilejit::matrix
