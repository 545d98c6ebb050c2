// The wgmma shared tile layout (core_matrix_tile.h).
#include "dsl/tile/core_matrix_tile.h"

#include <fmt/format.h>

#include "dsl/ops.h"

namespace tilejit::tile {

using dsl::Value;

CoreMatrixTile::CoreMatrixTile(Value base, int rows, int k, int stages)
    : base_(std::move(base)), rows_(rows), k_(k), stages_(stages) {}

namespace {
const ir::Type kI32 = ir::Type::scalar(ir::Scalar::I32);
}

Value CoreMatrixTile::chunk_address(const dsl::Arg& stage, const dsl::Arg& row, const dsl::Arg& chunk,
                                    const dsl::SrcLoc& loc) const {
  Value r = row.as(kI32);
  Value off = Value(stage.as(kI32) * stage_elems()) + Value(dsl::udiv(r, 8) * (k_ * 8)) +
              Value(chunk.as(kI32) * 64) + Value(dsl::urem(r, 8) * 8);
  return dsl::Arg(base_, loc) + dsl::Arg(off, loc);
}

Value CoreMatrixTile::operand(const dsl::Arg& stage, const dsl::Arg& row0, int k0, const dsl::SrcLoc& loc) const {
  if (k0 % 16 || k0 < 0 || k0 >= k_)
    dsl::detail::type_error(fmt::format("wgmma operand K offset {} must be a multiple of 16 below {}", k0, k_), loc);
  Value off = Value(stage.as(kI32) * stage_elems()) + Value(dsl::udiv(row0.as(kI32), 8) * (k_ * 8)) + k0 * 8;
  return dsl::Arg(base_, loc) + dsl::Arg(off, loc);
}

CoreMatrixTile make_core_matrix_tile(int rows, int k, int stages, const dsl::SrcLoc& loc) {
  if (rows < 8 || rows % 8 || k < 16 || k % 16 || stages < 1)
    dsl::detail::type_error(
        fmt::format("a core-matrix tile needs rows a multiple of 8 and k of 16 (got {} x {}, {} stages)", rows, k, stages),
        loc);
  return CoreMatrixTile(dsl::shared_array<dsl::bf16>(rows * k * stages), rows, k, stages);
}

}  // namespace tilejit::tile
