// The bf16 matrix instructions as data: one row per instruction (shape, lane maps) and a whole-wave emulation.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dsl/target.h"

namespace tilejit::matrix {

/// The matrix-multiply-accumulate instructions tilejit uses (D = A·B + C, bf16 inputs, f32 accumulators).
enum class MmaInstr : uint8_t {
  Gfx950_F32_16x16x32_BF16 = 0,  ///< v_mfma_f32_16x16x32_bf16, wave64
  Sm90_F32_16x8x16_BF16 = 1,     ///< mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, warp32
};

/// How the emulator rounds the K-long dot products of an MMA.
enum class MmaNumerics : uint8_t {
  /// Exact products, all K products and C summed exactly, one RNE rounding to f32.
  Exact,
  /// MMA-Sim Hopper model (isa-semantics.md §5.1): align to the largest exponent, truncate each term
  /// toward zero to 25 fractional bits, sum exactly, truncate (RZ) to f32. Verified on an H100.
  Sm90Truncate,
  /// MMA-Sim CDNA3 model (isa-semantics.md §1.4): groups of 8 products in K order, 24-bit truncation
  /// inside a group, floor steps against the accumulator, RNE per group. UNCONFIRMED for gfx950.
  Cdna3,
};

/// A position inside an operand tile: (row, col) of A (m, k), B (k, n) or C/D (m, n).
struct Coord {
  int row, col;
  friend bool operator==(const Coord&, const Coord&) = default;
};

/// One matrix instruction: its shape and where each lane's vector elements live in the tiles.
/// Element i of a lane's operand vector is element i of the LLVM vector (<8 x bfloat> etc.):
/// register i/2, bits [16*(i%2)+15 : 16*(i%2)] for bf16 operands; register i for f32 accumulators.
struct MmaInfo {
  MmaInstr instr;
  std::string_view name;  ///< ISA mnemonic ("v_mfma_f32_16x16x32_bf16", "mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32")
  Target target;          ///< the target that has the instruction
  int m, n, k;            ///< D is m×n, A is m×k, B is k×n
  int wave_size;          ///< lanes taking part (64 / 32)
  int a_elems, b_elems, c_elems;  ///< vector elements per lane of A, B and C/D
  Coord (*a_at)(int lane, int elem);  ///< -> (m, k) of A held by (lane, elem)
  Coord (*b_at)(int lane, int elem);  ///< -> (k, n) of B held by (lane, elem)
  Coord (*c_at)(int lane, int elem);  ///< -> (m, n) of C and D held by (lane, elem)
};

/// The row of an instruction.
const MmaInfo& mma_info(MmaInstr instr);

/// Every row of the table, in MmaInstr order.
std::span<const MmaInfo> all_mma_infos();

/// The bf16 MMA a target uses (gfx950 -> 16x16x32 MFMA, sm_90a -> m16n8k16 mma.sync).
std::optional<MmaInstr> mma_for_target(Target target);

/// The numerics model the emulator uses by default for an instruction (Cdna3 for gfx950, Sm90Truncate for sm_90).
MmaNumerics default_numerics(MmaInstr instr);

/// Executes one instruction for a whole wave.
/// a[lane*a_elems+i] and b[lane*b_elems+i] hold bf16 bits, c[lane*c_elems+i] and d[lane*c_elems+i] f32.
/// All operands are read before d is written, so d may alias c.
void emulate_mma(MmaInstr instr, MmaNumerics numerics, const uint16_t* a, const uint16_t* b,
                 const float* c, float* d);

/// One dot product D = C + Σ a[i]·b[i] over k bf16 pairs, rounded as `numerics` says
/// (Cdna3 works in groups of 8 in index order; Sm90Truncate fuses all k terms and C).
float mma_dot(MmaNumerics numerics, const uint16_t* a, const uint16_t* b, int k, float c);

}  // namespace tilejit::matrix
