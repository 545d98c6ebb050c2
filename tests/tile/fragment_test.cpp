// Shared -> MMA operand loads on the emulator of both targets: every lane's A and B operand
// registers (ldmatrix / ldmatrix.trans on sm_90a, 16-byte reads on gfx950) hold the tile elements
// the instruction's lane map names; an MMA chain fed from shared tiles equals a C++ dot product.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <map>

#include "backend/launch/kernel.h"
#include "dsl/matrix/mma.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/layout.h"
#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/tile_test_util.h"

using namespace tilejit;
using namespace tilejit::tile_test;

namespace {

enum class Operand { A, B, BTrans };

struct FragCase {
  const char* name;
  Operand operand;
  int rows, cols;  // the shared tile
  int count;       // B: column tiles per call
};

void PrintTo(const FragCase& c, std::ostream* os) { *os << c.name; }

const matrix::MmaInfo& mma_of(Target t) { return matrix::mma_info(*matrix::mma_for_target(t)); }

/// Two waves copy a tile (rows/cols past the valid range read 0), load one operand set at
/// (origin, k0 + k_dyn) (k_dyn a run-time K offset; 0 for BTrans) and write each thread's
/// registers to out[thread][register element].
KernelDef fragment_kernel(const FragCase& c, int k0, int threads, const std::string& name) {
  KernelOptions opts;
  opts.block = {uint32_t(threads), 1, 1};
  return kernel(name,
                [c, k0, threads](Ptr<bf16> src, Ptr<bf16> out, Int ld, Int rows_valid, Int cols_valid, Int origin, Int k_dyn) {
                  tile::SharedTile t = tile::make_shared_tile(c.rows, c.cols);
                  tile::copy_to_shared(t, 0, src, ld, rows_valid, Value(cols_valid), threads);
                  tile::copy_commit();
                  tile::copy_wait(0);
                  barrier();
                  std::vector<Value> regs;
                  if (c.operand == Operand::A) regs.push_back(tile::load_a_fragment(t, 0, origin, k0, Value(k_dyn)));
                  else if (c.operand == Operand::B) regs = tile::load_b_fragments(t, 0, origin, k0, c.count, Value(k_dyn));
                  else regs = tile::load_b_fragments_trans(t, 0, origin, k0, c.count);
                  const int width = regs[0].type().width, per_thread = width * int(regs.size());
                  for (size_t i = 0; i < regs.size(); ++i)
                    store(out, thread_id() * per_thread + int(i) * width, regs[i]);
                },
                opts);
}

struct Fragments : ::testing::TestWithParam<std::tuple<FragCase, Target>> {};

TEST_P(Fragments, EveryLaneHoldsItsLaneMapElements) {
  const auto& [c, target] = GetParam();
  testing_support::SeededRng rng;
  Device& device = testing_support::emulator_device(target);
  const matrix::MmaInfo& mma = mma_of(target);
  const int threads = 2 * mma.wave_size;
  static std::map<std::string, KernelDef> defs;

  for (int trial = 0; trial < 4; ++trial) {
    // The K offset is baked into the code; the row / column origin is a launch argument.
    const bool trans = c.operand == Operand::BTrans;
    const int k_extent = trans ? c.rows : c.cols;
    const int k0 = trans ? int(testing_support::uniform(*rng, 0, k_extent - mma.k))
                         : 8 * int(testing_support::uniform(*rng, 0, (k_extent - mma.k) / 8));
    const int span = c.operand == Operand::A ? 16 : c.count * mma.n;  // rows (A, B) or columns (BTrans)
    const int origin = trans ? 8 * int(testing_support::uniform(*rng, 0, (c.cols - span) / 8))
                             : int(testing_support::uniform(*rng, 0, c.rows - span));
    const int ld = c.cols + 8 * int(testing_support::uniform(*rng, 0, 2));
    const int rows_valid = int(testing_support::uniform(*rng, c.rows / 2, c.rows));
    const int cols_valid = int(testing_support::uniform(*rng, c.cols / 2, c.cols));
    SCOPED_TRACE(fmt::format("k0 {} origin {} ld {} rows_valid {} cols_valid {}", k0, origin, ld, rows_valid, cols_valid));

    // Part of K (a multiple of 8) comes as a run-time offset, the rest is baked into the code.
    const int k_dyn = trans ? 0 : 8 * int(testing_support::uniform(*rng, 0, k0 / 8));
    const int k_static = k0 - k_dyn;
    std::string name = fmt::format("tile_frag_{}_{}_k{}", c.name, tile_test::target_tag(target), k_static);
    if (!defs.count(name)) defs.emplace(name, fragment_kernel(c, k_static, threads, name));
    Kernel k = compile(defs.at(name), device);

    std::vector<uint16_t> src = random_bf16(*rng, size_t(rows_valid) * size_t(ld));
    const int elems = c.operand == Operand::A ? mma.a_elems : mma.b_elems;
    const int regs = c.operand == Operand::A ? 1 : c.count;
    const size_t per_thread = size_t(elems * regs);
    Buffer<uint16_t> dsrc(device, std::span<const uint16_t>(src));
    Buffer<uint16_t> dout(device, per_thread * threads);
    dout.fill_bytes(0xFF);
    k.launch({1, 1, 1}, {uint32_t(threads), 1, 1}, dsrc, dout, ld, rows_valid, cols_valid, origin, k_dyn);
    std::vector<uint16_t> got = dout.download();

    SourceView view{&src, ld, rows_valid, cols_valid};
    size_t bad = 0;
    for (int t = 0; t < threads; ++t) {
      const int lane = t % mma.wave_size;
      for (int r = 0; r < regs; ++r)
        for (int e = 0; e < elems; ++e) {
          uint16_t want;
          if (c.operand == Operand::A) {
            matrix::Coord mk = mma.a_at(lane, e);  // (m, k)
            want = view.at(origin + mk.row, k0 + mk.col);
          } else {
            matrix::Coord kn = mma.b_at(lane, e);  // (k, n)
            const int n = origin + r * mma.n + kn.col;
            want = trans ? view.at(k0 + kn.row, n) : view.at(n, k0 + kn.row);
          }
          uint16_t g = got[size_t(t) * per_thread + size_t(r * elems + e)];
          if (g != want && bad++ < 5)
            ADD_FAILURE() << "thread " << t << " register set " << r << " element " << e << ": got 0x" << std::hex << g
                          << ", want 0x" << want;
        }
    }
    EXPECT_EQ(bad, 0u);
  }
}

const FragCase kFragCases[] = {
    // name, operand, rows, cols, count
    {"a_64x32", Operand::A, 64, 32, 1},
    {"a_48x64", Operand::A, 48, 64, 1},
    {"a_32x128", Operand::A, 32, 128, 1},
    {"b_64x32_x4", Operand::B, 64, 32, 4},
    {"b_64x64_x3", Operand::B, 64, 64, 3},
    {"b_32x32_x1", Operand::B, 32, 32, 1},
    {"btrans_64x64_x2", Operand::BTrans, 64, 64, 2},
    {"btrans_48x128_x3", Operand::BTrans, 48, 128, 3},
};

INSTANTIATE_TEST_SUITE_P(Cases, Fragments,
                         ::testing::Combine(::testing::ValuesIn(kFragCases), ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + target_tag(std::get<1>(info.param));
                         });

// ---- an MMA chain over K fed from shared tiles

/// C (16 x count*mma_n) = A (16 x kt) x B^T, A [16][kt] and B [count*mma_n][kt] (or [kt][N] when
/// trans) in shared memory; each thread writes its accumulators to out[thread][tile][element].
KernelDef mma_kernel(int kt, int count, bool trans, int threads, const std::string& name) {
  KernelOptions opts;
  opts.block = {uint32_t(threads), 1, 1};
  return kernel(name,
                [=](Ptr<bf16> a, Ptr<bf16> b, Ptr<float> out) {
                  const matrix::MmaInfo& mma = tile::target_mma();
                  const int n = count * mma.n;
                  tile::SharedTile ta = tile::make_shared_tile(16, kt);
                  tile::SharedTile tb = trans ? tile::make_shared_tile(kt, n) : tile::make_shared_tile(n, kt);
                  tile::copy_to_shared(ta, 0, a, kt, 16, std::nullopt, threads);
                  if (trans) tile::copy_to_shared(tb, 0, b, n, kt, std::nullopt, threads);
                  else tile::copy_to_shared(tb, 0, b, kt, n, std::nullopt, threads);
                  tile::copy_commit();
                  tile::copy_wait(0);
                  barrier();
                  std::vector<Value> acc(size_t(count), splat(0.0f, mma.c_elems));
                  for (int k0 = 0; k0 < kt; k0 += mma.k) {
                    Value fa = tile::load_a_fragment(ta, 0, Int(0), k0);
                    std::vector<Value> fb = trans ? tile::load_b_fragments_trans(tb, 0, Int(0), k0, count)
                                                  : tile::load_b_fragments(tb, 0, Int(0), k0, count);
                    for (int i = 0; i < count; ++i) acc[size_t(i)] = tile::mma(fa, fb[size_t(i)], acc[size_t(i)]);
                  }
                  for (int i = 0; i < count; ++i)
                    store(out, (thread_id() * count + i) * mma.c_elems, acc[size_t(i)]);
                },
                opts);
}

struct SharedMma : ::testing::TestWithParam<std::tuple<bool, Target>> {};

TEST_P(SharedMma, EqualsDotProducts) {
  const auto& [trans, target] = GetParam();
  testing_support::SeededRng rng;
  Device& device = testing_support::emulator_device(target);
  const matrix::MmaInfo& mma = mma_of(target);
  const int kt = 128, count = 4, n = count * mma.n, threads = mma.wave_size;
  static std::map<std::string, KernelDef> defs;
  std::string name = fmt::format("tile_mma_{}_{}", trans, target_tag(target));
  if (!defs.count(name)) defs.emplace(name, mma_kernel(kt, count, trans, threads, name));
  Kernel k = compile(defs.at(name), device);

  std::vector<uint16_t> a = random_bf16(*rng, size_t(16 * kt)), b = random_bf16(*rng, size_t(n * kt));
  Buffer<uint16_t> da(device, std::span<const uint16_t>(a)), db(device, std::span<const uint16_t>(b));
  Buffer<float> dout(device, size_t(threads * count * mma.c_elems));
  dout.fill_bytes(0xFF);
  k.launch({1, 1, 1}, {uint32_t(threads), 1, 1}, da, db, dout);
  std::vector<float> got = dout.download();

  // b is [n][kt] (B^T) or [kt][n] (trans); C(m, j) = sum_k a[m][k] * B(k, j).
  auto bval = [&](int kk, int j) { return bf16_value(trans ? b[size_t(kk * n + j)] : b[size_t(j * kt + kk)]); };
  size_t bad = 0, seen = 0;
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < count; ++i)
      for (int e = 0; e < mma.c_elems; ++e) {
        matrix::Coord mn = mma.c_at(t, e);
        const int j = i * mma.n + mn.col;
        double ref = 0, mag = 0;
        for (int kk = 0; kk < kt; ++kk) {
          double p = bf16_value(a[size_t(mn.row * kt + kk)]) * bval(kk, j);
          ref += p;
          mag += std::fabs(p);
        }
        float g = got[size_t((t * count + i) * mma.c_elems + e)];
        ++seen;
        // Each MMA step truncates its terms at 2^-24 of its largest magnitude (sm_90a model).
        if (!(std::fabs(double(g) - ref) <= 1.2e-6 * mag * (kt / mma.k + 1)) && bad++ < 5)
          ADD_FAILURE() << "C(" << mn.row << ", " << j << "): got " << g << ", want " << ref;
      }
  EXPECT_EQ(seen, size_t(16 * n));
  EXPECT_EQ(bad, 0u);
}

INSTANTIATE_TEST_SUITE_P(Layouts, SharedMma, ::testing::Combine(::testing::Bool(), ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "b_kn" : "b_nk") + "_" +
                                  target_tag(std::get<1>(info.param));
                         });

}  // namespace
