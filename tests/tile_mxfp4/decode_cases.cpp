// The FP4 decode test kernels, inputs and the plain C++ reference.
#include "tests/tile_mxfp4/decode_cases.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "dsl/kernel_family.h"
#include "dsl/tilejit.h"

namespace tilejit::fp4_decode_test {

using namespace dsl;

const KernelDef& decode_kernel(tile::Fp4Path path, tile::Fp4Order order) {
  static const char* paths[] = {"auto", "hardware", "software", "software_small_scale"};
  static const char* orders[] = {"natural", "split"};
  static std::vector<KernelDef> defs = [] {
    std::vector<KernelDef> d;
    for (auto p : {tile::Fp4Path::Auto, tile::Fp4Path::Hardware, tile::Fp4Path::Software, tile::Fp4Path::SoftwareSmallScale})
      for (auto o : {tile::Fp4Order::Natural, tile::Fp4Order::Split})
        d.push_back(kernel(fmt::format("fp4_decode_{}_{}", paths[int(p)], orders[int(o)]),
                           [p, o](Ptr<int32_t> words, Ptr<int32_t> scales, Ptr<int32_t> out, Int n) {
                             Value i = block_id() * block_dim() + thread_id();
                             if_(i < n, [&] {
                               Value v = tile::decode_fp4x8(words[i], scales[i], p, o);
                               store(out + i * 4, bitcast(v, ir::Type::vector(ir::Scalar::I32, 4)));
                             });
                           },
                           {.param_names = {"words", "scales", "out", "n"}}));
    return d;
  }();
  return defs[size_t(path) * 2 + size_t(order)];
}

Cases every_case(std::mt19937& rng, int max_scale) {
  Cases c;
  std::vector<int> order(16);
  for (int i = 0; i < 16; ++i) order[size_t(i)] = i;
  for (int x = 0; x <= max_scale; ++x) {
    std::shuffle(order.begin(), order.end(), rng);
    for (int i : order) {
      uint32_t w = 0;
      for (int e = 0; e < 8; ++e) w |= uint32_t((i + 3 * e) % 16) << (4 * e);  // code i+3e at position e
      c.words.push_back(int32_t(w));
      c.scales.push_back(x);
    }
  }
  return c;
}

uint16_t reference_bits(int code, int scale) {
  static const double table[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  if (scale == 255) return 0x7FFF;
  double v = (code & 8 ? -1 : 1) * std::ldexp(table[code & 7], scale - 127);
  // v has at most 2 significant bits and |v| >= 2^-128: it is a bf16 subnormal or normal
  // exactly, unless it overflows (bf16's largest finite value is below 2^128).
  uint16_t sign = code & 8 ? 0x8000 : 0;
  double m = std::fabs(v);
  if (m == 0) return sign;
  if (m >= std::ldexp(1.0, 128)) return sign | 0x7F80;
  float f = float(m);  // exact
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0xFFFF) != 0) return 0xDEAD;  // not representable in bf16: the reasoning above is wrong
  return uint16_t(sign | (b >> 16));
}

std::vector<int32_t> run_decode(Device& device, tile::Fp4Path path, tile::Fp4Order order, const Cases& cases) {
  int n = int(cases.words.size());
  Buffer<int32_t> w(device, std::span<const int32_t>(cases.words)), s(device, std::span<const int32_t>(cases.scales));
  Buffer<int32_t> out(device, size_t(n) * 4);
  out.fill_bytes(0xA5);
  Kernel k = compile(decode_kernel(path, order), device);
  k.launch({uint32_t((n + 127) / 128)}, {128}, w, s, out, n);
  return out.download();
}

size_t count_mismatches(const Cases& cases, const std::vector<int32_t>& out, tile::Fp4Order order, std::string& first,
                        bool any_nan) {
  size_t bad = 0;
  for (size_t i = 0; i < cases.words.size(); ++i)
    for (int e = 0; e < 8; ++e) {
      int pos = order == tile::Fp4Order::Natural ? e : e / 2 + 4 * (e % 2);  // the code element e holds
      int code = int((uint32_t(cases.words[i]) >> (4 * pos)) & 15);
      uint16_t got = uint16_t(uint32_t(out[i * 4 + size_t(e / 2)]) >> (16 * (e % 2)));
      uint16_t want = reference_bits(code, cases.scales[i]);
      bool nan_ok = any_nan && cases.scales[i] == 255 && (got & 0x7F80) == 0x7F80 && (got & 0x7F) != 0;
      if (got != want && !nan_ok && bad++ == 0)
        first = fmt::format("code {} at position {} (element {}) with scale {}: got 0x{:04x}, want 0x{:04x}", code, pos, e,
                            cases.scales[i], got, want);
    }
  return bad;
}

}  // namespace tilejit::fp4_decode_test
