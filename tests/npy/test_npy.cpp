// Tests of .npy reading and writing: round trips, headers as NumPy writes them, and every error case.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "tests/common/seeded_rng.h"
#include "tools/npy/npy.h"

namespace tilejit::npy {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

// A .npy file built by hand the way NumPy lays it out: magic, version, length, dict header, data.
std::vector<uint8_t> hand_made(const std::string& dict, std::span<const uint8_t> data, int major = 1, int minor = 0,
                               size_t align = 64) {
  const size_t len_bytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + len_bytes + header.size() + 1) % align != 0) header.push_back(' ');
  header.push_back('\n');
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', uint8_t(major), uint8_t(minor)};
  for (size_t i = 0; i < len_bytes; ++i) out.push_back(uint8_t(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(uniform(rng, 0, 255));
  return v;
}

std::filesystem::path temp_file(const std::string& stem) {
  return std::filesystem::temp_directory_path() /
         fmt::format("tilejit_npy_{}_{}_{}.npy", stem, ::getpid(), std::random_device{}());
}

TEST(Npy, SerializeParseRoundTripEveryDtype) {
  SeededRng rng;
  for (DType d : {DType::u1, DType::u2, DType::i4, DType::f4, DType::f2}) {
    for (int trial = 0; trial < 20; ++trial) {
      Array a;
      a.dtype = d;
      const int64_t rank = uniform(*rng, 0, 4);
      for (int64_t i = 0; i < rank; ++i) a.shape.push_back(uniform(*rng, trial == 3 ? 0 : 1, 7));
      a.data = random_bytes(*rng, size_t(a.element_count()) * dtype_size(d));
      const std::vector<uint8_t> bytes = serialize(a);
      ASSERT_EQ(bytes[6], 1);
      ASSERT_EQ(bytes[7], 0);
      const size_t hlen = bytes[8] | (size_t(bytes[9]) << 8);
      ASSERT_EQ((10 + hlen) % 64, 0u) << "data aligned to 64";
      ASSERT_EQ(bytes[10 + hlen - 1], '\n');
      const Array b = parse(bytes, "mem.npy");
      ASSERT_EQ(b.dtype, a.dtype);
      ASSERT_EQ(b.shape, a.shape);
      ASSERT_EQ(b.data, a.data);
    }
  }
}

TEST(Npy, SaveLoadThroughAFile) {
  SeededRng rng;
  std::vector<float> v(size_t(uniform(*rng, 1, 50) * 3));
  for (auto& x : v) x = std::uniform_real_distribution<float>(-1e6f, 1e6f)(*rng);
  const auto path = temp_file("roundtrip");
  save(path, Array::from<float>(v, {int64_t(v.size() / 3), 3}));
  const Array a = load(path);
  std::filesystem::remove(path);
  EXPECT_EQ(a.dtype, DType::f4);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{int64_t(v.size() / 3), 3}));
  EXPECT_EQ(a.values<float>(), v);
  // Typed views of the other dtypes.
  std::vector<int32_t> iv = {-5, 0, 7, int32_t(uniform(*rng, -1000000, 1000000))};
  EXPECT_EQ(parse(serialize(Array::from<int32_t>(iv, {2, 2})), "i.npy").values<int32_t>(), iv);
  std::vector<uint16_t> uv = {1, 65535, uint16_t(uniform(*rng, 0, 65535))};
  EXPECT_EQ(parse(serialize(Array::from<uint16_t>(uv, {3})), "u.npy").values<uint16_t>(), uv);
  std::vector<uint8_t> bv = random_bytes(*rng, 5);
  EXPECT_EQ(parse(serialize(Array::from<uint8_t>(bv, {5})), "b.npy").values<uint8_t>(), bv);
}

TEST(Npy, ReadsHeadersAsNumpyWritesThem) {
  SeededRng rng;
  std::vector<uint8_t> data = random_bytes(*rng, 24);
  // NumPy 1.x style, version 1.0, 64-byte alignment.
  Array a = parse(hand_made("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data), "a.npy");
  EXPECT_EQ(a.dtype, DType::f4);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.data, data);
  // Versions 2.0 and 3.0 (4-byte header length), old 16-byte alignment, other key order, double quotes, no trailing comma.
  a = parse(hand_made("{\"shape\": (12,), \"fortran_order\": False, \"descr\": \"<u2\"}", data, 2, 0, 16), "b.npy");
  EXPECT_EQ(a.dtype, DType::u2);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{12}));
  a = parse(hand_made("{'descr': '<i4', 'fortran_order': False, 'shape': (3L, 2L), }", data, 3), "c.npy");
  EXPECT_EQ(a.dtype, DType::i4);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 2}));
  a = parse(hand_made("{'descr': '|u1', 'fortran_order': False, 'shape': (24,), }", data), "d.npy");
  EXPECT_EQ(a.dtype, DType::u1);
  a = parse(hand_made("{'descr': '<f2', 'fortran_order': False, 'shape': (4, 3), }", data), "e.npy");
  EXPECT_EQ(a.dtype, DType::f2);
  // A 0-d scalar and an empty array.
  a = parse(hand_made("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", std::span(data).first(4)), "f.npy");
  EXPECT_TRUE(a.shape.empty());
  EXPECT_EQ(a.element_count(), 1);
  a = parse(hand_made("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", {}), "g.npy");
  EXPECT_EQ(a.element_count(), 0);
}

TEST(Npy, LargeHeaderUsesVersionTwo) {
  Array a;
  a.dtype = DType::u1;
  a.shape.assign(23000, 1);
  a.data = {42};
  const std::vector<uint8_t> bytes = serialize(a);
  EXPECT_EQ(bytes[6], 2);
  const size_t hlen = bytes[8] | (size_t(bytes[9]) << 8) | (size_t(bytes[10]) << 16) | (size_t(bytes[11]) << 24);
  EXPECT_GT(hlen, 65535u);
  EXPECT_EQ((12 + hlen) % 64, 0u);
  const Array b = parse(bytes, "big.npy");
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
}

TEST(Npy, WrongMagicAndVersion) {
  std::vector<uint8_t> ok = hand_made("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", std::vector<uint8_t>(4));
  std::vector<uint8_t> bad = ok;
  bad[1] = 'X';
  expect_throw_with<NpyError>([&] { parse(bad, "magic.npy"); }, {"magic.npy", "magic"});
  expect_throw_with<NpyError>([&] { parse(std::span(ok).first(5), "short.npy"); }, {"short.npy", "magic"});
  bad = ok;
  bad[6] = 4;
  expect_throw_with<NpyError>([&] { parse(bad, "v4.npy"); }, {"v4.npy", "version 4.0"});
  bad = ok;
  bad[7] = 1;
  expect_throw_with<NpyError>([&] { parse(bad, "v11.npy"); }, {"v11.npy", "version 1.1"});
}

TEST(Npy, UnsupportedDtypeAndOrder) {
  std::vector<uint8_t> d8(8);
  expect_throw_with<NpyError>(
      [&] { parse(hand_made("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", d8), "f8.npy"); },
      {"f8.npy", "unsupported dtype", "<f8"});
  expect_throw_with<NpyError>(
      [&] { parse(hand_made("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", d8), "be.npy"); },
      {"be.npy", ">f4", "big-endian"});
  expect_throw_with<NpyError>(
      [&] { parse(hand_made("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", d8), "st.npy"); },
      {"st.npy", "structured"});
  expect_throw_with<NpyError>(
      [&] { parse(hand_made("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", d8), "fo.npy"); },
      {"fo.npy", "fortran_order"});
}

TEST(Npy, ShapeDataMismatch) {
  SeededRng rng;
  const int64_t n = uniform(*rng, 2, 100);
  std::vector<uint8_t> data = random_bytes(*rng, size_t(n * 4));
  const std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}", n);
  std::vector<uint8_t> file = hand_made(dict, data);
  file.pop_back();
  expect_throw_with<NpyError>([&] { parse(file, "trunc.npy"); },
                              {"trunc.npy", "truncated", std::to_string(n * 4), std::to_string(n * 4 - 1)});
  file.push_back(0);
  file.push_back(0);
  expect_throw_with<NpyError>([&] { parse(file, "extra.npy"); }, {"extra.npy", "extra"});
  // A header length running past the end of the file.
  std::vector<uint8_t> h = hand_made(dict, {});
  h.resize(h.size() - 10);
  expect_throw_with<NpyError>([&] { parse(h, "hdr.npy"); }, {"hdr.npy", "truncated header"});
  // A shape whose size overflows.
  expect_throw_with<NpyError>(
      [&] {
        parse(hand_made("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data), "ovf.npy");
      },
      {"ovf.npy", "overflow"});
}

TEST(Npy, MalformedHeaders) {
  std::vector<uint8_t> d(4);
  const std::pair<const char*, const char*> cases[] = {
      {"{'descr': '<f4', 'fortran_order': False}", "shape"},
      {"{'descr': '<f4', 'shape': (1,)}", "fortran_order"},
      {"{'fortran_order': False, 'shape': (1,)}", "descr"},
      {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}", "True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'extra': 1}", "unknown key"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (1,)}", "expected ','"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", "header"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", "after the dictionary"},
  };
  for (const auto& [dict, part] : cases) {
    SCOPED_TRACE(dict);
    expect_throw_with<NpyError>([&] { parse(hand_made(dict, d), "bad.npy"); }, {"bad.npy", part});
  }
}

TEST(Npy, FileErrorsNameTheFile) {
  const auto missing = temp_file("missing");
  expect_throw_with<NpyError>([&] { load(missing); }, {missing.string(), "cannot open"});
  const auto path = temp_file("trunc");
  {
    std::vector<uint8_t> file = hand_made("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", std::vector<uint8_t>(11));
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(file.data()), std::streamsize(file.size()));
  }
  expect_throw_with<NpyError>([&] { load(path); }, {path.string(), "truncated"});
  std::filesystem::remove(path);
  const auto dir_path = std::filesystem::temp_directory_path() / "tilejit_npy_no_such_dir" / "x.npy";
  expect_throw_with<NpyError>([&] { save(dir_path, Array::from<uint8_t>(std::vector<uint8_t>{1}, {1})); },
                              {dir_path.string(), "cannot open"});
}

TEST(Npy, ArrayChecks) {
  std::vector<float> v(6, 1.0f);
  expect_throw_with<NpyError>([&] { Array::from<float>(v, {4}); }, {"shape (4,)", "16", "24"});
  const Array a = Array::from<float>(v, {2, 3});
  expect_throw_with<NpyError>([&] { (void)a.values<int32_t>(); }, {"<f4", "<i4"});
  Array bad = a;
  bad.data.pop_back();
  expect_throw_with<NpyError>([&] { serialize(bad); }, {"serialize", "(2, 3)"});
  expect_throw_with<NpyError>([&] { save(temp_file("bad"), bad); }, {"tilejit_npy_bad"});
}

}  // namespace
}  // namespace tilejit::npy
