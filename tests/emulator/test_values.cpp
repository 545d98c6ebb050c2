// Constants (scalar, splat and per-element vectors) and kernel parameters of every scalar type.
#include "emu_test.h"

namespace emutest {
namespace {

TEST(Values, ConstantsOfEveryShape) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto dev = emulator::make_emulator_device();
  Kernel k("consts");
  ValueId out = k.param("out", G(Scalar::I8));
  ValueId t = k.tid(0);
  // Each constant is stored as raw bytes at out + t * 128 + offset.
  struct Item {
    Type type;
    std::vector<int64_t> attrs;
    std::vector<uint8_t> bytes;  // expected
  };
  std::vector<Item> items;
  auto bytes_of = [](uint64_t v, int n) {
    std::vector<uint8_t> b(static_cast<size_t>(n));
    std::memcpy(b.data(), &v, size_t(n));
    return b;
  };
  int64_t i64 = int64_t(rng());
  int64_t i16 = int64_t(int16_t(rng()));
  std::mt19937 rng32(seed);
  float f = random_float(rng32);
  items.push_back({S(Scalar::I64), {i64}, bytes_of(uint64_t(i64), 8)});
  items.push_back({S(Scalar::I16), {i16}, bytes_of(uint64_t(i16), 2)});
  items.push_back({S(Scalar::F32), {int64_t(std::bit_cast<uint32_t>(f))}, bytes_of(std::bit_cast<uint32_t>(f), 4)});
  items.push_back({S(Scalar::I1), {1}, {1}});
  // Splat <4 x bf16> and a per-element <3 x i32>.
  uint16_t h = uint16_t(rng());
  std::vector<uint8_t> splat;
  for (int e = 0; e < 4; ++e) {
    auto b = bytes_of(h, 2);
    splat.insert(splat.end(), b.begin(), b.end());
  }
  items.push_back({V(Scalar::BF16, 4), {int64_t(h)}, splat});
  std::vector<int64_t> per = {int64_t(int32_t(rng())), int64_t(int32_t(rng())), int64_t(int32_t(rng()))};
  std::vector<uint8_t> perb;
  for (auto v : per) {
    auto b = bytes_of(uint64_t(v), 4);
    perb.insert(perb.end(), b.begin(), b.end());
  }
  items.push_back({V(Scalar::I32, 3), per, perb});
  int offset = 0;
  std::vector<std::pair<int, size_t>> where;
  for (auto& it : items) {
    ValueId c = k.b.emit(OpCode::Const, it.type, {}, it.attrs);
    ValueId p = k.at(out, k.add(k.mul(t, k.i32(128)), k.i32(offset)));
    ValueId typed = k.op(OpCode::Bitcast, G(it.type.elem), {p});
    // Vector stores need their full alignment: keep every item at a multiple of 16.
    k.store(typed, c);
    where.push_back({offset, it.bytes.size()});
    offset += 16;
  }
  DevicePtr o = poisoned<uint8_t>(*dev, 64 * 128);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(o, Scalar::I8)}, nullptr);
  auto got = download<uint8_t>(*dev, o, 64 * 128);
  for (int tt = 0; tt < 64; ++tt)
    for (size_t i = 0; i < items.size(); ++i)
      for (size_t b = 0; b < items[i].bytes.size(); ++b)
        ASSERT_EQ(got[size_t(tt * 128 + where[i].first) + b], items[i].bytes[b]) << "item " << i << " byte " << b;
}

TEST(Values, ParametersOfEveryScalarType) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  Kernel k("params");
  ValueId out = k.param("out", G(Scalar::I64));
  std::vector<Scalar> types = {Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64, Scalar::F16, Scalar::BF16, Scalar::F32, Scalar::F64};
  std::vector<KernelArg> args;
  DevicePtr o = poisoned<uint64_t>(*dev, 64 * types.size());
  args.push_back(ptr_arg(o, Scalar::I64));
  std::vector<uint64_t> want;
  ValueId t = k.tid(0);
  for (size_t i = 0; i < types.size(); ++i) {
    Scalar s = types[i];
    int bits = ir::scalar_bits(s);
    uint64_t v = rng() & (bits == 64 ? ~0ull : ((1ull << bits) - 1));
    ValueId p = k.param("p" + std::to_string(i), S(s));
    // Widen the raw bits to i64 (zero-extended) through a same-size integer bitcast.
    Scalar same = bits == 8 ? Scalar::I8 : bits == 16 ? Scalar::I16 : bits == 32 ? Scalar::I32 : Scalar::I64;
    ValueId raw = ir::scalar_is_float(s) ? k.op(OpCode::Bitcast, S(same), {p}) : p;
    ValueId wide = same == Scalar::I64 ? raw : k.op(OpCode::ZExt, S(Scalar::I64), {raw});
    k.store(k.at(out, k.add(k.mul(t, k.i32(int64_t(types.size()))), k.i32(int64_t(i)))), wide);
    args.push_back({S(s), v});
    want.push_back(v);
  }
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {64, 1, 1}, args, nullptr);
  auto got = download<uint64_t>(*dev, o, 64 * types.size());
  for (int tt = 0; tt < 64; ++tt)
    for (size_t i = 0; i < types.size(); ++i) ASSERT_EQ(got[size_t(tt) * types.size() + i], want[i]) << "param " << i;
}

}  // namespace
}  // namespace emutest
