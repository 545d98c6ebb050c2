// Shared GEMM tracing pieces: MMA geometry, the K-permuted operand fragments, the C epilogue.
#include "kernels/gemm/fragments.h"

#include "dsl/tile/bf16_words.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/layout.h"

namespace tilejit::kernels::gemm_detail {

using namespace dsl;
using ir::Scalar;
using ir::Type;

Geometry target_geometry() {
  Geometry g;
  g.wave = wave_size();
  g.amd = g.wave == 64;
  g.waves = kGemmThreads / g.wave;
  g.mma_n = g.amd ? 16 : 8;
  g.mma_k = g.amd ? 32 : 16;
  g.a_loads = g.amd ? 1 : 2;
  return g;
}

Value lane_row(const Value& lane) { return wave_size() == 64 ? urem(lane, 16) : udiv(lane, 4); }

Value lane_quarter(const Value& lane) { return wave_size() == 64 ? udiv(lane, 16) : urem(lane, 4); }

std::vector<Value> a_fragments(const std::vector<Value>& lo, const std::vector<Value>& hi) {
  if (wave_size() == 64) return lo;
  std::vector<Value> steps;
  for (size_t q = 0; q < lo.size(); ++q)
    for (int h = 0; h < 2; ++h)
      steps.push_back(tile::bf16_from_words({tile::bf16_word(lo[q], 2 * h), tile::bf16_word(hi[q], 2 * h), tile::bf16_word(lo[q], 2 * h + 1), tile::bf16_word(hi[q], 2 * h + 1)}));
  return steps;
}

std::vector<Value> b_fragments(const std::vector<Value>& vectors) {
  if (wave_size() == 64) return vectors;
  std::vector<Value> steps;
  for (const Value& v : vectors)
    for (int h = 0; h < 2; ++h) steps.push_back(tile::bf16_from_words({tile::bf16_word(v, 2 * h), tile::bf16_word(v, 2 * h + 1)}));
  return steps;
}

Accumulators::Accumulators(int m_tiles, int n_tiles) : m_tiles_(m_tiles), n_tiles_(n_tiles) {
  const int c_elems = tile::target_mma().c_elems;
  for (int i = 0; i < m_tiles * n_tiles; ++i) slots_.push_back(std::make_unique<Var<>>(splat(0.0f, c_elems)));
}

void mma_accumulate(Accumulators& acc, const std::vector<std::vector<Value>>& a_steps,
                    const std::vector<std::vector<Value>>& b_steps) {
  const int mts = acc.m_tiles(), nts = acc.n_tiles();
  std::vector<Value> sums;
  for (int mt = 0; mt < mts; ++mt)
    for (int nt = 0; nt < nts; ++nt) sums.push_back(acc.at(mt, nt));
  for (size_t step = 0; step < a_steps[0].size(); ++step)
    for (int mt = 0; mt < mts; ++mt)
      for (int nt = 0; nt < nts; ++nt) {
        Value& sum = sums[size_t(mt * nts + nt)];
        sum = tile::mma(a_steps[size_t(mt)][step], b_steps[size_t(nt)][step], sum);
      }
  for (int mt = 0; mt < mts; ++mt)
    for (int nt = 0; nt < nts; ++nt) acc.at(mt, nt) = sums[size_t(mt * nts + nt)];
}

void store_accumulators(Accumulators& acc, const Value& c_block, const Value& ldc, const Value& lane,
                        const Value& row_base, const Value& col_base, const Value& rows_valid, const Value& cols_valid) {
  const tile::MmaLayout& layout = tile::target_mma_layout();
  const matrix::MmaInfo& mma = tile::target_mma();
  const bool bf16_out = c_block.type().elem == Scalar::BF16;
  for (int mt = 0; mt < acc.m_tiles(); ++mt)
    for (int nt = 0; nt < acc.n_tiles(); ++nt) {
      Value v = acc.at(mt, nt);
      for (int e = 0; e < mma.c_elems; ++e) {
        Value m = row_base + (layout.c.row.emit(lane, e) + 16 * mt);
        Value n = col_base + (layout.c.col.emit(lane, e) + mma.n * nt);
        Value x = extract(v, e);
        if (bf16_out) x = cast(x, Type::scalar(Scalar::BF16));
        if_((m < rows_valid) & (n < cols_valid), [&] { store(c_block, m * ldc + n, x); });
      }
    }
}

}  // namespace tilejit::kernels::gemm_detail
