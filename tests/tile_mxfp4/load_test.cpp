// load_b_mxfp4 and load_mxfp4_codes on the emulator for both targets: every row (and rows past
// N), every 32-K block, 16-byte and 4-byte reads, against the host preshuffle's inverse (the plain
// row-major codes).
#include <gtest/gtest.h>

#include <cstring>

#include "backend/emulator/emulator.h"
#include "backend/launch/kernel.h"
#include "dsl/tilejit.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/mxfp4/preshuffle.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"

using namespace tilejit;
using namespace tilejit::dsl;

namespace {

// Thread i reads row i / blocks, block i % blocks: out[8i..8i+3] the 16-byte read (or the four
// 4-byte reads when `narrow`, three of them codes only), out[8i+4] the scale (8 words per thread
// keep 16-byte alignment).
// The 16-byte reads use the stream cache policy, the 4-byte reads the normal one: both must
// read the same bytes. out[8i+5] and out[8i+6]: the scale picked out of the scale word read for
// (n, kb) and for its partner (n ^ 16, kb ^ 4).
KernelDef load_kernel(bool narrow, bool checked) {
  return kernel(fmt::format("load_b_mxfp4_{}_{}", narrow ? "narrow" : "wide", checked ? "checked" : "unchecked"),
                [narrow, checked](Ptr<int32_t> w, Ptr<uint8_t> s, Ptr<int32_t> out, Int N, Int K, Int rows) {
                  Value i = block_id() * block_dim() + thread_id();
                  Value blocks = udiv(K, 32);
                  if_(i < rows * blocks, [&] {
                    Value n = udiv(i, blocks), kb = urem(i, blocks);
                    Value base = i * 8;
                    Value own = tile::load_mxfp4_scale_word(s, n, kb, N, K, checked);
                    Value partner = tile::load_mxfp4_scale_word(s, n ^ 16, kb ^ 4, N, K, checked);
                    out[base + 5] = tile::mxfp4_scale_in_word(own, n, kb);
                    out[base + 6] = tile::mxfp4_scale_in_word(partner, n, kb);
                    if (narrow) {
                      // Word 0 with its scale, words 1..3 without (load_mxfp4_codes).
                      tile::Mxfp4Fragment f = tile::load_b_mxfp4(w, s, n, kb, N, K, 1, 0, checked);
                      out[base] = f.words;
                      out[base + 4] = f.scale;
                      for (int q = 1; q < 4; ++q) out[base + q] = tile::load_mxfp4_codes(w, n, kb, N, K, 1, q, checked);
                    } else {
                      tile::Mxfp4Fragment f = tile::load_b_mxfp4(w, s, n, kb, N, K, 4, 0, checked, ir::CachePolicy::Stream);
                      store(out + base, f.words);
                      out[base + 4] = f.scale;
                    }
                  });
                },
                {.param_names = {"w", "s", "out", "N", "K", "rows"}});
}

void check(Target t, bool narrow, bool checked = true) {
  testing_support::SeededRng rng;
  const int N = 64, K = 512, rows = checked ? N + 16 : N;  // checked reads also 16 rows past N
  std::vector<uint8_t> w(size_t(N) * K / 2), s(size_t(N) * K / 32);
  for (auto& b : w) b = uint8_t((*rng)());
  for (auto& b : s) b = uint8_t((*rng)());
  auto wp = mxfp4::preshuffle_weights(w, 1, N, K), sp = mxfp4::preshuffle_scales(s, 1, N, K);
  std::vector<int32_t> w_words(wp.size() / 4);
  std::memcpy(w_words.data(), wp.data(), wp.size());
  Device& dev = testing_support::emulator_device(t);
  Buffer<int32_t> dw(dev, std::span<const int32_t>(w_words));
  Buffer<uint8_t> ds(dev, std::span<const uint8_t>(sp));
  const int blocks = K / 32, threads = rows * blocks;
  Buffer<int32_t> out(dev, size_t(threads) * 8);
  out.fill_bytes(0xA5);
  static const KernelDef defs[2][2] = {{load_kernel(false, false), load_kernel(false, true)},
                                       {load_kernel(true, false), load_kernel(true, true)}};
  Kernel k = compile(defs[narrow][checked], dev);
  k.launch({uint32_t((threads + 127) / 128)}, {128}, dw, ds, out, N, K, rows);
  auto got = out.download();
  size_t bad = 0;
  std::string first;
  for (int n = 0; n < rows; ++n)
    for (int kb = 0; kb < blocks; ++kb) {
      size_t i = size_t(n * blocks + kb);
      for (int q = 0; q < 4; ++q) {
        uint32_t want = 0;
        if (n < N)
          for (int b = 0; b < 4; ++b) want |= uint32_t(w[size_t(n) * K / 2 + size_t(kb) * 16 + size_t(q) * 4 + size_t(b)]) << (8 * b);
        if (uint32_t(got[8 * i + size_t(q)]) != want && bad++ == 0)
          first = fmt::format("row {} block {} word {}: got {:08x}, want {:08x}", n, kb, q, uint32_t(got[8 * i + size_t(q)]), want);
      }
      int want_s = s[size_t(std::min(n, N - 1)) * blocks + size_t(kb)];
      if (got[8 * i + 4] != want_s && bad++ == 0)
        first = fmt::format("row {} block {} scale: got {}, want {}", n, kb, got[8 * i + 4], want_s);
      // Rows past N read row N-1's word: the scales of rows N-17 and N-1.
      int word_row = n < N ? n : (n / 16) % 2 ? N - 1 : N - 17;
      int want_w = s[size_t(word_row) * blocks + size_t(kb)];
      for (int e : {5, 6})
        if (got[8 * i + size_t(e)] != want_w && (n < N || e == 5) && bad++ == 0)
          first = fmt::format("row {} block {} scale from the {} word: got {}, want {}", n, kb, e == 5 ? "own" : "partner's",
                              got[8 * i + size_t(e)], want_w);
    }
  EXPECT_EQ(bad, 0u) << first;
}

TEST(LoadBMxfp4, WideReadsOnSm90a) { check(Target::Sm90a, false); }
TEST(LoadBMxfp4, NarrowReadsOnSm90a) { check(Target::Sm90a, true); }
TEST(LoadBMxfp4, WideReadsOnGfx950) { check(Target::Gfx950, false); }
TEST(LoadBMxfp4, NarrowReadsOnGfx950) { check(Target::Gfx950, true); }
TEST(LoadBMxfp4, UncheckedReadsOnSm90a) {
  check(Target::Sm90a, false, false);
  check(Target::Sm90a, true, false);
}
TEST(LoadBMxfp4, UncheckedReadsOnGfx950) {
  check(Target::Gfx950, false, false);
  check(Target::Gfx950, true, false);
}

TEST(LoadBMxfp4, RejectsOtherWordCounts) {
  auto bad = kernel("load_b_mxfp4_bad", [](Ptr<int32_t> w, Ptr<uint8_t> s, Ptr<int32_t> out) {
    out[0] = tile::load_b_mxfp4(w, s, 0, 0, 32, 256, 2).words;
  });
  testing_support::expect_throw_with<UserError>([&] { bad.trace(Target::Sm90a); }, {"1 or 4 words"});
}

}  // namespace
