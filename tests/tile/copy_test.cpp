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

/// Every element of both stages of `t` set to kPoison, then a barrier.
void poison_stages(const tile::SharedTile& t, int threads) {
  const int total = kStages * t.stage_elems();
  Value poison = bitcast(Arg(int(kPoison)).as(ir::Type::scalar(ir::Scalar::I16)), ir::Type::scalar(ir::Scalar::BF16));
  for_range(thread_id(), total, threads, [&](Value i) { store(t.base(), i, poison); });
  barrier();
}

/// Waits for the copies, then writes both stages of `t` (raw, swizzled) to `out`.
void dump_stages(const tile::SharedTile& t, const Value& out, int threads) {
  tile::copy_commit();
  tile::copy_wait(0);
  barrier();
  for_range(thread_id(), kStages * t.stage_elems(), threads, [&](Value i) { store(out, i, load(t.base(), i)); });
}

/// Poisons both stages, copies into stage `stage`, dumps the raw shared memory to `out`.
KernelDef copy_kernel(const CopyCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(c.threads), 1, 1};
  return kernel(fmt::format("tile_copy_{}_{}", c.name, c.partial_cols),
                [c](Ptr<bf16> src, Ptr<bf16> out, Int ld, Int rows_valid, Int cols_valid, Int stage) {
                  tile::SharedTile t = tile::make_shared_tile(c.rows, c.cols, kStages);
                  poison_stages(t, c.threads);
                  std::optional<Value> cv;
                  if (c.partial_cols) cv = cols_valid;
                  tile::copy_to_shared(t, stage, src, ld, rows_valid, cv, c.threads);
                  dump_stages(t, out, c.threads);
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

// copy_rows_begin: each tile row comes from a row index read from memory (a gather).
struct GatherCase {
  const char* name;
  int threads, rows, cols;
};

void PrintTo(const GatherCase& c, std::ostream* os) { *os << c.name; }

KernelDef gather_kernel(const GatherCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(c.threads), 1, 1};
  return kernel(fmt::format("tile_gather_{}", c.name),
                [c](Ptr<bf16> src, Ptr<int32_t> row_ids, Ptr<bf16> out, Int ld, Int k, Int stage) {
                  tile::SharedTile t = tile::make_shared_tile(c.rows, c.cols, kStages);
                  poison_stages(t, c.threads);
                  std::vector<Value> srcs;
                  for (const Value& r : tile::copy_rows_of_thread(t, c.threads))
                    srcs.push_back(Value(src + row_ids[r] * ld));
                  tile::copy_end(tile::copy_rows_begin(t, stage, srcs, k, c.threads));
                  dump_stages(t, out, c.threads);
                },
                opts);
}

struct TileGather : ::testing::TestWithParam<std::tuple<GatherCase, Target>> {};

TEST_P(TileGather, RowsLandSwizzledFromTheirSources) {
  const auto& [c, target] = GetParam();
  testing_support::SeededRng rng;
  Device& device = testing_support::emulator_device(target);
  static std::map<std::string, KernelDef> defs;
  if (!defs.count(c.name)) defs.emplace(c.name, gather_kernel(c));
  Kernel kern = compile(defs.at(c.name), device);
  for (int trial = 0; trial < 3; ++trial) {
    const int src_rows = int(testing_support::uniform(*rng, 1, 2 * c.rows));
    const int ld = c.cols + 8 * int(testing_support::uniform(*rng, 0, 4));
    const int k = 8 * int(testing_support::uniform(*rng, 0, (ld - c.cols) / 8));
    const int stage = int(testing_support::uniform(*rng, 0, kStages - 1));
    SCOPED_TRACE(fmt::format("source rows {} ld {} k {} stage {}", src_rows, ld, k, stage));
    std::vector<uint16_t> src = random_bf16(*rng, size_t(src_rows) * size_t(ld));
    std::vector<int32_t> ids(size_t(c.rows));
    for (auto& id : ids) id = int32_t(testing_support::uniform(*rng, 0, src_rows - 1));  // repeats allowed
    Buffer<uint16_t> dsrc(device, std::span<const uint16_t>(src));
    Buffer<int32_t> dids(device, std::span<const int32_t>(ids));
    const size_t total = size_t(kStages) * size_t(c.rows) * size_t(c.cols);
    Buffer<uint16_t> dout(device, total);
    dout.fill_bytes(0xFF);
    kern.launch({1, 1, 1}, {uint32_t(c.threads), 1, 1}, dsrc, dids, dout, ld, k, stage);
    std::vector<uint16_t> got = dout.download();
    std::vector<uint16_t> want(total, kPoison);
    for (int r = 0; r < c.rows; ++r)
      for (int ch = 0; ch < c.cols / 8; ++ch)
        for (int e = 0; e < 8; ++e)
          want[size_t(stage) * size_t(c.rows * c.cols) + size_t(tile::swizzled_offset(r, ch, c.cols) + e)] =
              src[size_t(ids[size_t(r)]) * size_t(ld) + size_t(k + 8 * ch + e)];
    size_t bad = 0;
    for (size_t i = 0; i < total; ++i)
      if (got[i] != want[i] && bad++ < 5)
        ADD_FAILURE() << "shared element " << i << ": got 0x" << std::hex << got[i] << ", want 0x" << want[i];
    EXPECT_EQ(bad, 0u);
  }
}

const GatherCase kGatherCases[] = {
    // name, threads, rows, cols
    {"stage2_a_64x64", 256, 64, 64},
    {"rows_32x64", 256, 32, 64},
    {"narrow_96x16", 64, 96, 16},
};

INSTANTIATE_TEST_SUITE_P(Cases, TileGather,
                         ::testing::Combine(::testing::ValuesIn(kGatherCases), ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + target_tag(std::get<1>(info.param));
                         });

TEST(TileGather, RejectsThreadsThatDoNotCoverTheRows) {
  KernelOptions opts;
  opts.block = {64, 1, 1};
  KernelDef def = kernel("tile_gather_bad", [](Ptr<bf16> src) {
    tile::SharedTile t = tile::make_shared_tile(20, 64, 1);  // 8 rows per round of 64 threads: 20 is not whole
    std::vector<Value> srcs(3, Value(src));
    tile::copy_end(tile::copy_rows_begin(t, 0, srcs, 0, 64));
  }, opts);
  EXPECT_THROW(def.trace(Target::Sm90a), UserError);
}

}  // namespace
