// Pieces both GEMM kernels share while tracing: the target's MMA geometry, the K permutation
// that lets every lane load 16-byte vectors, operand fragments and the masked C epilogue.
//
// K permutation: within one pipeline stage of tile_k values, the lane's K quarter q (gfx950:
// lane / 16; sm_90a: lane % 4) holds the contiguous K range [q * tile_k/4, (q+1) * tile_k/4),
// loaded as 16-byte vectors and consumed in order by the MMA k-steps: gfx950 step s feeds the
// 8 values q*tile_k/4 + s*8 + 0..7 as MMA k = 8q + 0..7; sm_90a step s feeds q*tile_k/4 +
// s*4 + 0..3 as MMA k = 2q, 2q+1, 2q+8, 2q+9. A and B use the same permutation, so the dot
// products are unchanged.
#pragma once
#include <memory>
#include <vector>

#include "dsl/tilejit.h"
#include "kernels/gemm/config.h"

namespace tilejit::kernels::gemm_detail {

/// The MMA shape of the target being traced.
struct Geometry {
  bool amd = false;  ///< gfx950 (wave64, 16x16x32 MFMA) or sm_90a (warp32, m16n8k16)
  int wave = 0;      ///< lanes per wave
  int waves = 0;     ///< waves per block (kGemmThreads / wave)
  int mma_n = 0;     ///< columns per MMA tile (16 / 8)
  int mma_k = 0;     ///< K per MMA step (32 / 16)
  int a_loads = 0;   ///< 16-byte A vectors per lane and 16-row tile per 32 K (1 / 2: rows g and g+8)
};
Geometry target_geometry();

/// The row of a 16-row A tile (or the column of a B tile) whose data this lane loads:
/// gfx950 lane % 16; sm_90a lane / 4 (and that + 8 for the second A vector).
dsl::Value lane_row(const dsl::Value& lane);
/// The K quarter this lane holds within a stage: gfx950 lane / 16; sm_90a lane % 4.
dsl::Value lane_quarter(const dsl::Value& lane);

/// A operands per MMA k-step from this lane's 16-byte <8 x bf16> vectors in K order: `lo`
/// are the vectors of row lane_row, `hi` those of row lane_row + 8 (sm_90a only; empty on gfx950).
std::vector<dsl::Value> a_fragments(const std::vector<dsl::Value>& lo, const std::vector<dsl::Value>& hi);
/// B operands per MMA k-step from this lane's 16-byte <8 x bf16> vectors (one B row) in K order.
std::vector<dsl::Value> b_fragments(const std::vector<dsl::Value>& vectors);

/// Mutable accumulators: one <c_elems x f32> slot per MMA tile, zero-initialised.
class Accumulators {
 public:
  Accumulators(int m_tiles, int n_tiles);
  dsl::Var<>& at(int mt, int nt) { return *slots_[size_t(mt * n_tiles_ + nt)]; }
  int m_tiles() const { return m_tiles_; }
  int n_tiles() const { return n_tiles_; }

 private:
  int m_tiles_, n_tiles_;
  std::vector<std::unique_ptr<dsl::Var<>>> slots_;
};

/// acc(mt, nt) += sum over k-steps s of a_steps[mt][s] x b_steps[nt][s] with the target's MMA
/// (step-major order, so that consecutive MMAs are independent).
void mma_accumulate(Accumulators& acc, const std::vector<std::vector<dsl::Value>>& a_steps,
                    const std::vector<std::vector<dsl::Value>>& b_steps);

/// Writes the accumulators through the MMA's C layout to `c_block` (this block's first element,
/// row stride `ldc` elements): MMA tile (mt, nt) covers local rows row_base + 16*mt and columns
/// col_base + mma_n*nt. Elements at local rows >= rows_valid or columns >= cols_valid are not
/// written. f32 accumulators are rounded to bf16 (nearest even) for a bf16 output.
void store_accumulators(Accumulators& acc, const dsl::Value& c_block, const dsl::Value& ldc, const dsl::Value& lane,
                        const dsl::Value& row_base, const dsl::Value& col_base, const dsl::Value& rows_valid,
                        const dsl::Value& cols_valid);

}  // namespace tilejit::kernels::gemm_detail
