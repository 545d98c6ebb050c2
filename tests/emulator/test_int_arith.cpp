// Integer ops (add..umax, division, shifts, i1 logic) against plain C++ on random inputs.
#include <limits>
#include <type_traits>

#include "emu_test.h"

namespace emutest {
namespace {

template <class T>
struct IntInfo;
template <> struct IntInfo<int8_t> { static constexpr Scalar s = Scalar::I8; };
template <> struct IntInfo<int16_t> { static constexpr Scalar s = Scalar::I16; };
template <> struct IntInfo<int32_t> { static constexpr Scalar s = Scalar::I32; };
template <> struct IntInfo<int64_t> { static constexpr Scalar s = Scalar::I64; };

template <class T>
std::vector<T> random_ints(std::mt19937& rng, size_t n) {
  using U = std::make_unsigned_t<T>;
  std::vector<T> v(n);
  for (auto& x : v) {
    uint64_t r = (uint64_t(rng()) << 32) | rng();
    switch (rng() % 4) {
      case 0: x = T(int64_t(r % 7) - 3); break;                                   // small, both signs
      case 1: x = (rng() & 1) ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max(); break;
      default: x = T(U(r)); break;
    }
  }
  return v;
}

template <class T>
class IntOps : public ::testing::Test {};
using IntTypes = ::testing::Types<int8_t, int16_t, int32_t, int64_t>;
TYPED_TEST_SUITE(IntOps, IntTypes);

TYPED_TEST(IntOps, BinaryOpsWrapAroundLikeCpp) {
  using T = TypeParam;
  using U = std::make_unsigned_t<T>;
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Scalar s = IntInfo<T>::s;
  const int width = 2;  // <2 x iN>: vectors are element-wise
  const size_t lanes = 128;
  auto a = random_ints<T>(rng, lanes * width), b = random_ints<T>(rng, lanes * width);
  struct Case {
    OpCode code;
    std::function<T(T, T)> ref;
  };
  std::vector<Case> cases = {
      {OpCode::Add, [](T x, T y) { return T(U(U(x) + U(y))); }},
      {OpCode::Sub, [](T x, T y) { return T(U(U(x) - U(y))); }},
      {OpCode::Mul, [](T x, T y) { return T(U(uint64_t(U(x)) * uint64_t(U(y)))); }},
      {OpCode::And, [](T x, T y) { return T(x & y); }},
      {OpCode::Or, [](T x, T y) { return T(x | y); }},
      {OpCode::Xor, [](T x, T y) { return T(x ^ y); }},
      {OpCode::SMin, [](T x, T y) { return std::min(x, y); }},
      {OpCode::SMax, [](T x, T y) { return std::max(x, y); }},
      {OpCode::UMin, [](T x, T y) { return T(std::min(U(x), U(y))); }},
      {OpCode::UMax, [](T x, T y) { return T(std::max(U(x), U(y))); }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    auto out = run_op<T>(c.code, V(s, width), {Operand::of(V(s, width), a), Operand::of(V(s, width), b)}, lanes);
    ASSERT_EQ(out.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(out[i], c.ref(a[i], b[i])) << "element " << i;
  }
}

TYPED_TEST(IntOps, BitSelectTakesMaskedBitsFromTheFirstValue) {
  using T = TypeParam;
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Scalar s = IntInfo<T>::s;
  const int width = 2;
  const size_t lanes = 128;
  auto m = random_ints<T>(rng, lanes * width), a = random_ints<T>(rng, lanes * width),
       b = random_ints<T>(rng, lanes * width);
  auto out = run_op<T>(OpCode::BitSelect, V(s, width),
                       {Operand::of(V(s, width), m), Operand::of(V(s, width), a), Operand::of(V(s, width), b)}, lanes);
  ASSERT_EQ(out.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    // Bit by bit, as the definition reads.
    T want = 0;
    for (int bit = 0; bit < int(sizeof(T) * 8); ++bit) {
      bool from_a = (uint64_t(m[i]) >> bit) & 1;
      uint64_t src = uint64_t(from_a ? a[i] : b[i]);
      if ((src >> bit) & 1) want = T(uint64_t(want) | (uint64_t(1) << bit));
    }
    ASSERT_EQ(out[i], want) << "element " << i << " mask " << +m[i] << " a " << +a[i] << " b " << +b[i];
  }
}

TYPED_TEST(IntOps, DivisionAndRemainderMatchCpp) {
  using T = TypeParam;
  using U = std::make_unsigned_t<T>;
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Scalar s = IntInfo<T>::s;
  const size_t lanes = 256;
  auto a = random_ints<T>(rng, lanes), b = random_ints<T>(rng, lanes);
  for (size_t i = 0; i < lanes; ++i) {
    if (b[i] == 0) b[i] = T(1 + rng() % 5);
    if (a[i] == std::numeric_limits<T>::min() && b[i] == T(-1)) b[i] = T(-2);
  }
  struct Case {
    OpCode code;
    std::function<T(T, T)> ref;
  };
  std::vector<Case> cases = {
      {OpCode::SDiv, [](T x, T y) { return T(int64_t(x) / int64_t(y)); }},
      {OpCode::SRem, [](T x, T y) { return T(int64_t(x) % int64_t(y)); }},
      {OpCode::UDiv, [](T x, T y) { return T(U(x) / U(y)); }},
      {OpCode::URem, [](T x, T y) { return T(U(x) % U(y)); }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    auto out = run_op<T>(c.code, S(s), {Operand::of(S(s), a), Operand::of(S(s), b)}, lanes);
    for (size_t i = 0; i < lanes; ++i) ASSERT_EQ(out[i], c.ref(a[i], b[i])) << a[i] << " op " << b[i];
  }
}

TYPED_TEST(IntOps, ShiftsMatchCpp) {
  using T = TypeParam;
  using U = std::make_unsigned_t<T>;
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Scalar s = IntInfo<T>::s;
  const int bits = int(sizeof(T) * 8);
  const size_t lanes = 256;
  auto a = random_ints<T>(rng, lanes);
  std::vector<T> b(lanes);
  for (auto& x : b) x = T(rng() % bits);
  struct Case {
    OpCode code;
    std::function<T(T, T)> ref;
  };
  std::vector<Case> cases = {
      {OpCode::Shl, [](T x, T y) { return T(U(uint64_t(U(x)) << y)); }},
      {OpCode::LShr, [](T x, T y) { return T(U(x) >> y); }},
      {OpCode::AShr, [](T x, T y) { return T(int64_t(x) >> y); }},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    auto out = run_op<T>(c.code, S(s), {Operand::of(S(s), a), Operand::of(S(s), b)}, lanes);
    for (size_t i = 0; i < lanes; ++i) ASSERT_EQ(out[i], c.ref(a[i], b[i])) << a[i] << " by " << int64_t(b[i]);
  }
}

TEST(IntOps, BoolLogicOnI1Vectors) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const size_t lanes = 128;
  std::vector<uint8_t> a(lanes * 4), b(lanes * 4);
  for (auto& x : a) x = rng() & 1;
  for (auto& x : b) x = rng() & 1;
  for (auto [code, ref] : std::vector<std::pair<OpCode, std::function<int(int, int)>>>{
           {OpCode::And, [](int x, int y) { return x & y; }},
           {OpCode::Or, [](int x, int y) { return x | y; }},
           {OpCode::Xor, [](int x, int y) { return x ^ y; }}}) {
    auto out = run_op<uint8_t>(code, V(Scalar::I1, 4),
                               {Operand::of(V(Scalar::I1, 4), a), Operand::of(V(Scalar::I1, 4), b)}, lanes);
    for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(int(out[i]), ref(a[i], b[i])) << "element " << i;
  }
}

TEST(IntOps, I1ArithmeticIsRejectedAtLoad) {
  Kernel k("bad_i1");
  ValueId t = k.cbits(S(Scalar::I1), 1);
  k.op(OpCode::Add, S(Scalar::I1), {t, t});
  auto dev = emulator::make_emulator_device();
  try {
    dev->load(k.fn, nullptr);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"bad_i1", "'add'", "test_int_arith.cpp", "i1"}));
  }
}

}  // namespace
}  // namespace emutest
