// Semantics of constants, kernel parameters and work-item ids.
#include <cstring>

#include "backend/emulator/elem.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {

/// Writes `bits` (N bytes) to every lane.
template <int N>
void fill(Wave& w, uint32_t off, uint64_t bits) {
  using U = UBytes<N>;
  U* r = w.at<U>(off);
  U v = U(bits);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l] = v;
}

void fill_bits(Wave& w, uint32_t off, int bytes, uint64_t bits) {
  switch (bytes) {
    case 1: return fill<1>(w, off, bits);
    case 2: return fill<2>(w, off, bits);
    case 4: return fill<4>(w, off, bits);
    default: return fill<8>(w, off, bits);
  }
}

template <int N>
void exec_const_splat(Wave& w, const Inst& in) {
  fill<N>(w, in.r, in.aux);
}

void exec_const_image(Wave& w, const Inst& in) {
  size_t n = in.blob.size();
  uint8_t* r = w.at<uint8_t>(in.r);
  for (uint32_t l = 0; l < w.nlanes; ++l) std::memcpy(r + l * n, in.blob.data(), n);
}

void exec_param(Wave& w, const Inst& in) {
  uint64_t bits = w.L->args[size_t(in.attr)].bits;
  if (in.rt.is_value() && in.rt.elem == Scalar::I1) bits &= 1;
  fill_bits(w, in.r, in.rt.size_bytes(), bits);
}

void exec_thread_id(Wave& w, const Inst& in) {
  std::memcpy(w.at<uint32_t>(in.r), w.L->tid[in.attr].data(), size_t(w.nlanes) * 4);
}
void exec_lane_id(Wave& w, const Inst& in) {
  std::memcpy(w.at<uint32_t>(in.r), w.L->lane_id.data(), size_t(w.nlanes) * 4);
}
void exec_block_id(Wave& w, const Inst& in) { fill<4>(w, in.r, w.bid[in.attr]); }
void exec_block_dim(Wave& w, const Inst& in) {
  const Dim3& d = w.L->block;
  fill<4>(w, in.r, in.attr == 0 ? d.x : in.attr == 1 ? d.y : d.z);
}
void exec_grid_dim(Wave& w, const Inst& in) {
  const Dim3& d = w.L->grid;
  fill<4>(w, in.r, in.attr == 0 ? d.x : in.attr == 1 ? d.y : d.z);
}

Handler select_const(Prep& p) {
  const ir::Type& t = p.in.rt;
  p.require(t.is_value() || t.is_pointer(), "a constant must be a scalar, vector or pointer");
  const ir::Op& op = p.op;
  p.require(!op.attrs.empty(), "a constant needs its bits in attr 0");
  int eb = t.is_pointer() ? t.size_bytes() : elem_bytes(t.elem);
  int w = t.is_pointer() ? 1 : t.width;
  auto elem_bits = [&](int i) {
    uint64_t b = uint64_t(op.attrs[op.attrs.size() == size_t(w) ? i : 0]);
    return (t.is_value() && t.elem == Scalar::I1) ? (b & 1) : b;
  };
  bool splat = true;
  for (int i = 1; i < w; ++i) splat = splat && elem_bits(i) == elem_bits(0);
  if (w == 1 || (splat && eb * w <= 8)) {
    uint64_t img = 0;
    for (int i = 0; i < w; ++i) {
      uint64_t b = elem_bits(i) & (eb == 8 ? ~0ull : ((1ull << (8 * eb)) - 1));
      img |= b << (8 * eb * i);
    }
    p.in.aux = img;
    switch (eb * w) {
      case 1: return exec_const_splat<1>;
      case 2: return exec_const_splat<2>;
      case 4: return exec_const_splat<4>;
      case 8: return exec_const_splat<8>;
      default: break;
    }
  }
  p.in.blob.resize(size_t(eb) * w);
  for (int i = 0; i < w; ++i) {
    uint64_t b = elem_bits(i);
    std::memcpy(p.in.blob.data() + size_t(i) * eb, &b, size_t(eb));
  }
  return exec_const_image;
}

}  // namespace

Handler select_values(Prep& p) {
  using ir::OpCode;
  auto id_op = [&](Handler h) -> Handler {
    p.require(p.in.rt == ir::Type::scalar(Scalar::I32), "the result must be i32");
    if (p.op.code != OpCode::LaneId)
      p.require(p.in.attr >= 0 && p.in.attr <= 2, "attr 0 (the dimension) must be 0, 1 or 2");
    return h;
  };
  switch (p.op.code) {
    case OpCode::Const: return select_const(p);
    case OpCode::Param: {
      p.require(p.in.attr >= 0 && size_t(p.in.attr) < p.fn.params.size(), "attr 0 is not a parameter index");
      const ir::Param& par = p.fn.params[size_t(p.in.attr)];
      p.require(par.type == p.in.rt, "the result type differs from parameter '" + par.name + "'");
      p.require(par.type.is_pointer() || par.type.is_scalar(), "parameters must be scalars or pointers");
      return exec_param;
    }
    case OpCode::ThreadId: return id_op(exec_thread_id);
    case OpCode::BlockId: return id_op(exec_block_id);
    case OpCode::BlockDim: return id_op(exec_block_dim);
    case OpCode::GridDim: return id_op(exec_grid_dim);
    case OpCode::LaneId: return id_op(exec_lane_id);
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
