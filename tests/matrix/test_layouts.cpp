// Tests of the matrix-instruction table: metadata, bijective lane maps, and each row against independent witnesses.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "dsl/matrix/mma.h"
#include "dsl/target.h"
#include "matrix_test_util.h"

namespace tilejit::matrix::test {
namespace {

using Map = std::function<Coord(int lane, int elem)>;
enum class Operand { A, B, C };

const char* operand_name(Operand o) { return o == Operand::A ? "A" : o == Operand::B ? "B" : "C/D"; }

/// The register that holds element `elem` of an operand: bf16 elements pack two per 32-bit register.
std::string register_of(Operand o, int elem) {
  if (o == Operand::C) return fmt::format("register {} (f32)", elem);
  return fmt::format("register {} bits [{}:{}]", elem / 2, 16 * (elem % 2) + 15, 16 * (elem % 2));
}

std::string shape_of(const MmaInfo& info) { return fmt::format("{} ({}x{}x{})", info.name, info.m, info.n, info.k); }

/// Every (lane, element) where the table's map and a witness disagree, one message each naming
/// the shape, the operand, the lane and the register.
std::vector<std::string> disagreements(const MmaInfo& info, Operand o, const Map& table, const Map& witness,
                                       const std::string& witness_name) {
  const int elems = o == Operand::A ? info.a_elems : o == Operand::B ? info.b_elems : info.c_elems;
  std::vector<std::string> out;
  for (int lane = 0; lane < info.wave_size; ++lane) {
    for (int e = 0; e < elems; ++e) {
      const Coord t = table(lane, e), w = witness(lane, e);
      if (!(t == w))
        out.push_back(fmt::format("{} operand {} lane {} element {} ({}): table ({}, {}) but {} says ({}, {})",
                                  shape_of(info), operand_name(o), lane, e, register_of(o, e), t.row, t.col,
                                  witness_name, w.row, w.col));
    }
  }
  return out;
}

void expect_agrees(const MmaInfo& info, Operand o, const Map& witness, const std::string& witness_name) {
  const Map table = o == Operand::A ? Map(info.a_at) : o == Operand::B ? Map(info.b_at) : Map(info.c_at);
  const auto bad = disagreements(info, o, table, witness, witness_name);
  for (size_t i = 0; i < bad.size() && i < 8; ++i) ADD_FAILURE() << bad[i];
  EXPECT_TRUE(bad.empty()) << bad.size() << " disagreements with " << witness_name;
}

const MmaInfo& gfx950() { return mma_info(MmaInstr::Gfx950_F32_16x16x32_BF16); }
const MmaInfo& sm90() { return mma_info(MmaInstr::Sm90_F32_16x8x16_BF16); }

// ---------------------------------------------------------------------------------------------
// The table's rows.

TEST(MmaTable, RowsDescribeTheirInstructions) {
  ASSERT_EQ(all_mma_infos().size(), 2u);
  for (size_t i = 0; i < all_mma_infos().size(); ++i) {
    const MmaInfo& info = all_mma_infos()[i];
    SCOPED_TRACE(std::string(info.name));
    EXPECT_EQ(size_t(info.instr), i);
    EXPECT_EQ(&mma_info(info.instr), &info);
    EXPECT_EQ(info.wave_size, target_info(info.target).wave_size);
    // Each lane holds an equal share of every tile.
    EXPECT_EQ(info.wave_size * info.a_elems, info.m * info.k);
    EXPECT_EQ(info.wave_size * info.b_elems, info.k * info.n);
    EXPECT_EQ(info.wave_size * info.c_elems, info.m * info.n);
  }
  EXPECT_EQ(gfx950().name, "v_mfma_f32_16x16x32_bf16");
  EXPECT_EQ(gfx950().target, Target::Gfx950);
  EXPECT_EQ((std::tuple{gfx950().m, gfx950().n, gfx950().k}), (std::tuple{16, 16, 32}));
  EXPECT_EQ((std::tuple{gfx950().a_elems, gfx950().b_elems, gfx950().c_elems}), (std::tuple{8, 8, 4}));
  EXPECT_EQ(sm90().name, "mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32");
  EXPECT_EQ(sm90().target, Target::Sm90a);
  EXPECT_EQ((std::tuple{sm90().m, sm90().n, sm90().k}), (std::tuple{16, 8, 16}));
  EXPECT_EQ((std::tuple{sm90().a_elems, sm90().b_elems, sm90().c_elems}), (std::tuple{8, 4, 4}));
}

TEST(MmaTable, EachTargetHasItsBf16Mma) {
  EXPECT_EQ(mma_for_target(Target::Gfx950), MmaInstr::Gfx950_F32_16x16x32_BF16);
  EXPECT_EQ(mma_for_target(Target::Sm90a), MmaInstr::Sm90_F32_16x8x16_BF16);
  EXPECT_EQ(default_numerics(MmaInstr::Gfx950_F32_16x16x32_BF16), MmaNumerics::Cdna3);
  EXPECT_EQ(default_numerics(MmaInstr::Sm90_F32_16x8x16_BF16), MmaNumerics::Sm90Truncate);
}

TEST(MmaLayout, EveryLaneMapIsABijectionOntoItsTile) {
  for (const MmaInfo& info : all_mma_infos()) {
    const struct {
      Operand o;
      int elems, rows, cols;
    } ops[] = {{Operand::A, info.a_elems, info.m, info.k},
               {Operand::B, info.b_elems, info.k, info.n},
               {Operand::C, info.c_elems, info.m, info.n}};
    for (const auto& op : ops) {
      const Map map = op.o == Operand::A ? Map(info.a_at) : op.o == Operand::B ? Map(info.b_at) : Map(info.c_at);
      std::vector<int> hits(size_t(op.rows) * op.cols, 0);
      for (int lane = 0; lane < info.wave_size; ++lane) {
        for (int e = 0; e < op.elems; ++e) {
          const Coord p = map(lane, e);
          const bool inside = p.row >= 0 && p.row < op.rows && p.col >= 0 && p.col < op.cols;
          ASSERT_TRUE(inside) << shape_of(info) << " operand " << operand_name(op.o) << " lane " << lane
                              << " element " << e << " maps outside the tile to (" << p.row << ", " << p.col << ")";
          ++hits[size_t(p.row) * op.cols + p.col];
        }
      }
      // Onto and one-to-one: the counts match the tile size, so every cell once means a bijection.
      for (int r = 0; r < op.rows; ++r)
        for (int c = 0; c < op.cols; ++c)
          EXPECT_EQ(hits[size_t(r) * op.cols + c], 1)
              << shape_of(info) << " operand " << operand_name(op.o) << " cell (" << r << ", " << c << ")";
    }
  }
}

// ---------------------------------------------------------------------------------------------
// gfx950 witness 1: CK Tile. ROCm/composable_kernel include/ck_tile/ops/gemm/warp/
// warp_gemm_attribute_mfma_impl.hpp (WarpGemmAttributeMfmaImplBf16Bf16F32M16N16K32) gives the
// constants; warp_gemm_attribute_mfma.hpp turns them into tile_distribution_encodings:
//   A: Hs = <kAMLane>, <kABKLane, kABKPerLane>; P0 = (2,0),(1,0); Y = (2,1)
//   B: Hs = <kBNLane>, <kABKLane, kABKPerLane>; P0 = (2,0),(1,0); Y = (2,1)
//   C: Hs = <kCM0PerLane, kCMLane, kCM1PerLane>, <kCNLane>; P0 = (1,1),(2,0); Y = (1,0),(1,2)
// An encoding is evaluated here: the lane index is split over the P0 components and the register
// index over the Y components (first listed = most significant), and each tensor dimension is the
// mixed-radix number of its H components (first = most significant).

constexpr int kAMLane = 16, kBNLane = 16, kABKLane = 4, kABKPerLane = 8;
constexpr int kCMLane = 4, kCNLane = 16, kCM0PerLane = 1, kCM1PerLane = 4;

struct CkEncoding {
  std::vector<std::vector<int>> hs;       // per tensor dimension (major 1, 2), component lengths
  std::vector<std::pair<int, int>> p0;    // (major, minor) components of the lane index
  std::vector<std::pair<int, int>> ys;    // (major, minor) components of the register index
};

Coord ck_eval(const CkEncoding& enc, int lane, int reg) {
  std::vector<std::vector<int>> idx(enc.hs.size());
  for (size_t d = 0; d < enc.hs.size(); ++d) idx[d].assign(enc.hs[d].size(), 0);
  auto split = [&](int value, const std::vector<std::pair<int, int>>& comps) {
    for (size_t j = comps.size(); j-- > 0;) {
      const auto [major, minor] = comps[j];
      const int len = enc.hs[major - 1][minor];
      idx[major - 1][minor] = value % len;
      value /= len;
    }
    EXPECT_EQ(value, 0) << "index beyond the encoding";
  };
  split(lane, enc.p0);
  split(reg, enc.ys);
  int coord[2] = {0, 0};
  for (size_t d = 0; d < 2; ++d)
    for (size_t c = 0; c < enc.hs[d].size(); ++c) coord[d] = coord[d] * enc.hs[d][c] + idx[d][c];
  return {coord[0], coord[1]};
}

TEST(Gfx950Layout, AgreesWithCkTileEncodings) {
  const CkEncoding a{{{kAMLane}, {kABKLane, kABKPerLane}}, {{2, 0}, {1, 0}}, {{2, 1}}};
  const CkEncoding b{{{kBNLane}, {kABKLane, kABKPerLane}}, {{2, 0}, {1, 0}}, {{2, 1}}};
  const CkEncoding c{{{kCM0PerLane, kCMLane, kCM1PerLane}, {kCNLane}}, {{1, 1}, {2, 0}}, {{1, 0}, {1, 2}}};
  expect_agrees(gfx950(), Operand::A, [&](int l, int e) { return ck_eval(a, l, e); }, "CK Tile");
  expect_agrees(gfx950(), Operand::B, [&](int l, int e) {  // CK's B encoding is (n, k)
    const Coord nk = ck_eval(b, l, e);
    return Coord{nk.col, nk.row};
  }, "CK Tile");
  expect_agrees(gfx950(), Operand::C, [&](int l, int e) { return ck_eval(c, l, e); }, "CK Tile");
}

// ---------------------------------------------------------------------------------------------
// gfx950 witness 2: Triton. triton-lang/triton lib/Dialect/TritonGPU/IR/LinearLayoutConversions.cpp:
//   mfmaDotToLinearLayout: regs = identity1D(kWidth, register, K);
//                          lanes = identity1D(nonKDim, lane, nonK) * identity1D(64/nonKDim, lane, K)
//   AMDMfmaEncodingAttr::toLinearLayout (not transposed): regs = identity1D(4, register, M);
//                          lanes = identity1D(nDim, lane, N) * identity1D(64/nDim, lane, M)
// with kWidth = 8, nonKDim = mDim = nDim = 16. A linear layout maps an input index to the XOR of
// the bases of its set bits. In a product L1 * L2 the input dimensions' bases are concatenated
// (L1's first), and L2's bases are multiplied by L1's size in each output dimension they share,
// so "regs * lanes" puts the lanes' K bases above the 8 register values.

struct TritonLayout {
  std::map<std::string, std::vector<std::array<int, 2>>> bases;  // per input dimension, bit by bit
  std::array<int, 2> out_size{1, 1};                             // sizes of the two output dimensions
};

/// LinearLayout::identity1D(size, in, out): bases 1, 2, 4, ... along output dimension `out`.
TritonLayout identity1d(int size, const std::string& in, int out) {
  TritonLayout l;
  auto& b = l.bases[in];
  for (int v = 1; v < size; v *= 2) b.push_back(out == 0 ? std::array{v, 0} : std::array{0, v});
  l.out_size[out] = size;
  return l;
}

TritonLayout operator*(TritonLayout a, const TritonLayout& b) {
  for (const auto& [in, bs] : b.bases)
    for (const auto& v : bs) a.bases[in].push_back({v[0] * a.out_size[0], v[1] * a.out_size[1]});
  a.out_size = {a.out_size[0] * b.out_size[0], a.out_size[1] * b.out_size[1]};
  return a;
}

std::array<int, 2> apply(const TritonLayout& l, int reg, int lane) {
  std::array<int, 2> r{0, 0};
  for (const auto& [in, index] : {std::pair{std::string("register"), reg}, std::pair{std::string("lane"), lane}}) {
    const auto it = l.bases.find(in);
    const size_t n = it == l.bases.end() ? 0 : it->second.size();
    EXPECT_LT(index, 1 << n) << in << " index beyond the layout";
    for (size_t bit = 0; bit < n; ++bit)
      if ((index >> bit) & 1) r = {r[0] ^ it->second[bit][0], r[1] ^ it->second[bit][1]};
  }
  return r;
}

TEST(Gfx950Layout, AgreesWithTritonLinearLayouts) {
  constexpr int kWidth = 8, nonKDim = 16, warpSize = 64;
  constexpr int K = 0, NonK = 1;  // operand output dimensions (A: non-K = M, B: non-K = N)
  const TritonLayout regs = identity1d(kWidth, "register", K);
  const TritonLayout lanes = identity1d(nonKDim, "lane", NonK) * identity1d(warpSize / nonKDim, "lane", K);
  const TritonLayout op = regs * lanes;
  expect_agrees(gfx950(), Operand::A, [&](int l, int e) { auto p = apply(op, e, l); return Coord{p[NonK], p[K]}; },
                "Triton mfmaDotToLinearLayout");
  expect_agrees(gfx950(), Operand::B, [&](int l, int e) { auto p = apply(op, e, l); return Coord{p[K], p[NonK]}; },
                "Triton mfmaDotToLinearLayout");
  // Accumulator: output dimensions M and N.
  constexpr int height = 4, nDim = 16, M = 0, N = 1;
  const TritonLayout c = identity1d(height, "register", M) *
                         (identity1d(nDim, "lane", N) * identity1d(warpSize / nDim, "lane", M));
  expect_agrees(gfx950(), Operand::C, [&](int l, int e) { auto p = apply(c, e, l); return Coord{p[M], p[N]}; },
                "Triton AMDMfmaEncodingAttr::toLinearLayout");
}

// ---------------------------------------------------------------------------------------------
// gfx950 witness 3: the AMD matrix instruction calculator (ROCm/amd_matrix_instruction_calculator,
// -a cdna3 -i v_mfma_f32_16x16x16_bf16 -d), whose formulas are in registers and bits:
//   A i: (lane % 16)          A k: 4 * floor(lane / 16) + 2 * GPR_num + floor(GPR_bits / 16)
//   B j: (lane % 16)          B k: 4 * floor(lane / 16) + 2 * GPR_num + floor(GPR_bits / 16)
//   C or D i: 4 * floor(lane / 16) + (GPR_num % 4)       C or D j: (lane % 16)
// Generalised to 16x16x32 the only change is 8 k per lane instead of 4 (8 * floor(lane / 16)).

TEST(Gfx950Layout, AgreesWithTheMatrixCalculatorFormulas) {
  constexpr int k_per_lane = 8;  // 4 for CDNA3's 16x16x16
  auto gpr_num = [](int elem) { return elem / 2; };        // two bf16 per VGPR
  auto gpr_bits = [](int elem) { return 16 * (elem % 2); };  // element 0 in the low half
  auto ab_k = [&](int lane, int e) { return k_per_lane * (lane / 16) + 2 * gpr_num(e) + gpr_bits(e) / 16; };
  expect_agrees(gfx950(), Operand::A, [&](int l, int e) { return Coord{l % 16, ab_k(l, e)}; },
                "matrix calculator");
  expect_agrees(gfx950(), Operand::B, [&](int l, int e) { return Coord{ab_k(l, e), l % 16}; },
                "matrix calculator");
  expect_agrees(gfx950(), Operand::C, [&](int l, int e) { return Coord{4 * (l / 16) + (e % 4), l % 16}; },
                "matrix calculator");
}

TEST(Gfx950Layout, AgreesWithTheIsaSemanticsTable) {
  const WrittenLayout w = written_layout(MmaInstr::Gfx950_F32_16x16x32_BF16);
  expect_agrees(gfx950(), Operand::A, w.a, "isa-semantics §1.2");
  expect_agrees(gfx950(), Operand::B, w.b, "isa-semantics §1.2");
  expect_agrees(gfx950(), Operand::C, w.c, "isa-semantics §1.2");
}

// ---------------------------------------------------------------------------------------------
// sm_90 witnesses: the PTX ISA fragment formulas (element-indexed), and the register table of
// isa-semantics.md §5.1 (each .b32 register holds {lower element in bits 15:0, next in 31:16}).

TEST(Sm90Layout, AgreesWithThePtxFragmentFormulas) {
  const WrittenLayout w = written_layout(MmaInstr::Sm90_F32_16x8x16_BF16);
  expect_agrees(sm90(), Operand::A, w.a, "PTX ISA mma.m16n8k16 fragments");
  expect_agrees(sm90(), Operand::B, w.b, "PTX ISA mma.m16n8k16 fragments");
  expect_agrees(sm90(), Operand::C, w.c, "PTX ISA mma.m16n8k16 fragments");
}

TEST(Sm90Layout, AgreesWithTheHardwareCheckedRegisterTable) {
  // a0 = A(g,2t),A(g,2t+1); a1 = A(g+8,..); a2 = A(g,2t+8),..; a3 = A(g+8,2t+8),..
  const int a_row_off[4] = {0, 8, 0, 8}, a_col_off[4] = {0, 0, 8, 8};
  // b0 = B(2t,g),B(2t+1,g); b1 = B(2t+8,g),B(2t+9,g)
  const int b_row_off[2] = {0, 8};
  expect_agrees(sm90(), Operand::A, [&](int l, int e) {
    const int g = l >> 2, t = l & 3, reg = e / 2, half = e % 2;
    return Coord{g + a_row_off[reg], 2 * t + half + a_col_off[reg]};
  }, "isa-semantics §5.1 register table");
  expect_agrees(sm90(), Operand::B, [&](int l, int e) {
    const int g = l >> 2, t = l & 3, reg = e / 2, half = e % 2;
    return Coord{2 * t + half + b_row_off[reg], g};
  }, "isa-semantics §5.1 register table");
  // c0, c1 = C(g, 2t), C(g, 2t+1); c2, c3 = C(g+8, 2t), C(g+8, 2t+1)
  expect_agrees(sm90(), Operand::C, [&](int l, int e) {
    const int g = l >> 2, t = l & 3;
    return Coord{g + (e >= 2 ? 8 : 0), 2 * t + (e & 1)};
  }, "isa-semantics §5.1 register table");
}

// The comparison itself: a witness that differs in one register is reported with the shape, the
// operand, the lane and the register.
TEST(LayoutWitness, ADisagreementNamesShapeLaneAndRegister) {
  const MmaInfo& info = gfx950();
  const Map table = info.a_at;
  const Map swapped = [&](int lane, int e) {  // swaps the halves of VGPR 1 in lane 17 only
    if (lane == 17 && (e == 2 || e == 3)) return info.a_at(lane, e ^ 1);
    return info.a_at(lane, e);
  };
  const auto bad = disagreements(info, Operand::A, table, swapped, "a test witness");
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_NE(bad[0].find("16x16x32"), std::string::npos) << bad[0];
  EXPECT_NE(bad[0].find("lane 17"), std::string::npos) << bad[0];
  EXPECT_NE(bad[0].find("register 1 bits [15:0]"), std::string::npos) << bad[0];
  EXPECT_NE(bad[1].find("register 1 bits [31:16]"), std::string::npos) << bad[1];
  EXPECT_TRUE(disagreements(info, Operand::A, table, table, "itself").empty());
}

}  // namespace
}  // namespace tilejit::matrix::test
