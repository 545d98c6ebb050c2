// .npy reading (header dict parser, size checks) and writing.
#include "tools/npy/npy.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>

namespace tilejit::npy {
namespace {

constexpr uint8_t kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kAlign = 64;

std::string shape_text(const std::vector<int64_t>& shape) {
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

// Parses the Python dict literal of a .npy header.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view name) : s_(text), name_(name) {}

  void parse(std::string& descr, bool& fortran, std::vector<int64_t>& shape) {
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      const std::string key = string_literal();
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("unsupported dtype: descr is not a simple type string (structured dtypes are not supported)");
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran = boolean();
        have_fortran = true;
      } else if (key == "shape") {
        shape = tuple();
        have_shape = true;
      } else {
        fail(fmt::format("header has an unknown key '{}'", key));
      }
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail(fmt::format("header: expected ',' or '}}' at offset {}", pos_));
      }
    }
    skip_ws();
    if (pos_ != s_.size()) fail(fmt::format("header: unexpected text after the dictionary at offset {}", pos_));
    if (!have_descr) fail("header has no 'descr'");
    if (!have_fortran) fail("header has no 'fortran_order'");
    if (!have_shape) fail("header has no 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw NpyError(fmt::format("{}: {}", name_, what)); }
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void expect(char c) {
    if (peek() != c) fail(fmt::format("header: expected '{}' at offset {}", c, pos_));
    ++pos_;
  }
  std::string string_literal() {
    const char q = peek();
    if (q != '\'' && q != '"') fail(fmt::format("header: expected a quoted string at offset {}", pos_));
    const size_t end = s_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("header: unterminated string");
    std::string v(s_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return v;
  }
  bool boolean() {
    if (s_.substr(pos_, 4) == "True") {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_, 5) == "False") {
      pos_ += 5;
      return false;
    }
    fail(fmt::format("header: expected True or False at offset {}", pos_));
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> v;
    expect('(');
    for (;;) {
      skip_ws();
      if (peek() == ')') {
        ++pos_;
        return v;
      }
      if (!std::isdigit(static_cast<unsigned char>(peek())))
        fail(fmt::format("header: bad shape: expected a non-negative integer at offset {}", pos_));
      int64_t x = 0;
      while (std::isdigit(static_cast<unsigned char>(peek()))) {
        if (__builtin_mul_overflow(x, int64_t(10), &x) || __builtin_add_overflow(x, int64_t(peek() - '0'), &x))
          fail("header: bad shape: a dimension overflows int64");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      v.push_back(x);
      skip_ws();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ')') {
        fail(fmt::format("header: bad shape: expected ',' or ')' at offset {}", pos_));
      }
    }
  }

  std::string_view s_;
  std::string_view name_;
  size_t pos_ = 0;
};

DType dtype_from_descr(const std::string& descr, std::string_view name) {
  if (descr == "|u1" || descr == "<u1") return DType::u1;
  if (descr == "<u2") return DType::u2;
  if (descr == "<i4") return DType::i4;
  if (descr == "<f4") return DType::f4;
  if (descr == "<f2") return DType::f2;
  if (!descr.empty() && descr[0] == '>')
    throw NpyError(fmt::format("{}: unsupported dtype '{}': big-endian data is not supported", name, descr));
  throw NpyError(
      fmt::format("{}: unsupported dtype '{}' (supported: |u1, <u2, <i4, <f4, <f2)", name, descr));
}

uint32_t read_le(std::span<const uint8_t> b, size_t at, size_t n) {
  uint32_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint32_t(b[at + i]) << (8 * i);
  return v;
}

}  // namespace

size_t dtype_size(DType d) {
  switch (d) {
    case DType::u1: return 1;
    case DType::u2: return 2;
    case DType::i4: return 4;
    case DType::f4: return 4;
    case DType::f2: return 2;
  }
  return 0;
}

std::string_view dtype_descr(DType d) {
  switch (d) {
    case DType::u1: return "|u1";
    case DType::u2: return "<u2";
    case DType::i4: return "<i4";
    case DType::f4: return "<f4";
    case DType::f2: return "<f2";
  }
  return "?";
}

int64_t Array::element_count() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void Array::check_size(std::string_view where) const {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw NpyError(fmt::format("{}: shape {} has a negative dimension", where, shape_text(shape)));
    if (__builtin_mul_overflow(n, d, &n)) throw NpyError(fmt::format("{}: shape {} overflows", where, shape_text(shape)));
  }
  if (uint64_t(n) * dtype_size(dtype) != data.size())
    throw NpyError(fmt::format("{}: shape {} of {} needs {} bytes, the array holds {}", where, shape_text(shape),
                               dtype_descr(dtype), uint64_t(n) * dtype_size(dtype), data.size()));
}

void Array::check_dtype(DType want) const {
  if (dtype != want)
    throw NpyError(fmt::format("npy::Array::values: the array has dtype {}, asked for {}", dtype_descr(dtype), dtype_descr(want)));
}

Array parse(std::span<const uint8_t> bytes, std::string_view name) {
  if (bytes.size() < 8 || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    throw NpyError(fmt::format("{}: not a .npy file (wrong magic)", name));
  const int major = bytes[6], minor = bytes[7];
  if (minor != 0 || major < 1 || major > 3)
    throw NpyError(fmt::format("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", name, major, minor));
  const size_t len_bytes = major == 1 ? 2 : 4;
  if (bytes.size() < 8 + len_bytes) throw NpyError(fmt::format("{}: truncated header", name));
  const size_t header_len = read_le(bytes, 8, len_bytes);
  const size_t data_start = 8 + len_bytes + header_len;
  if (bytes.size() < data_start)
    throw NpyError(fmt::format("{}: truncated header: it claims {} bytes, the file has {} after the length field", name,
                               header_len, bytes.size() - 8 - len_bytes));
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()) + 8 + len_bytes, header_len);

  std::string descr;
  bool fortran = false;
  Array a;
  HeaderParser(text, name).parse(descr, fortran, a.shape);
  a.dtype = dtype_from_descr(descr, name);
  if (fortran)
    throw NpyError(fmt::format("{}: unsupported order: fortran_order is True (only C order is supported)", name));

  uint64_t count = 1;
  for (int64_t d : a.shape)
    if (__builtin_mul_overflow(count, uint64_t(d), &count))
      throw NpyError(fmt::format("{}: shape {} overflows", name, shape_text(a.shape)));
  uint64_t need = 0;
  if (__builtin_mul_overflow(count, uint64_t(dtype_size(a.dtype)), &need))
    throw NpyError(fmt::format("{}: shape {} overflows", name, shape_text(a.shape)));
  const uint64_t have = bytes.size() - data_start;
  if (have < need)
    throw NpyError(fmt::format("{}: truncated data: shape {} of {} needs {} bytes, the file has {}", name,
                               shape_text(a.shape), descr, need, have));
  if (have > need)
    throw NpyError(fmt::format("{}: shape {} of {} needs {} data bytes, but the file has {} (extra bytes after the data)",
                               name, shape_text(a.shape), descr, need, have));
  a.data.assign(bytes.begin() + std::ptrdiff_t(data_start), bytes.end());
  return a;
}

Array load(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw NpyError(fmt::format("{}: cannot open for reading", path.string()));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw NpyError(fmt::format("{}: read error", path.string()));
  return parse(bytes, path.string());
}

std::vector<uint8_t> serialize(const Array& a) {
  a.check_size("npy::serialize");
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", dtype_descr(a.dtype), shape_text(a.shape));
  // Version 1.0 has a 16-bit header length; fall back to 2.0 when it does not fit.
  int major = 1;
  size_t prefix = 10;
  size_t total = (prefix + header.size() + 1 + kAlign - 1) / kAlign * kAlign;
  if (total - prefix > 0xFFFF) {
    major = 2;
    prefix = 12;
    total = (prefix + header.size() + 1 + kAlign - 1) / kAlign * kAlign;
  }
  header.append(total - prefix - header.size() - 1, ' ');
  header.push_back('\n');

  std::vector<uint8_t> out(std::begin(kMagic), std::end(kMagic));
  out.push_back(uint8_t(major));
  out.push_back(0);
  const size_t len = header.size();
  for (size_t i = 0; i < prefix - 8; ++i) out.push_back(uint8_t(len >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

void save(const std::filesystem::path& path, const Array& a) {
  std::vector<uint8_t> bytes;
  try {
    bytes = serialize(a);
  } catch (const NpyError& e) {
    throw NpyError(fmt::format("{}: {}", path.string(), e.what()));
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw NpyError(fmt::format("{}: cannot open for writing", path.string()));
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  f.close();
  if (!f) throw NpyError(fmt::format("{}: write error", path.string()));
}

}  // namespace tilejit::npy
