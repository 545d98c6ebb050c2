// Global -> shared tile copies on the emulator of both targets (cp.async on sm_90a, buffer loads
// on gfx950): the raw shared memory after a copy holds every chunk at its swizzled place, rows and
// columns past the valid range read 0, the other stage is untouched, nothing is read out of range.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>
#include <optional>

#include "backend/launch/kernel.h"
#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/tile_test_util.h"

using namespace tilejit;
using namespace tilejit::tile_test;

namespace {

struct CopyCase {
  const char* name;
  int threads, rows, cols;
  bool partial_cols;  // pass cols_valid (random) or nullopt (all columns valid)
  int ld_extra;       // ld = cols + ld_extra (a multiple of 8)
};

void PrintTo(const CopyCase& c, std::ostream* os) { *os << c.name; }

constexpr int kStages = 2;

/// Poisons both stages, copies into stage `stage`, dumps the raw shared memory to `out`.
KernelDef copy_kernel(const CopyCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(c.threads), 1, 1};
  return kernel(fmt::format("tile_copy_{}_{}", c.name, c.partial_cols),
                [c](Ptr<bf16> src, Ptr<bf16> out, Int ld, Int rows_valid, Int cols_valid, Int stage) {
                  tile::SharedTile t = tile::make_shared_tile(c.rows, c.cols, kStages);
                  const int total = kStages * t.stage_elems();
                  Value tid = thread_id();
                  Value poison = bitcast(Arg(int(kPoison)).as(ir::Type::scalar(ir::Scalar::I16)),
                                         ir::Type::scalar(ir::Scalar::BF16));
                  for_range(tid, total, c.threads, [&](Value i) { store(t.base(), i, poison); });
                  barrier();
                  std::optional<Value> cv;
                  if (c.partial_cols) cv = cols_valid;
                  tile::copy_to_shared(t, stage, src, ld, rows_valid, cv, c.threads);
                  tile::copy_commit();
                  tile::copy_wait(0);
                  barrier();
                  for_range(tid, total, c.threads, [&](Value i) { store(out, i, load(t.base(), i)); });
                },
                opts);
}

struct TileCopy : ::testing::TestWithParam<std::tuple<CopyCase, Target>> {};

TEST_P(TileCopy, ChunksLandSwizzledWithZeroFill) {
  const auto& [c, target] = GetParam();
  testing_support::SeededRng rng;
  Device& device = testing_support::emulator_device(target);
  static std::map<std::string, KernelDef> defs;  // one definition per case
  auto key = fmt::format("{}_{}", c.name, c.partial_cols);
  if (!defs.count(key)) defs.emplace(key, copy_kernel(c));
  Kernel k = compile(defs.at(key), device);

  for (int trial = 0; trial < 3; ++trial) {
    const int ld = c.cols + c.ld_extra;
    const int rows_valid = int(testing_support::uniform(*rng, 1, c.rows + 3));  // past the tile too
    const int cols_valid = c.partial_cols ? int(testing_support::uniform(*rng, 1, c.cols)) : c.cols;
    const int stage = int(testing_support::uniform(*rng, 0, kStages - 1));
    SCOPED_TRACE(fmt::format("ld {} rows_valid {} cols_valid {} stage {}", ld, rows_valid, cols_valid, stage));
    // The source holds exactly the valid rows (the emulator faults on any read past them).
    const int src_rows = std::min(rows_valid, c.rows);
    std::vector<uint16_t> src = random_bf16(*rng, size_t(src_rows) * size_t(ld));
    Buffer<uint16_t> dsrc(device, std::span<const uint16_t>(src));
    const size_t total = size_t(kStages) * size_t(c.rows) * size_t(c.cols);
    Buffer<uint16_t> dout(device, total);
    dout.fill_bytes(0xFF);
    k.launch({1, 1, 1}, {uint32_t(c.threads), 1, 1}, dsrc, dout, ld, rows_valid, cols_valid, stage);
    std::vector<uint16_t> got = dout.download();

    std::vector<uint16_t> want(total, kPoison);
    SourceView view{&src, ld, rows_valid, cols_valid};
    for (int r = 0; r < c.rows; ++r)
      for (int ch = 0; ch < c.cols / 8; ++ch)
        for (int e = 0; e < 8; ++e)
          want[size_t(stage) * size_t(c.rows * c.cols) + size_t(tile::swizzled_offset(r, ch, c.cols) + e)] =
              view.at(r, 8 * ch + e);
    size_t bad = 0;
    for (size_t i = 0; i < total; ++i)
      if (got[i] != want[i] && bad++ < 5)
        ADD_FAILURE() << "shared element " << i << ": got 0x" << std::hex << got[i] << ", want 0x" << want[i];
    EXPECT_EQ(bad, 0u);
  }
}

const CopyCase kCases[] = {
    // name, threads, rows, cols, partial_cols, ld_extra
    {"gemm_a_128x32", 256, 128, 32, false, 64},
    {"rows_64x64", 128, 64, 64, false, 0},
    {"cols_16x32", 64, 16, 32, true, 8},
    {"leftover_24x32", 64, 24, 32, true, 16},   // 96 chunks over 64 threads
    {"fewer_chunks_20x16", 64, 20, 16, true, 8},  // 40 chunks over 64 threads
    {"narrow_48x8", 64, 48, 8, false, 0},
    {"wide_16x128", 256, 16, 128, true, 8},
};

INSTANTIATE_TEST_SUITE_P(Cases, TileCopy,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + target_tag(std::get<1>(info.param));
                         });

}  // namespace
