// icmp / fcmp (every predicate, NaN operands) and select against plain C++.
#include <limits>

#include "emu_test.h"

namespace emutest {
namespace {

TEST(Compare, IcmpEveryPredicateOnSeveralWidths) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const size_t lanes = 256;
  std::vector<int32_t> a(lanes), b(lanes);
  for (size_t i = 0; i < lanes; ++i) {
    a[i] = int32_t(rng());
    b[i] = (i % 4 == 0) ? a[i] : (i % 4 == 1) ? int32_t(rng() % 5) - 2 : int32_t(rng());
  }
  using P = CmpPred;
  std::vector<std::pair<P, std::function<bool(int32_t, int32_t)>>> preds = {
      {P::Eq, [](int32_t x, int32_t y) { return x == y; }},
      {P::Ne, [](int32_t x, int32_t y) { return x != y; }},
      {P::Slt, [](int32_t x, int32_t y) { return x < y; }},
      {P::Sle, [](int32_t x, int32_t y) { return x <= y; }},
      {P::Sgt, [](int32_t x, int32_t y) { return x > y; }},
      {P::Sge, [](int32_t x, int32_t y) { return x >= y; }},
      {P::Ult, [](int32_t x, int32_t y) { return uint32_t(x) < uint32_t(y); }},
      {P::Ule, [](int32_t x, int32_t y) { return uint32_t(x) <= uint32_t(y); }},
      {P::Ugt, [](int32_t x, int32_t y) { return uint32_t(x) > uint32_t(y); }},
      {P::Uge, [](int32_t x, int32_t y) { return uint32_t(x) >= uint32_t(y); }}};
  for (auto& [p, ref] : preds) {
    SCOPED_TRACE(std::string(ir::pred_name(p)));
    auto out = run_op<uint8_t>(OpCode::ICmp, S(Scalar::I1), {Operand::of(S(Scalar::I32), a), Operand::of(S(Scalar::I32), b)},
                               lanes, {int64_t(p)});
    for (size_t i = 0; i < lanes; ++i) ASSERT_EQ(out[i], uint8_t(ref(a[i], b[i]))) << a[i] << " vs " << b[i];
    // The same on i8 and i64 (sign handling of narrow and wide types).
    std::vector<int8_t> a8(lanes), b8(lanes);
    std::vector<int64_t> a64(lanes), b64(lanes);
    for (size_t i = 0; i < lanes; ++i) {
      a8[i] = int8_t(a[i]);
      b8[i] = int8_t(b[i]);
      a64[i] = int64_t(a[i]) * 0x10001;
      b64[i] = int64_t(b[i]) * 0x10001;
    }
    auto o8 = run_op<uint8_t>(OpCode::ICmp, V(Scalar::I1, 4), {Operand::of(V(Scalar::I8, 4), a8), Operand::of(V(Scalar::I8, 4), b8)},
                              lanes / 4, {int64_t(p)});
    auto o64 = run_op<uint8_t>(OpCode::ICmp, S(Scalar::I1), {Operand::of(S(Scalar::I64), a64), Operand::of(S(Scalar::I64), b64)},
                               lanes, {int64_t(p)});
    for (size_t i = 0; i < lanes; ++i) {
      auto narrow = [&](int8_t x, int8_t y) {
        switch (p) {
          case P::Ult: return uint8_t(x) < uint8_t(y);
          case P::Ule: return uint8_t(x) <= uint8_t(y);
          case P::Ugt: return uint8_t(x) > uint8_t(y);
          case P::Uge: return uint8_t(x) >= uint8_t(y);
          default: return ref(x, y);
        }
      };
      ASSERT_EQ(o8[i], uint8_t(narrow(a8[i], b8[i]))) << int(a8[i]) << " vs " << int(b8[i]);
      bool w64;
      switch (p) {
        case P::Ult: w64 = uint64_t(a64[i]) < uint64_t(b64[i]); break;
        case P::Ule: w64 = uint64_t(a64[i]) <= uint64_t(b64[i]); break;
        case P::Ugt: w64 = uint64_t(a64[i]) > uint64_t(b64[i]); break;
        case P::Uge: w64 = uint64_t(a64[i]) >= uint64_t(b64[i]); break;
        default: w64 = ref(a[i], b[i]);
      }
      ASSERT_EQ(o64[i], uint8_t(w64)) << a64[i] << " vs " << b64[i];
    }
  }
}

TEST(Compare, FcmpOrderedPredicatesAndUneWithNaN) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> a, b;
  for (float x : special_floats())
    for (float y : special_floats()) {
      a.push_back(x);
      b.push_back(y);
    }
  while (a.size() % 64) {
    a.push_back(random_float(rng));
    b.push_back((rng() & 1) ? a.back() : random_float(rng));
  }
  using P = CmpPred;
  std::vector<std::pair<P, std::function<bool(float, float)>>> preds = {
      {P::Oeq, [](float x, float y) { return x == y; }},
      {P::Une, [](float x, float y) { return std::isnan(x) || std::isnan(y) || x != y; }},
      {P::Olt, [](float x, float y) { return x < y; }},
      {P::Ole, [](float x, float y) { return x <= y; }},
      {P::Ogt, [](float x, float y) { return x > y; }},
      {P::Oge, [](float x, float y) { return x >= y; }}};
  for (auto& [p, ref] : preds) {
    SCOPED_TRACE(std::string(ir::pred_name(p)));
    auto out = run_op<uint8_t>(OpCode::FCmp, S(Scalar::I1), {Operand::of(S(Scalar::F32), a), Operand::of(S(Scalar::F32), b)},
                               a.size(), {int64_t(p)});
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(out[i], uint8_t(ref(a[i], b[i]))) << a[i] << " vs " << b[i];
    // bf16 operands compare by value.
    std::vector<uint16_t> ha(a.size()), hb(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      ha[i] = uint16_t(std::bit_cast<uint32_t>(a[i]) >> 16);
      hb[i] = uint16_t(std::bit_cast<uint32_t>(b[i]) >> 16);
    }
    auto oh = run_op<uint8_t>(OpCode::FCmp, S(Scalar::I1), {Operand::of(S(Scalar::BF16), ha), Operand::of(S(Scalar::BF16), hb)},
                              a.size(), {int64_t(p)});
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(oh[i], uint8_t(ref(bf16f(ha[i]), bf16f(hb[i]))));
  }
}

TEST(Compare, SelectWithScalarAndVectorConditions) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const size_t lanes = 128;
  std::vector<uint8_t> c1(lanes), c4(lanes * 4);
  std::vector<uint32_t> a(lanes * 4), b(lanes * 4);
  for (auto& x : c1) x = rng() & 1;
  for (auto& x : c4) x = rng() & 1;
  for (auto& x : a) x = rng();
  for (auto& x : b) x = rng();
  auto per_lane = run_op<uint32_t>(OpCode::Select, V(Scalar::I32, 4),
                                   {Operand::of(S(Scalar::I1), c1), Operand::of(V(Scalar::I32, 4), a), Operand::of(V(Scalar::I32, 4), b)}, lanes);
  auto per_elem = run_op<uint32_t>(OpCode::Select, V(Scalar::F32, 4),
                                   {Operand::of(V(Scalar::I1, 4), c4), Operand::of(V(Scalar::F32, 4), a), Operand::of(V(Scalar::F32, 4), b)}, lanes);
  for (size_t i = 0; i < lanes * 4; ++i) {
    ASSERT_EQ(per_lane[i], c1[i / 4] ? a[i] : b[i]) << i;
    ASSERT_EQ(per_elem[i], c4[i] ? a[i] : b[i]) << i;
  }
}

}  // namespace
}  // namespace emutest
