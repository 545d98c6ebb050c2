// Swizzled bf16 tiles in shared memory, global -> shared copies and shared -> MMA-operand loads.
//
// Layout: a tile of rows x cols bf16 (cols a multiple of 8) is stored row-major in 16-byte chunks
// of 8 elements; logical chunk c of row r lives at physical chunk c ^ f(r), where f(r) =
// (r / max(1, 8 / C)) % min(C, 8) and C = cols / 8 chunks per row. Eight consecutive rows read at
// one logical chunk (an ldmatrix 8x8 matrix, or the rows of a ds_read_b128) then fall into eight
// distinct 16-byte bank groups of a 128-byte bank line. A tile may hold several pipeline stages
// (stage s starts at element s * rows * cols).
//
// Copies: every thread of the (1-D) block copies some 16-byte chunks. sm_90a issues cp.async with
// zero fill (the caller groups them with copy_commit / copy_wait); gfx950 loads through a
// range-checked buffer resource (out-of-range dwords read 0) into registers, and copy_end stores
// them to shared memory. A kernel written as
//     auto c = copy_begin(...); <compute on another stage>; copy_end(c); copy_commit(); ... copy_wait(n); barrier();
// is correct and overlapped on both targets.
#pragma once
#include <optional>
#include <vector>

#include "dsl/tile/intrinsics.h"
#include "dsl/value.h"

namespace tilejit::tile {

/// Host-side swizzle: the physical 16-byte chunk of logical chunk `chunk` in row `row` of a tile
/// with `chunks_per_row` chunks per row (1, 2, 4 or a multiple of 8).
int swizzled_chunk(int row, int chunk, int chunks_per_row);
/// Host-side element offset (within one stage) of the first element of logical chunk `chunk` in
/// row `row` of a tile with `cols` bf16 columns.
int swizzled_offset(int row, int chunk, int cols);

/// A bf16 tile (rows x cols, `stages` copies) in shared memory with the swizzled layout above.
class SharedTile {
 public:
  SharedTile(dsl::Value base, int rows, int cols, int stages);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  int stages() const { return stages_; }
  /// 16-byte chunks per row (cols / 8).
  int chunks_per_row() const { return cols_ / 8; }
  /// Elements of one stage (rows * cols).
  int stage_elems() const { return rows_ * cols_; }
  /// The allocation (ptr<shared, bf16>), stage 0 element 0.
  const dsl::Value& base() const { return base_; }

  /// IR for the swizzle term f(row) (i32) that is XORed into the chunk index.
  dsl::Value swizzle(const dsl::Value& row, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// Element offset (i32) of logical chunk `chunk` of `row` in `stage` (all i32).
  dsl::Value element_offset(const dsl::Arg& stage, const dsl::Value& row, const dsl::Value& chunk,
                            const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// Address (ptr<shared, bf16>, 16-byte aligned) of logical chunk `chunk` of `row` in `stage`.
  dsl::Value chunk_address(const dsl::Arg& stage, const dsl::Value& row, const dsl::Value& chunk,
                           const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;

 private:
  dsl::Value base_;
  int rows_, cols_, stages_;
};

/// Allocates a rows x cols bf16 tile with `stages` stages in shared memory (shared_array).
/// cols must be a multiple of 8 with cols / 8 in {1, 2, 4} or a multiple of 8; rows >= 1.
SharedTile make_shared_tile(int rows, int cols, int stages = 1, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// sm_90a wgmma operand of a 64-column tile (its swizzle is wgmma's 128-byte swizzle): rows row0 ..
/// row0 + 7 (+ further 8-row groups; row0 a multiple of 8) at K k0 .. k0 + 15 (k0 a multiple of
/// 16) of `stage`. The hardware swizzles by address, so every 8-row group must start at a multiple
/// of 1024 bytes: allocate the tile first (or after allocations of whole KiB).
dsl::Value wgmma_operand(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& row0, int k0,
                         const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// The WgmmaLayout of wgmma_operand's operands (128-byte swizzle, 8-row groups 1024 bytes apart).
WgmmaLayout wgmma_layout(const SharedTile& tile);

/// A global -> shared copy of one tile stage in flight. On gfx950 it holds the loaded chunks
/// (registers) and their shared addresses until copy_end(); on sm_90a it is empty.
class TileCopy {
 public:
  /// Chunks still to be stored by copy_end() (0 on sm_90a).
  size_t pending_chunks() const { return data_.size(); }

 private:
  friend TileCopy copy_begin(const SharedTile&, const dsl::Arg&, const dsl::Value&, const dsl::Arg&, const dsl::Arg&,
                             const std::optional<dsl::Value>&, int, const dsl::SrcLoc&);
  friend TileCopy copy_rows_begin(const SharedTile&, const dsl::Arg&, const std::vector<dsl::Value>&, const dsl::Arg&,
                                  int, const dsl::SrcLoc&);
  friend void copy_end(const TileCopy&, const dsl::SrcLoc&);
  std::vector<dsl::Value> data_, dst_;
};

/// Starts copying one stage of `tile` from global memory: tile element (r, c) comes from
/// src[r * ld + c] (src: ptr<global, bf16>, 16-byte aligned; ld: i32, a multiple of 8). Rows
/// r >= rows_valid and columns c >= cols_valid (nullopt: every column is valid) read as 0 and touch
/// no memory. `threads` threads (thread_id(0) in [0, threads)) share the rows * cols / 8 chunks,
/// consecutive threads on consecutive chunks of a row; every one of them must call this.
/// gfx950 needs the byte range from src to the last valid element below 2^31 (buffer offsets).
TileCopy copy_begin(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& src, const dsl::Arg& ld,
                    const dsl::Arg& rows_valid, const std::optional<dsl::Value>& cols_valid, int threads,
                    const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// The tile rows this thread copies in copy_rows_begin, in order: thread_id(0) / chunks_per_row +
/// j * (threads / chunks_per_row). threads must be a multiple of chunks_per_row and the tile's
/// rows a multiple of threads / chunks_per_row.
std::vector<dsl::Value> copy_rows_of_thread(const SharedTile& tile, int threads,
                                            const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Starts copying one stage of `tile` whose rows lie anywhere in global memory (a gather): this
/// thread copies logical chunk thread_id(0) % chunks_per_row of each of its rows
/// (copy_rows_of_thread), row j from row_src[j] + k (row_src: ptr<global, bf16>, 16-byte aligned
/// with k, an i32 element offset). Every row is read; point rows without data at any readable row.
TileCopy copy_rows_begin(const SharedTile& tile, const dsl::Arg& stage, const std::vector<dsl::Value>& row_src,
                         const dsl::Arg& k, int threads, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Finishes a copy: gfx950 stores the loaded chunks to shared memory; sm_90a does nothing.
void copy_end(const TileCopy& copy, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// copy_begin then copy_end.
void copy_to_shared(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& src, const dsl::Arg& ld,
                    const dsl::Arg& rows_valid, const std::optional<dsl::Value>& cols_valid, int threads,
                    const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Closes the group of copies issued since the last commit (sm_90a cp.async.commit_group;
/// nothing on gfx950, whose copies are complete after copy_end).
void copy_commit(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Waits until at most `pending` committed groups are in flight (sm_90a cp.async.wait_group;
/// nothing on gfx950). Other threads see the data after a barrier().
void copy_wait(int pending, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// Operand A of the target's MMA (<8 x bf16>: sm_90a m16 x k16 via ldmatrix.x4, gfx950 m16 x k32
/// via one 16-byte read) for rows [row0, row0 + 16) and K [k0, k0 + mma_k) of a tile stored
/// [M][K] (row m, column k). row0 is an i32 value, k0 a multiple of 8. `k_offset` (i32, a
/// multiple of 8, e.g. per group of waves) is added to k0 at run time; K must stay inside the tile.
dsl::Value load_a_fragment(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& row0, int k0,
                           const std::optional<dsl::Value>& k_offset = std::nullopt,
                           const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Operands B of `count` consecutive MMA column tiles (mma_n = 8 on sm_90a, 16 on gfx950) for
/// N [n0, n0 + count * mma_n) and K [k0, k0 + mma_k) of a tile stored [N][K] (row n, column k),
/// as the MMA expects them (<4 x bf16> sm_90a, pairs of tiles per ldmatrix.x4; <8 x bf16> gfx950).
/// `k_offset` as for load_a_fragment.
std::vector<dsl::Value> load_b_fragments(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& n0, int k0,
                                         int count, const std::optional<dsl::Value>& k_offset = std::nullopt,
                                         const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// The same operands from a tile stored [K][N] (row k, column n): sm_90a ldmatrix.x4.trans;
/// gfx950 gathers 8 two-byte reads per lane. n0 must be a multiple of 8.
std::vector<dsl::Value> load_b_fragments_trans(const SharedTile& tile, const dsl::Arg& stage, const dsl::Value& n0,
                                               int k0, int count, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
