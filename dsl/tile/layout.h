// Lane layouts of the matrix instructions as data: (lane, element) -> (row, col) as sums of
// ((x / div) % mod) * scale terms, evaluated on the host or emitted as IR in a kernel.
#pragma once
#include <vector>

#include "dsl/matrix/mma.h"
#include "dsl/value.h"

namespace tilejit::tile {

/// One term ((x / div) % mod) * scale of x = the lane or the vector element (mod 0: no modulo).
struct Term {
  enum Source : uint8_t { Lane, Elem };
  Source source;
  int div, mod, scale;
};

/// A coordinate as a sum of terms.
struct CoordMap {
  std::vector<Term> terms;
  int eval(int lane, int elem) const;
  /// IR for the coordinate of `lane` (an i32 value) and a trace-time element index.
  dsl::Value emit(const dsl::Value& lane, int elem, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
};

struct OperandLayout {
  CoordMap row, col;
};

/// A, B and C/D layouts of one instruction: A (m, k), B (k, n), C (m, n).
struct MmaLayout {
  matrix::MmaInstr instr;
  OperandLayout a, b, c;
};

const MmaLayout& mma_layout(matrix::MmaInstr instr);
/// The layout of the bf16 MMA of the target being traced.
const MmaLayout& target_mma_layout();
/// The bf16 MMA of the target being traced.
const matrix::MmaInfo& target_mma();

}  // namespace tilejit::tile
