// The lane-layout terms of each matrix instruction (checked against dsl/matrix in tests/tile).
#include "dsl/tile/layout.h"

#include "dsl/ops.h"

namespace tilejit::tile {

using matrix::MmaInstr;

namespace {
Term lane(int div, int mod, int scale) { return {Term::Lane, div, mod, scale}; }
Term elem(int div, int mod, int scale) { return {Term::Elem, div, mod, scale}; }

// isa-semantics.md §1.2: A[m][k] at lane m + 16*(k/8), element k%8; B[k][n] at lane
// n + 16*(k/8), element k%8; D[m][n] at lane n + 16*(m/4), element m%4.
const MmaLayout kGfx950{MmaInstr::Gfx950_F32_16x16x32_BF16,
                        {{{lane(1, 16, 1)}}, {{lane(16, 0, 8), elem(1, 0, 1)}}},
                        {{{lane(16, 0, 8), elem(1, 0, 1)}}, {{lane(1, 16, 1)}}},
                        {{{lane(16, 0, 4), elem(1, 0, 1)}}, {{lane(1, 16, 1)}}}};

// isa-semantics.md §5.1 with g = lane / 4, t = lane % 4: A element e = (g + 8*((e/2)%2),
// 2t + e%2 + 8*(e/4)); B element e = (2t + e%2 + 8*(e/2), g); C element e = (g + 8*(e/2), 2t + e%2).
const MmaLayout kSm90{MmaInstr::Sm90_F32_16x8x16_BF16,
                      {{{lane(4, 0, 1), elem(2, 2, 8)}}, {{lane(1, 4, 2), elem(1, 2, 1), elem(4, 0, 8)}}},
                      {{{lane(1, 4, 2), elem(1, 2, 1), elem(2, 0, 8)}}, {{lane(4, 0, 1)}}},
                      {{{lane(4, 0, 1), elem(2, 0, 8)}}, {{lane(1, 4, 2), elem(1, 2, 1)}}}};

int apply(const Term& t, int x) {
  int v = x / t.div;
  if (t.mod) v %= t.mod;
  return v * t.scale;
}
}  // namespace

int CoordMap::eval(int lane_index, int element) const {
  int sum = 0;
  for (const Term& t : terms) sum += apply(t, t.source == Term::Lane ? lane_index : element);
  return sum;
}

dsl::Value CoordMap::emit(const dsl::Value& lane_value, int element, const dsl::SrcLoc& loc) const {
  int constant = 0;
  std::optional<dsl::Value> sum;
  for (const Term& t : terms) {
    if (t.source == Term::Elem) {
      constant += apply(t, element);
      continue;
    }
    dsl::Value v = lane_value;
    if (t.div != 1) v = dsl::udiv(dsl::Arg(v, loc), dsl::Arg(t.div, loc), loc);
    if (t.mod) v = dsl::urem(dsl::Arg(v, loc), dsl::Arg(t.mod, loc), loc);
    if (t.scale != 1) v = dsl::Value(dsl::Arg(v, loc) * dsl::Arg(t.scale, loc));
    sum = sum ? dsl::Value(dsl::Arg(*sum, loc) + dsl::Arg(v, loc)) : v;
  }
  if (!sum) return dsl::Arg(constant, loc).as(ir::Type::scalar(ir::Scalar::I32));
  return constant ? dsl::Value(dsl::Arg(*sum, loc) + dsl::Arg(constant, loc)) : *sum;
}

const MmaLayout& mma_layout(MmaInstr instr) {
  return instr == MmaInstr::Gfx950_F32_16x16x32_BF16 ? kGfx950 : kSm90;
}

const matrix::MmaInfo& target_mma() {
  auto instr = matrix::mma_for_target(dsl::target().target);
  if (!instr) throw UserError(std::string("no bf16 MMA instruction on ") + std::string(dsl::target().name));
  return matrix::mma_info(*instr);
}

const MmaLayout& target_mma_layout() { return mma_layout(target_mma().instr); }

}  // namespace tilejit::tile
