// Sample kernels, a random IR generator, id renumbering and structural comparison for the IR tests.
#include "ir_test_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace tilejit::ir::test {

unsigned fresh_seed() {
  std::random_device rd;
  return rd();
}

size_t emit_for(Builder& b, ValueId lo, ValueId hi, ValueId step, const std::function<void(ValueId)>& body,
                SourceLoc loc) {
  Op& op = b.emit_with_regions(OpCode::For, {lo, hi, step}, std::move(loc));
  ValueId iv = b.function().new_value(i32());
  op.regions[0].args.push_back(iv);
  size_t index = b.current().ops.size() - 1;
  b.push(op.regions[0]);
  body(iv);
  b.pop();
  return index;
}

size_t emit_if(Builder& b, ValueId cond, const std::function<void()>& then, const std::function<void()>& els,
               SourceLoc loc) {
  Op& op = b.emit_with_regions(OpCode::If, {cond}, std::move(loc));
  size_t index = b.current().ops.size() - 1;
  Region* then_r = &op.regions[0];
  Region* else_r = &op.regions[1];
  b.push(*then_r);
  then();
  b.pop();
  if (els) {
    b.push(*else_r);
    els();
    b.pop();
  }
  return index;
}

Function make_scale() {
  Function fn;
  fn.name = "scale";
  fn.params = {{"x", gptr(Scalar::F32)}, {"n", i32()}};
  fn.block_size[0] = 256;
  fn.block_size[1] = 1;
  fn.block_size[2] = 1;
  // Unused ids first: the printer must renumber from %0 regardless.
  fn.new_value(Type::scalar(Scalar::F64));
  fn.new_value(i32());
  Builder b(fn);
  ValueId x = b.emit(OpCode::Param, gptr(Scalar::F32), {}, {0});
  ValueId n = b.emit(OpCode::Param, i32(), {}, {1});
  ValueId tid = b.emit(OpCode::ThreadId, i32(), {}, {0});
  ValueId bid = b.emit(OpCode::BlockId, i32(), {}, {0});
  ValueId bdim = b.emit(OpCode::BlockDim, i32(), {}, {0});
  ValueId base = b.emit(OpCode::Mul, i32(), {bid, bdim});
  ValueId gid = b.emit(OpCode::Add, i32(), {base, tid});
  ValueId in = b.emit(OpCode::ICmp, i1(), {gid, n}, {int64_t(CmpPred::Slt)});
  emit_if(b, in, [&] {
    ValueId p = b.emit(OpCode::PtrAdd, gptr(Scalar::F32), {x, gid});
    ValueId v = b.emit(OpCode::Load, f32(), {p});
    ValueId k = b.const_float(f32(), 2.5);
    ValueId r = b.emit(OpCode::FMul, f32(), {v, k});
    b.emit(OpCode::Store, Type::void_(), {p, r});
  });
  return fn;
}

Function make_loops() {
  Function fn;
  fn.name = "loops";
  fn.params = {{"out", gptr(Scalar::I32)}};
  Builder b(fn);
  ValueId out = b.emit(OpCode::Param, gptr(Scalar::I32), {}, {0});
  ValueId zero = b.const_int(i32(), 0);
  ValueId eight = b.const_int(i32(), 8);
  ValueId one = b.const_int(i32(), 1);
  ValueId acc = b.emit(OpCode::VarNew, Type::slot(i32()), {zero});
  emit_for(b, zero, eight, one, [&](ValueId i) {
    ValueId three = b.const_int(i32(), 3);
    ValueId m = b.emit(OpCode::SRem, i32(), {i, three});
    ValueId is0 = b.emit(OpCode::ICmp, i1(), {m, zero}, {int64_t(CmpPred::Eq)});
    emit_if(
        b, is0,
        [&] {
          ValueId cur = b.emit(OpCode::VarGet, i32(), {acc});
          ValueId nxt = b.emit(OpCode::Add, i32(), {cur, i});
          b.emit(OpCode::VarSet, Type::void_(), {acc, nxt});
        },
        [&] { emit_for(b, zero, i, one, [&](ValueId) { b.emit(OpCode::Barrier, Type::void_()); }); });
  });
  ValueId fin = b.emit(OpCode::VarGet, i32(), {acc});
  b.emit(OpCode::Store, Type::void_(), {out, fin});
  return fn;
}

Function make_valid(Target target) {
  Function fn;
  fn.name = "all_ops";
  fn.params = {{"x", gptr(Scalar::F32)}, {"y", gptr(Scalar::I32)}, {"h", gptr(Scalar::BF16)}, {"n", i32()}};
  fn.block_size[0] = 64;
  Builder b(fn);
  auto loc = [](uint32_t line) { return SourceLoc{"kernels/all_ops.cpp", line}; };
  ValueId x = b.emit(OpCode::Param, gptr(Scalar::F32), {}, {0}, loc(10));
  ValueId y = b.emit(OpCode::Param, gptr(Scalar::I32), {}, {1}, loc(11));
  ValueId h = b.emit(OpCode::Param, gptr(Scalar::BF16), {}, {2}, loc(12));
  ValueId n = b.emit(OpCode::Param, i32(), {}, {3}, loc(13));
  ValueId tid = b.emit(OpCode::ThreadId, i32(), {}, {0});
  ValueId bid = b.emit(OpCode::BlockId, i32(), {}, {1});
  ValueId bdim = b.emit(OpCode::BlockDim, i32(), {}, {2});
  ValueId gdim = b.emit(OpCode::GridDim, i32(), {}, {0});
  ValueId lane = b.emit(OpCode::LaneId, i32());
  ValueId c1 = b.const_int(i32(), 1);
  ValueId c3 = b.const_int(i32(), 3);
  ValueId v = b.emit(OpCode::Add, i32(), {tid, bid});
  for (OpCode c : {OpCode::Sub, OpCode::Mul, OpCode::And, OpCode::Or, OpCode::Xor, OpCode::Shl, OpCode::LShr,
                   OpCode::AShr, OpCode::SMin, OpCode::SMax, OpCode::UMin, OpCode::UMax})
    v = b.emit(c, i32(), {v, c1});
  for (OpCode c : {OpCode::SDiv, OpCode::UDiv, OpCode::SRem, OpCode::URem}) v = b.emit(c, i32(), {v, c3});
  v = b.emit(OpCode::BitSelect, i32(), {c3, v, tid});
  v = b.emit(OpCode::Add, i32(), {v, bdim});
  v = b.emit(OpCode::Add, i32(), {v, gdim});
  v = b.emit(OpCode::Add, i32(), {v, lane});
  ValueId lt = b.emit(OpCode::ICmp, i1(), {v, n}, {int64_t(CmpPred::Slt)});
  ValueId t = b.const_int(i1(), 1);
  ValueId both = b.emit(OpCode::And, i1(), {lt, t});
  ValueId px = b.emit(OpCode::PtrAdd, gptr(Scalar::F32), {x, v});
  ValueId fx = b.emit(OpCode::Load, f32(), {px}, {}, loc(20));
  ValueId half = b.const_float(f32(), 0.5);
  ValueId f = fx;
  for (OpCode c : {OpCode::FAdd, OpCode::FSub, OpCode::FMul, OpCode::FDiv, OpCode::FMin, OpCode::FMax})
    f = b.emit(c, f32(), {f, half});
  for (OpCode c : {OpCode::FNeg, OpCode::FAbs, OpCode::Sqrt, OpCode::Rsqrt, OpCode::Exp2, OpCode::Log2})
    f = b.emit(c, f32(), {f});
  f = b.emit(OpCode::Fma, f32(), {f, half, fx});
  ValueId fl = b.emit(OpCode::FCmp, i1(), {f, half}, {int64_t(CmpPred::Olt)});
  ValueId sel = b.emit(OpCode::Select, f32(), {fl, f, half});
  ValueId wide = b.emit(OpCode::SExt, i64(), {v});
  ValueId wide2 = b.emit(OpCode::ZExt, i64(), {v});
  ValueId narrow = b.emit(OpCode::Trunc, Type::scalar(Scalar::I16), {wide2});
  ValueId fi = b.emit(OpCode::SIToFP, f32(), {v});
  ValueId fu = b.emit(OpCode::UIToFP, f32(), {v});
  ValueId is = b.emit(OpCode::FPToSI, i32(), {fi});
  ValueId iu = b.emit(OpCode::FPToUI, i32(), {fu});
  ValueId bfc = b.const_float(bf16(), 1.5);
  ValueId ext = b.emit(OpCode::FPExt, f32(), {bfc});
  ValueId tr = b.emit(OpCode::FPTrunc, bf16(), {sel});
  ValueId bits = b.emit(OpCode::Bitcast, i32(), {ext});
  ValueId pair = b.emit(OpCode::BuildVec, vec(Scalar::BF16, 2), {tr, bfc});
  ValueId packed = b.emit(OpCode::Bitcast, i32(), {pair});
  ValueId sp = b.emit(OpCode::Splat, vec(Scalar::F32, 4), {f});
  ValueId ins = b.emit(OpCode::Insert, vec(Scalar::F32, 4), {sp, fx}, {2});
  ValueId ex = b.emit(OpCode::Extract, f32(), {ins}, {3});
  ValueId p64 = b.emit(OpCode::PtrAdd, gptr(Scalar::F32), {x, wide});
  ValueId v4 = b.emit(OpCode::Load, vec(Scalar::F32, 4), {p64});
  b.emit(OpCode::Store, Type::void_(), {p64, v4});
  b.emit(OpCode::Store, Type::void_(), {px, ex}, {}, loc(30));
  b.emit(OpCode::AtomicAdd, Type::void_(), {px, f});
  ValueId py = b.emit(OpCode::PtrAdd, gptr(Scalar::I32), {y, v});
  ValueId mix = b.emit(OpCode::Add, i32(), {is, iu});
  mix = b.emit(OpCode::Add, i32(), {mix, bits});
  mix = b.emit(OpCode::Add, i32(), {mix, packed});
  ValueId n16 = b.emit(OpCode::SExt, i32(), {narrow});
  mix = b.emit(OpCode::Add, i32(), {mix, n16});
  b.emit(OpCode::AtomicAdd, Type::void_(), {py, mix});
  ValueId ph = b.emit(OpCode::PtrAdd, gptr(Scalar::BF16), {h, v});
  b.emit(OpCode::AtomicAdd, Type::void_(), {ph, pair});
  ValueId sf = b.emit(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {1024});
  ValueId sh = b.emit(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {512});
  ValueId spf = b.emit(OpCode::PtrAdd, sptr(Scalar::F32), {sf, tid});
  b.emit(OpCode::Store, Type::void_(), {spf, f});
  b.emit(OpCode::Barrier, Type::void_(), {}, {}, loc(40));
  ValueId slot = b.emit(OpCode::VarNew, Type::slot(f32()), {half});
  ValueId zero = b.const_int(i32(), 0);
  emit_for(b, zero, n, c1, [&](ValueId i) {
    ValueId cur = b.emit(OpCode::VarGet, f32(), {slot});
    ValueId nxt = b.emit(OpCode::FAdd, f32(), {cur, fx});
    b.emit(OpCode::VarSet, Type::void_(), {slot, nxt});
    ValueId even = b.emit(OpCode::ICmp, i1(), {i, c3}, {int64_t(CmpPred::Eq)});
    emit_if(b, even, [&] { b.emit(OpCode::Barrier, Type::void_()); });
  });
  emit_if(
      b, both, [&] { b.emit(OpCode::Store, Type::void_(), {px, half}); },
      [&] { b.emit(OpCode::Store, Type::void_(), {px, fx}); });
  ValueId nbytes = b.emit(OpCode::Mul, i32(), {n, c3});
  ValueId off = b.emit(OpCode::Shl, i32(), {tid, c3});
  b.emit(OpCode::BufferLoad, vec(Scalar::F32, 4), {x, nbytes, off});
  ValueId a8 = b.emit(OpCode::Load, vec(Scalar::BF16, 8), {ph});
  ValueId acc = b.emit(OpCode::Splat, vec(Scalar::F32, 4), {half});
  b.emit(OpCode::PrefetchL2, Type::void_(), {px, b.const_int(i32(), 64)});
  b.emit(OpCode::WaveUMax, i32(), {tid});
  b.emit(OpCode::WaveUMin, i32(), {tid});
  b.emit(OpCode::WaitPriorGrids, Type::void_());
  b.emit(OpCode::LaunchDependents, Type::void_());
  if (target == Target::Gfx950) {
    b.emit(OpCode::Mma, vec(Scalar::F32, 4), {a8, a8, acc}, {0});
    ValueId scale = b.const_float(f32(), 2.0);
    b.emit(OpCode::CvtPkBf16Fp4, vec(Scalar::BF16, 2), {packed, scale}, {3});
  } else {
    ValueId b4 = b.emit(OpCode::Load, vec(Scalar::BF16, 4), {ph});
    b.emit(OpCode::Mma, vec(Scalar::F32, 4), {a8, b4, acc}, {1});
    ValueId row = b.emit(OpCode::PtrAdd, sptr(Scalar::BF16), {sh, tid});
    b.emit(OpCode::LdMatrix, vec(Scalar::BF16, 8), {row}, {1});
    ValueId c16 = b.const_int(i32(), 16);
    b.emit(OpCode::CpAsync, Type::void_(), {spf, px, c16});
    b.emit(OpCode::CpAsyncCommit, Type::void_());
    b.emit(OpCode::CpAsyncWait, Type::void_(), {}, {0});
    ValueId acc8 = b.emit(OpCode::Splat, vec(Scalar::F32, 8), {b.const_float(f32(), 0.0)});
    b.emit(OpCode::FenceProxyAsync, Type::void_());
    b.emit(OpCode::WgmmaFence, Type::void_());
    ValueId d = b.emit(OpCode::Wgmma, vec(Scalar::F32, 8), {sh, sh, acc8}, {16, 128, 256, 0});
    b.emit(OpCode::WgmmaCommit, Type::void_());
    b.emit(OpCode::WgmmaWait, vec(Scalar::F32, 8), {d}, {1});
    ValueId bar = b.emit(OpCode::SharedAlloc, sptr(Scalar::I64), {}, {2});
    b.emit(OpCode::MbarrierInit, Type::void_(), {bar, b.const_int(i32(), 1)});
    b.emit(OpCode::MbarrierArriveExpectTx, Type::void_(), {bar, c16});
    b.emit(OpCode::BulkCopyToShared, Type::void_(), {spf, px, c16, bar});
    b.emit(OpCode::MbarrierWait, Type::void_(), {bar, b.const_int(i32(), 0)});
    b.emit(OpCode::NamedBarrier, Type::void_(), {}, {1, 64});
  }
  return fn;
}

namespace {

/// Definitions (results and region args) in definition order.
void definitions(const Region& r, std::vector<ValueId>& out) {
  for (ValueId a : r.args) out.push_back(a);
  for (const Op& op : r.ops) {
    if (op.result != kNoValue) out.push_back(op.result);
    for (const Region& sub : op.regions) definitions(sub, out);
  }
}

void remap_region(Region& r, const std::vector<ValueId>& map) {
  for (ValueId& a : r.args) a = map[a];
  for (Op& op : r.ops) {
    if (op.result != kNoValue) op.result = map[op.result];
    for (ValueId& v : op.operands) v = map[v];
    for (Region& sub : op.regions) remap_region(sub, map);
  }
}

struct Compare {
  const Function& a;
  const Function& b;
  bool locations;
  std::map<ValueId, ValueId> map;
  std::string error;

  bool fail(const std::string& what) {
    if (error.empty()) error = what;
    return false;
  }

  bool region(const Region& ra, const Region& rb, const std::string& path) {
    if (ra.args.size() != rb.args.size()) return fail(path + ": region argument counts differ");
    for (size_t i = 0; i < ra.args.size(); ++i)
      if (map.at(ra.args[i]) != rb.args[i]) return fail(path + ": region argument differs");
    if (ra.ops.size() != rb.ops.size())
      return fail(fmt::format("{}: {} ops vs {}", path, ra.ops.size(), rb.ops.size()));
    for (size_t i = 0; i < ra.ops.size(); ++i) {
      const Op& x = ra.ops[i];
      const Op& y = rb.ops[i];
      std::string here = fmt::format("{}/{}:{}", path, i, op_info(x.code).name);
      if (x.code != y.code) return fail(here + ": op codes differ");
      if (x.attrs != y.attrs) return fail(here + ": attributes differ");
      if ((x.result == kNoValue) != (y.result == kNoValue)) return fail(here + ": result presence differs");
      if (x.result != kNoValue && map.at(x.result) != y.result) return fail(here + ": result differs");
      if (x.operands.size() != y.operands.size()) return fail(here + ": operand counts differ");
      for (size_t k = 0; k < x.operands.size(); ++k)
        if (map.at(x.operands[k]) != y.operands[k]) return fail(fmt::format("{}: operand {} differs", here, k));
      if (locations && (x.loc.file != y.loc.file || x.loc.line != y.loc.line))
        return fail(here + ": locations differ");
      if (x.regions.size() != y.regions.size()) return fail(here + ": region counts differ");
      for (size_t k = 0; k < x.regions.size(); ++k)
        if (!region(x.regions[k], y.regions[k], fmt::format("{}[{}]", here, k))) return false;
    }
    return true;
  }

  bool run() {
    if (a.name != b.name) return fail("names differ");
    if (a.params.size() != b.params.size()) return fail("parameter counts differ");
    for (size_t i = 0; i < a.params.size(); ++i)
      if (a.params[i].name != b.params[i].name || a.params[i].type != b.params[i].type)
        return fail(fmt::format("parameter {} differs", i));
    for (int d = 0; d < 3; ++d)
      if (a.block_size[d] != b.block_size[d]) return fail("block sizes differ");
    std::vector<ValueId> da, db;
    definitions(a.body, da);
    definitions(b.body, db);
    if (da.size() != db.size()) return fail("definition counts differ");
    for (size_t i = 0; i < da.size(); ++i) {
      if (a.type_of(da[i]) != b.type_of(db[i]))
        return fail(fmt::format("definition {} has type {} vs {}", i, to_string(a.type_of(da[i])),
                                to_string(b.type_of(db[i]))));
      map[da[i]] = db[i];
    }
    return region(a.body, b.body, "body");
  }
};

Type random_type(std::mt19937& rng) {
  static const Scalar kScalars[] = {Scalar::I1,  Scalar::I8,   Scalar::I16, Scalar::I32, Scalar::I64,
                                    Scalar::F16, Scalar::BF16, Scalar::F32, Scalar::F64};
  Scalar s = kScalars[rng() % 9];
  switch (rng() % 8) {
    case 0: return Type::pointer(s, rng() % 2 ? AddrSpace::Global : AddrSpace::Shared);
    case 1: return Type::slot(rng() % 2 ? Type::scalar(s) : Type::vector(s, 2 + int(rng() % 63)));
    case 2: case 3: return Type::vector(s, 2 + int(rng() % 63));
    default: return Type::scalar(s);
  }
}

int64_t random_attr(std::mt19937_64& g) {
  switch (g() % 5) {
    case 0: return int64_t(g());
    case 1: return INT64_MIN + int64_t(g() % 3);
    case 2: return INT64_MAX - int64_t(g() % 3);
    default: return int64_t(g() % 2000) - 1000;
  }
}

/// Random bits for a const of type `t`: mostly in range, sometimes special or stray.
int64_t random_const_bits(Type t, std::mt19937_64& g) {
  int bits = scalar_bits(t.elem);
  uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
  if (!t.is_float()) {
    if (t.elem == Scalar::I1) return int64_t(g() % 2);
    int64_t v = int64_t(g());
    return bits == 64 ? v : (v << (64 - bits)) >> (64 - bits);  // sign-extended
  }
  uint64_t exp_mask = t.elem == Scalar::F16    ? 0x7c00ull
                      : t.elem == Scalar::BF16 ? 0x7f80ull
                      : t.elem == Scalar::F32  ? 0x7f800000ull
                                               : 0x7ff0000000000000ull;
  uint64_t sign = 1ull << (bits - 1);
  switch (g() % 6) {
    case 0: return int64_t(g());                                   // stray bits outside the type
    case 1: return int64_t(((g() & mask) | exp_mask) & mask);      // NaN or Inf, any payload
    case 2: return int64_t(g() & mask & ~exp_mask);                // +-0 and denormals
    case 3: return int64_t(g() % 2 ? sign : 0);                    // +0 and -0
    default: return int64_t(g() & mask);
  }
}

struct RandomGen {
  std::mt19937& rng;
  std::mt19937_64 g64;
  Function fn;
  std::vector<ValueId> visible;
  int budget = 80;

  explicit RandomGen(std::mt19937& r) : rng(r), g64(r()) {}

  SourceLoc loc() {
    if (rng() % 2) return {};
    return SourceLoc{fmt::format("src/file_{}.cpp", rng() % 7), 1 + uint32_t(rng() % 5000)};
  }

  ValueId pick() { return visible[rng() % visible.size()]; }

  void region(Builder& b, int depth) {
    size_t mark = visible.size();
    int count = int(rng() % 7);
    for (int k = 0; k < count && budget > 0; ++k, --budget) {
      unsigned choice = rng() % 10;
      if (choice == 0 && depth < 4 && !visible.empty()) {
        ValueId lo = pick(), hi = pick(), st = pick();
        Op& op = b.emit_with_regions(OpCode::For, {lo, hi, st}, loc());
        ValueId iv = fn.new_value(rng() % 4 ? Type::scalar(Scalar::I32) : random_type(rng));
        op.regions[0].args.push_back(iv);
        Region* r = &op.regions[0];
        b.push(*r);
        visible.push_back(iv);
        region(b, depth + 1);
        b.pop();
        continue;
      }
      if (choice == 1 && depth < 4 && !visible.empty()) {
        Op& op = b.emit_with_regions(OpCode::If, {pick()}, loc());
        Region* t = &op.regions[0];
        Region* e = &op.regions[1];
        b.push(*t);
        region(b, depth + 1);
        b.pop();
        b.push(*e);
        region(b, depth + 1);
        b.pop();
        continue;
      }
      if (choice == 2 && depth < 4 && rng() % 3 == 0) {
        odd_shape(b, depth);
        continue;
      }
      OpCode code;
      do code = OpCode(rng() % unsigned(OpCode::Count_));
      while (code == OpCode::For || code == OpCode::If);
      std::vector<ValueId> operands;
      if (!visible.empty()) {
        int n = op_info(code).operands >= 0 && rng() % 4 ? op_info(code).operands : int(rng() % 4);
        for (int i = 0; i < n; ++i) operands.push_back(pick());
      }
      Type rt = rng() % 5 ? random_type(rng) : Type::void_();
      std::vector<int64_t> attrs;
      if (code == OpCode::Const && !rt.is_void() && rng() % 8) {
        attrs.push_back(random_const_bits(rt, g64));
      } else {
        int na = int(rng() % 3);
        for (int i = 0; i < na; ++i) attrs.push_back(random_attr(g64));
        if (!attrs.empty() && rng() % 2) attrs[0] = int64_t(rng() % 20);  // named keywords too
      }
      ValueId r = b.emit(code, rt, operands, attrs, loc());
      if (r != kNoValue) visible.push_back(r);
    }
    visible.resize(mark);
  }

  /// Any op with any number of operands, attributes and regions (with arguments):
  /// the generic form the printer falls back to for shapes the registry does not expect.
  void odd_shape(Builder& b, int depth) {
    OpCode code = rng() % 2 ? (rng() % 2 ? OpCode::For : OpCode::If) : OpCode(rng() % unsigned(OpCode::Count_));
    std::vector<ValueId> operands;
    int n = visible.empty() ? 0 : int(rng() % 5);
    for (int i = 0; i < n; ++i) operands.push_back(pick());
    Op& op = b.emit_with_regions(code, operands, loc());
    // An if with exactly one region prints like one with an empty else: not generated.
    size_t nr = rng() % 4;
    if (code == OpCode::If && nr == 1) nr = 2;
    op.regions.resize(nr);
    int na = int(rng() % 3);
    for (int i = 0; i < na; ++i) op.attrs.push_back(random_attr(g64));
    if (rng() % 3 == 0) op.result = fn.new_value(random_type(rng));
    ValueId result = op.result;
    std::vector<Region*> regions;
    for (Region& r : op.regions) regions.push_back(&r);
    for (Region* r : regions) {
      size_t mark = visible.size();
      int args = int(rng() % 3);
      for (int i = 0; i < args; ++i) {
        r->args.push_back(fn.new_value(random_type(rng)));
        visible.push_back(r->args.back());
      }
      b.push(*r);
      region(b, depth + 1);
      b.pop();
      visible.resize(mark);
    }
    if (result != kNoValue) visible.push_back(result);
  }

  Function run() {
    static const char* kNames[] = {"k", "moe_stage2", "with space", "quote\"d", ""};
    fn.name = kNames[rng() % 5];
    int np = int(rng() % 5);
    for (int i = 0; i < np; ++i)
      fn.params.push_back({rng() % 4 ? fmt::format("p{}", i % 3) : std::string("odd name"), random_type(rng)});
    for (int d = 0; d < 3; ++d) fn.block_size[d] = rng() % 3 ? 0 : uint32_t(rng());
    Builder b(fn);
    // Parameters first, so later ops have operands to pick from.
    for (int i = 0; i < np; ++i)
      visible.push_back(b.emit(OpCode::Param, fn.params[size_t(i)].type, {}, {i}, loc()));
    while (budget > 0) region(b, 0);
    return std::move(fn);
  }
};

}  // namespace

Function renumber(const Function& fn, std::mt19937& rng) {
  Function out = fn;
  size_t extra = 1 + rng() % 8;
  size_t n = fn.value_types.size() + extra;
  std::vector<ValueId> perm(n);
  for (size_t i = 0; i < n; ++i) perm[i] = ValueId(i);
  std::shuffle(perm.begin(), perm.end(), rng);
  out.value_types.assign(n, Type::scalar(Scalar::F64));
  for (size_t i = 0; i < fn.value_types.size(); ++i) out.value_types[perm[i]] = fn.value_types[i];
  remap_region(out.body, perm);
  return out;
}

Function random_function(std::mt19937& rng) { return RandomGen(rng).run(); }

::testing::AssertionResult same_structure(const Function& a, const Function& b, bool locations) {
  Compare c{a, b, locations, {}, {}};
  if (c.run()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << c.error;
}

}  // namespace tilejit::ir::test
