// bf16 tiles in shared memory in wgmma's K-major layout without swizzle (sm_90a), so that a
// warpgroup's wgmma reads its operands straight from them.
//
// Layout of one stage (rows x k, k a multiple of 16): 8 x 8 core matrices of 128 contiguous bytes
// (row r of a core matrix at byte 16 r); the k / 8 core matrices of an 8-row group follow each
// other (lbo = 128 bytes), the groups follow each other (sbo = k * 16 bytes). Element (row, kk) is
// at byte (row / 8) * sbo + (kk / 8) * 128 + (row % 8) * 16 + (kk % 8) * 2. Eight consecutive rows
// of one 16-byte chunk are 128 contiguous bytes, so a warp storing (or cp.async-ing) chunks with
// its lanes on consecutive rows writes whole bank lines.
#pragma once
#include "dsl/tile/intrinsics.h"
#include "dsl/value.h"

namespace tilejit::tile {

class CoreMatrixTile {
 public:
  CoreMatrixTile(dsl::Value base, int rows, int k, int stages);

  int rows() const { return rows_; }
  int k() const { return k_; }
  int stages() const { return stages_; }
  int stage_elems() const { return rows_ * k_; }
  /// The allocation (ptr<shared, bf16>), stage 0 element 0.
  const dsl::Value& base() const { return base_; }
  /// The strides wgmma needs for operands in this tile.
  WgmmaLayout layout() const { return {128, k_ * 16}; }

  /// Address (16-byte aligned) of the 8 elements at K 8 * chunk .. + 7 of `row` in `stage`.
  dsl::Value chunk_address(const dsl::Arg& stage, const dsl::Arg& row, const dsl::Arg& chunk,
                           const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// The wgmma operand of rows row0 .. (row0 a multiple of 8) at K k0 .. k0 + 15 (k0 a multiple
  /// of 16) of `stage`.
  dsl::Value operand(const dsl::Arg& stage, const dsl::Arg& row0, int k0,
                     const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;

 private:
  dsl::Value base_;
  int rows_, k_, stages_;
};

/// Allocates a rows x k bf16 tile with `stages` stages (rows a multiple of 8, k of 16).
CoreMatrixTile make_core_matrix_tile(int rows, int k, int stages = 1, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
