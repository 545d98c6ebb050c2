// Swizzled shared-memory tiles: layout, global -> shared copies, shared -> MMA operand loads.
#include "dsl/tile/shared_tile.h"

#include <fmt/format.h>

#include "dsl/control.h"
#include "dsl/error.h"
#include "dsl/ops.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/layout.h"

namespace tilejit::tile {

using dsl::Arg;
using dsl::SrcLoc;
using dsl::Value;
using dsl::detail::type_error;
using ir::Scalar;
using ir::Type;

namespace {

const Type kI32 = Type::scalar(Scalar::I32);
const Type kI64 = Type::scalar(Scalar::I64);
const Type kChunk = Type::vector(Scalar::BF16, 8);

bool valid_chunks_per_row(int c) { return c == 1 || c == 2 || c == 4 || (c > 0 && c % 8 == 0); }
/// f(r) = (r / div) % mod.
int swizzle_div(int c) { return c >= 8 ? 1 : 8 / c; }
int swizzle_mod(int c) { return c >= 8 ? 8 : c; }

bool on_amd() { return dsl::target().target == Target::Gfx950; }

Value i32(int v, const SrcLoc& loc) { return Arg(v, loc).as(kI32); }

/// Half h (elements 4h..4h+3) of a <8 x bf16> as <4 x bf16>.
Value half(const Value& v8, int h, const SrcLoc& loc) {
  Value words = dsl::bitcast(Arg(v8, loc), Type::vector(Scalar::I64, 2), loc);
  return dsl::bitcast(Arg(dsl::extract(Arg(words, loc), h, loc), loc), Type::vector(Scalar::BF16, 4), loc);
}

/// chunk + k_offset / 8 (k_offset: a run-time K offset in elements, a multiple of 8).
Value with_offset(const Value& chunk, const std::optional<Value>& k_offset, const SrcLoc& loc) {
  if (!k_offset) return chunk;
  if (k_offset->type() != kI32) type_error("k_offset must be i32, got " + ir::to_string(k_offset->type()), loc);
  return Arg(chunk, loc) + Arg(dsl::udiv(Arg(*k_offset, loc), Arg(8, loc), loc), loc);
}

void check_tile_k(const SharedTile& tile, int k0, int k_extent, const char* what, const SrcLoc& loc) {
  if (k0 < 0 || k0 % 8 || k0 + k_extent > tile.cols())
    type_error(fmt::format("{}: k0 = {} must be a multiple of 8 with k0 + {} <= the tile's {} columns", what, k0,
                           k_extent, tile.cols()),
               loc);
}

}  // namespace

int swizzled_chunk(int row, int chunk, int chunks_per_row) {
  if (!valid_chunks_per_row(chunks_per_row))
    throw UserError(fmt::format("swizzled_chunk: chunks_per_row must be 1, 2, 4 or a multiple of 8, got {}", chunks_per_row));
  if (row < 0 || chunk < 0 || chunk >= chunks_per_row)
    throw UserError(fmt::format("swizzled_chunk: row {} / chunk {} out of range ({} chunks per row)", row, chunk,
                                chunks_per_row));
  return chunk ^ ((row / swizzle_div(chunks_per_row)) % swizzle_mod(chunks_per_row));
}

int swizzled_offset(int row, int chunk, int cols) { return row * cols + 8 * swizzled_chunk(row, chunk, cols / 8); }

SharedTile::SharedTile(Value base, int rows, int cols, int stages)
    : base_(std::move(base)), rows_(rows), cols_(cols), stages_(stages) {}

SharedTile make_shared_tile(int rows, int cols, int stages, const SrcLoc& loc) {
  if (rows < 1 || stages < 1 || cols < 8 || cols % 8 || !valid_chunks_per_row(cols / 8))
    type_error(fmt::format("make_shared_tile({}, {}, {}): needs rows >= 1, stages >= 1 and cols a multiple of 8 with "
                           "cols / 8 in {{1, 2, 4}} or a multiple of 8",
                           rows, cols, stages),
               loc);
  Value base = dsl::shared_alloc(Scalar::BF16, int64_t(rows) * cols * stages, loc);
  return SharedTile(base, rows, cols, stages);
}

Value SharedTile::swizzle(const Value& row, const SrcLoc& loc) const {
  const int c = chunks_per_row();
  if (c == 1) return i32(0, loc);
  Value v = row;
  if (swizzle_div(c) > 1) v = dsl::udiv(Arg(v, loc), Arg(swizzle_div(c), loc), loc);
  return dsl::urem(Arg(v, loc), Arg(swizzle_mod(c), loc), loc);
}

Value SharedTile::element_offset(const Arg& stage, const Value& row, const Value& chunk, const SrcLoc& loc) const {
  Value physical = Arg(chunk, loc) ^ Arg(swizzle(row, loc), loc);
  Value within = Value(Arg(row, loc) * Arg(cols_, loc)) + Arg(Value(Arg(physical, loc) * Arg(8, loc)), loc);
  if (stages_ == 1) return within;
  Value s = stage.as(kI32);
  return Value(Arg(s, loc) * Arg(stage_elems(), loc)) + Arg(within, loc);
}

Value SharedTile::chunk_address(const Arg& stage, const Value& row, const Value& chunk, const SrcLoc& loc) const {
  return Arg(base_, loc) + Arg(element_offset(stage, row, chunk, loc), loc);
}

Value wgmma_operand(const SharedTile& tile, const Arg& stage, const Value& row0, int k0, const SrcLoc& loc) {
  if (tile.cols() != 64)
    type_error(fmt::format("wgmma_operand needs a tile of 64 columns (the 128-byte swizzle), got {}", tile.cols()), loc);
  if (k0 < 0 || k0 % 16 || k0 >= 64) type_error(fmt::format("wgmma_operand: k0 {} must be 0, 16, 32 or 48", k0), loc);
  Value off = Value(Arg(row0, loc) * Arg(64, loc)) + Arg(k0, loc);
  if (tile.stages() > 1) off = Value(Arg(stage.as(kI32), loc) * Arg(tile.stage_elems(), loc)) + Arg(off, loc);
  return Arg(tile.base(), loc) + Arg(off, loc);
}

WgmmaLayout wgmma_layout(const SharedTile&) { return {16, 1024, true}; }

// ---- copies

TileCopy copy_begin(const SharedTile& tile, const Arg& stage, const Value& src, const Arg& ld, const Arg& rows_valid,
                    const std::optional<Value>& cols_valid, int threads, const SrcLoc& loc) {
  if (src.type() != Type::pointer(Scalar::BF16, ir::AddrSpace::Global))
    type_error("copy_begin reads a ptr<global, bf16>, got " + ir::to_string(src.type()), loc);
  if (threads < 1) type_error(fmt::format("copy_begin needs threads >= 1, got {}", threads), loc);
  if (cols_valid && cols_valid->type() != kI32)
    type_error("copy_begin: cols_valid must be i32, got " + ir::to_string(cols_valid->type()), loc);
  const bool amd = on_amd();
  const int c = tile.chunks_per_row(), total = tile.rows() * c;
  Value tid = dsl::thread_id(0, loc);
  Value ldv = ld.as(kI32), rv = rows_valid.as(kI32), st = stage.as(kI32);

  // gfx950: one wave-uniform buffer resource from src covering the valid rows (their whole
  // tile width); a chunk outside the valid area reads at offset num_records, i.e. zeros.
  Value nrec;
  if (amd) {
    Value rows_in = dsl::max(Arg(dsl::min(Arg(rv, loc), Arg(tile.rows(), loc), loc), loc), Arg(0, loc), loc);
    Value bytes = Value(Arg(Value(Arg(Value(Arg(rows_in, loc) - Arg(1, loc)), loc) * Arg(ldv, loc)), loc) +
                        Arg(tile.cols(), loc)) *
                  Arg(2, loc);
    nrec = dsl::select(Arg(Value(Arg(rows_in, loc) > Arg(0, loc)), loc), Arg(bytes, loc), Arg(0, loc), loc);
  }

  auto one = [&](const Value& idx, TileCopy& into) {
    Value row = dsl::udiv(Arg(idx, loc), Arg(c, loc), loc);
    Value chunk = dsl::urem(Arg(idx, loc), Arg(c, loc), loc);
    Value ok = Arg(row, loc) < Arg(rv, loc);
    std::optional<Value> col_room;  // valid columns from this chunk's first one on
    if (cols_valid) {
      col_room = Value(Arg(*cols_valid, loc) - Arg(Value(Arg(chunk, loc) * Arg(8, loc)), loc));
      ok = Arg(ok, loc) & Arg(Value(Arg(*col_room, loc) > Arg(0, loc)), loc);
    }
    Value dst = tile.chunk_address(st, row, chunk, loc);
    if (amd) {
      Value byte_off = Value(Arg(Value(Arg(row, loc) * Arg(ldv, loc)), loc) + Arg(Value(Arg(chunk, loc) * Arg(8, loc)), loc)) *
                       Arg(2, loc);
      Value off = dsl::select(Arg(ok, loc), Arg(byte_off, loc), Arg(nrec, loc), loc);
      Value data = dsl::buffer_load(src, Arg(nrec, loc), Arg(off, loc), kChunk, loc);
      if (col_room) {  // zero the elements of a partial chunk past cols_valid
        std::vector<Value> iota;
        for (int e = 0; e < 8; ++e) iota.push_back(i32(e, loc));
        Value mask = Arg(dsl::make_vector(iota, loc), loc) < Arg(dsl::splat(Arg(*col_room, loc), 8, loc), loc);
        Value zero = dsl::splat(Arg(Arg(0.0, loc).as(Type::scalar(Scalar::BF16)), loc), 8, loc);
        data = dsl::select(Arg(mask, loc), Arg(data, loc), Arg(zero, loc), loc);
      }
      into.data_.push_back(data);
      into.dst_.push_back(dst);
    } else {
      Value elem_off = Value(Arg(dsl::cast(Arg(row, loc), kI64, loc), loc) * Arg(dsl::cast(Arg(ldv, loc), kI64, loc), loc)) +
                       Arg(dsl::cast(Arg(Value(Arg(chunk, loc) * Arg(8, loc)), loc), kI64, loc), loc);
      Value from = Arg(src, loc) + Arg(dsl::select(Arg(ok, loc), Arg(elem_off, loc), Arg(int64_t(0), loc), loc), loc);
      Value full = col_room ? dsl::min(Arg(Value(Arg(*col_room, loc) * Arg(2, loc)), loc), Arg(16, loc), loc) : i32(16, loc);
      Value bytes = dsl::select(Arg(ok, loc), Arg(full, loc), Arg(0, loc), loc);
      cp_async_16(dst, from, Arg(bytes, loc), loc);
    }
  };

  TileCopy out;
  const int full_rounds = total / threads, rest = total % threads;
  for (int i = 0; i < full_rounds; ++i) one(i ? Value(Arg(tid, loc) + Arg(i * threads, loc)) : tid, out);
  if (rest) {
    dsl::if_(
        Arg(Value(Arg(tid, loc) < Arg(rest, loc)), loc),
        [&] {
          TileCopy now;
          one(full_rounds ? Value(Arg(tid, loc) + Arg(full_rounds * threads, loc)) : tid, now);
          copy_end(now, loc);
        },
        {}, loc);
  }
  return out;
}

std::vector<Value> copy_rows_of_thread(const SharedTile& tile, int threads, const SrcLoc& loc) {
  const int c = tile.chunks_per_row();
  if (threads < c || threads % c || tile.rows() % (threads / c))
    type_error(fmt::format("copy_rows: {} threads do not cover the {} rows x {} chunks of the tile in whole rounds", threads,
                           tile.rows(), c), loc);
  Value first = dsl::udiv(Arg(dsl::thread_id(0, loc), loc), Arg(c, loc), loc);
  std::vector<Value> rows;
  for (int j = 0; j < tile.rows() / (threads / c); ++j)
    rows.push_back(j ? Value(Arg(first, loc) + Arg(j * (threads / c), loc)) : first);
  return rows;
}

TileCopy copy_rows_begin(const SharedTile& tile, const Arg& stage, const std::vector<Value>& row_src, const Arg& k,
                         int threads, const SrcLoc& loc) {
  std::vector<Value> rows = copy_rows_of_thread(tile, threads, loc);
  if (row_src.size() != rows.size())
    type_error(fmt::format("copy_rows_begin: {} row sources for the {} rows this thread copies", row_src.size(), rows.size()),
               loc);
  Value chunk = dsl::urem(Arg(dsl::thread_id(0, loc), loc), Arg(tile.chunks_per_row(), loc), loc);
  Value offset = Arg(k.as(kI32), loc) + Arg(Value(Arg(chunk, loc) * Arg(8, loc)), loc);
  Value st = stage.as(kI32);
  TileCopy out;
  for (size_t j = 0; j < rows.size(); ++j) {
    if (row_src[j].type() != Type::pointer(Scalar::BF16, ir::AddrSpace::Global))
      type_error("copy_rows_begin reads ptr<global, bf16> rows, got " + ir::to_string(row_src[j].type()), loc);
    Value dst = tile.chunk_address(st, rows[j], chunk, loc);
    Value from = Arg(row_src[j], loc) + Arg(offset, loc);
    if (on_amd()) {
      out.data_.push_back(dsl::load(from, 8, loc));
      out.dst_.push_back(dst);
    } else {
      cp_async_16(dst, from, Arg(16, loc), loc);
    }
  }
  return out;
}

void copy_end(const TileCopy& copy, const SrcLoc& loc) {
  for (size_t i = 0; i < copy.data_.size(); ++i) dsl::store(copy.dst_[i], Arg(copy.data_[i], loc), loc);
}

void copy_to_shared(const SharedTile& tile, const Arg& stage, const Value& src, const Arg& ld, const Arg& rows_valid,
                    const std::optional<Value>& cols_valid, int threads, const SrcLoc& loc) {
  copy_end(copy_begin(tile, stage, src, ld, rows_valid, cols_valid, threads, loc), loc);
}

void copy_commit(const SrcLoc& loc) {
  if (!on_amd()) cp_async_commit(loc);
}

void copy_wait(int pending, const SrcLoc& loc) {
  if (!on_amd()) cp_async_wait(pending, loc);
}

// ---- shared -> MMA operands

Value load_a_fragment(const SharedTile& tile, const Arg& stage, const Value& row0, int k0,
                      const std::optional<Value>& k_offset, const SrcLoc& loc) {
  const matrix::MmaInfo& mma = target_mma();
  check_tile_k(tile, k0, mma.k, "load_a_fragment", loc);
  // Lane l reads row row0 + l % 16 at chunk k0 / 8 + l / 16: on sm_90a these are the ldmatrix.x4
  // row addresses whose four 8x8 matrices are a0..a3; on gfx950 the 8 K values of A(l % 16, 8 (l / 16) + e).
  Value lane = dsl::lane_id(loc);
  Value row = Arg(row0, loc) + Arg(dsl::urem(Arg(lane, loc), Arg(16, loc), loc), loc);
  Value chunk = with_offset(Arg(dsl::udiv(Arg(lane, loc), Arg(16, loc), loc), loc) + Arg(k0 / 8, loc), k_offset, loc);
  Value at = tile.chunk_address(stage, row, chunk, loc);
  return on_amd() ? dsl::load(at, 8, loc) : ldmatrix_x4(at, false, loc);
}

std::vector<Value> load_b_fragments(const SharedTile& tile, const Arg& stage, const Value& n0, int k0, int count,
                                    const std::optional<Value>& k_offset, const SrcLoc& loc) {
  const matrix::MmaInfo& mma = target_mma();
  check_tile_k(tile, k0, mma.k, "load_b_fragments", loc);
  if (count < 1) type_error(fmt::format("load_b_fragments needs count >= 1, got {}", count), loc);
  Value lane = dsl::lane_id(loc);
  std::vector<Value> out;
  if (on_amd()) {
    // B(k, n) at lane n + 16 (k / 8), element k % 8: row n of the [N][K] tile, chunk k0 / 8 + lane / 16.
    Value r = dsl::urem(Arg(lane, loc), Arg(16, loc), loc);
    Value chunk = with_offset(Arg(dsl::udiv(Arg(lane, loc), Arg(16, loc), loc), loc) + Arg(k0 / 8, loc), k_offset, loc);
    for (int i = 0; i < count; ++i) {
      Value row = Value(Arg(n0, loc) + Arg(16 * i, loc)) + Arg(r, loc);
      out.push_back(dsl::load(tile.chunk_address(stage, row, chunk, loc), 8, loc));
    }
    return out;
  }
  // sm_90a: b0 = Bt(g, 2t..2t+1), b1 = Bt(g, 2t+8..2t+9) are the non-transposed 8x8 matrices of
  // rows n..n+7 at K chunks k0/8 and k0/8 + 1. One ldmatrix.x4 loads two column tiles: matrices
  // (n0, k0), (n0, k0+8), (n0+8, k0), (n0+8, k0+8); lane t addresses row t % 8 + 8 (t / 16), chunk (t / 8) % 2.
  Value r8 = dsl::urem(Arg(lane, loc), Arg(8, loc), loc);
  Value r_pair = Arg(r8, loc) + Arg(Value(Arg(dsl::udiv(Arg(lane, loc), Arg(16, loc), loc), loc) * Arg(8, loc)), loc);
  Value chunk = with_offset(
      Arg(dsl::urem(Arg(dsl::udiv(Arg(lane, loc), Arg(8, loc), loc), loc), Arg(2, loc), loc), loc) + Arg(k0 / 8, loc),
      k_offset, loc);
  for (int i = 0; i < count; i += 2) {
    bool pair = i + 1 < count;
    Value row = Value(Arg(n0, loc) + Arg(8 * i, loc)) + Arg(pair ? r_pair : r8, loc);
    Value v = ldmatrix_x4(tile.chunk_address(stage, row, chunk, loc), false, loc);
    out.push_back(half(v, 0, loc));
    if (pair) out.push_back(half(v, 1, loc));
  }
  return out;
}

std::vector<Value> load_b_fragments_trans(const SharedTile& tile, const Arg& stage, const Value& n0, int k0, int count,
                                          const SrcLoc& loc) {
  const matrix::MmaInfo& mma = target_mma();
  if (k0 < 0 || k0 + mma.k > tile.rows())
    type_error(fmt::format("load_b_fragments_trans: K rows [{}, {}) exceed the tile's {} rows", k0, k0 + mma.k, tile.rows()), loc);
  if (count < 1) type_error(fmt::format("load_b_fragments_trans needs count >= 1, got {}", count), loc);
  Value lane = dsl::lane_id(loc);
  Value n_chunk0 = dsl::udiv(Arg(n0, loc), Arg(8, loc), loc);
  std::vector<Value> out;
  if (on_amd()) {
    // Lane l holds B(k0 + 8 (l / 16) + e, n0 + 16 i + l % 16) for e = 0..7: eight 2-byte reads.
    Value k_base = Arg(Value(Arg(dsl::udiv(Arg(lane, loc), Arg(16, loc), loc), loc) * Arg(8, loc)), loc) + Arg(k0, loc);
    for (int i = 0; i < count; ++i) {
      Value n = Value(Arg(n0, loc) + Arg(16 * i, loc)) + Arg(dsl::urem(Arg(lane, loc), Arg(16, loc), loc), loc);
      Value chunk = dsl::udiv(Arg(n, loc), Arg(8, loc), loc);
      Value within = dsl::urem(Arg(n, loc), Arg(8, loc), loc);
      std::vector<Value> elems;
      for (int e = 0; e < 8; ++e) {
        Value k = Arg(k_base, loc) + Arg(e, loc);
        Value at = Arg(tile.chunk_address(stage, k, chunk, loc), loc) + Arg(within, loc);
        elems.push_back(dsl::load(at, 1, loc));
      }
      out.push_back(dsl::make_vector(elems, loc));
    }
    return out;
  }
  // sm_90a: b0 = {B(2t, g), B(2t+1, g)} is register j of ldmatrix .trans of the 8x8 matrix rows
  // k..k+7, columns n..n+7. Matrices (k0, n0), (k0+8, n0), (k0, n0+8), (k0+8, n0+8): lane t
  // addresses K row t % 8 + 8 ((t / 8) % 2) at N chunk n0 / 8 + t / 16.
  Value k_row = Arg(dsl::urem(Arg(lane, loc), Arg(16, loc), loc), loc) + Arg(k0, loc);
  Value hi = dsl::udiv(Arg(lane, loc), Arg(16, loc), loc);
  for (int i = 0; i < count; i += 2) {
    bool pair = i + 1 < count;
    Value chunk = Arg(n_chunk0, loc) + Arg(i, loc);
    if (pair) chunk = Arg(chunk, loc) + Arg(hi, loc);
    Value v = ldmatrix_x4(tile.chunk_address(stage, k_row, chunk, loc), true, loc);
    out.push_back(half(v, 0, loc));
    if (pair) out.push_back(half(v, 1, loc));
  }
  return out;
}

}  // namespace tilejit::tile
