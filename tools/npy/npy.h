// NumPy .npy files: versions 1.0/2.0/3.0, little-endian, C order; dtypes u1, u2, i4, f4, f2.
#pragma once
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/error.h"

namespace tilejit::npy {

/// A malformed or unsupported .npy file, or a bad array; the message names the file.
class NpyError : public tilejit::Error {
 public:
  using Error::Error;
};

/// Element types this reader supports (descr in parentheses).
enum class DType {
  u1,  ///< uint8 ('|u1')
  u2,  ///< uint16 ('<u2'), also used for bf16 bits
  i4,  ///< int32 ('<i4')
  f4,  ///< float32 ('<f4')
  f2,  ///< IEEE half ('<f2'), kept as raw uint16 bits
};

/// Bytes per element of `d`.
size_t dtype_size(DType d);
/// NumPy descr string written for `d` ("|u1", "<u2", "<i4", "<f4", "<f2").
std::string_view dtype_descr(DType d);

/// The C++ element type of a dtype (f2 has none: read it through raw bytes or u2-style bits).
template <class T>
struct DTypeOf;
template <> struct DTypeOf<uint8_t> { static constexpr DType value = DType::u1; };
template <> struct DTypeOf<uint16_t> { static constexpr DType value = DType::u2; };
template <> struct DTypeOf<int32_t> { static constexpr DType value = DType::i4; };
template <> struct DTypeOf<float> { static constexpr DType value = DType::f4; };

/// An array: dtype, shape (empty = a 0-d scalar) and its bytes in C order, little-endian.
struct Array {
  DType dtype = DType::u1;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  /// Product of the shape (1 for a scalar).
  int64_t element_count() const;

  /// The elements as T; throws NpyError unless dtype is DTypeOf<T>.
  template <class T>
  std::vector<T> values() const {
    check_dtype(DTypeOf<T>::value);
    std::vector<T> v(data.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), data.data(), v.size() * sizeof(T));
    return v;
  }

  /// An array of dtype DTypeOf<T> holding `v` with `shape`; throws NpyError when
  /// the shape's product differs from v.size().
  template <class T>
  static Array from(std::span<const T> v, std::vector<int64_t> shape) {
    Array a;
    a.dtype = DTypeOf<T>::value;
    a.shape = std::move(shape);
    a.data.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(a.data.data(), v.data(), a.data.size());
    a.check_size("Array::from");
    return a;
  }

  /// Throws NpyError (prefixed with `where`) unless data.size() == element_count() * dtype_size(dtype).
  void check_size(std::string_view where) const;

 private:
  void check_dtype(DType want) const;
};

/// Parses .npy bytes; `name` (the file name) prefixes every error message.
/// Accepts versions 1.0, 2.0, 3.0; descr '<'/'|' for u1, '<' for u2/i4/f4/f2;
/// fortran_order must be False; the data must be exactly the shape's size.
Array parse(std::span<const uint8_t> bytes, std::string_view name);

/// Reads a .npy file; errors name the file.
Array load(const std::filesystem::path& path);

/// Serialises to .npy bytes: version 1.0, or 2.0 when the header needs more than
/// 65535 bytes; header padded with spaces so that the data starts at a multiple of 64.
std::vector<uint8_t> serialize(const Array& a);

/// Writes a .npy file; errors name the file.
void save(const std::filesystem::path& path, const Array& a);

}  // namespace tilejit::npy
