// The swizzled layout on the host: a bijection per stage, and the row addresses that one ldmatrix
// 8x8 matrix (or 8 rows of a ds_read_b128) reads fall into 8 distinct 16-byte bank groups.
#include <gtest/gtest.h>

#include <set>

#include "dsl/error.h"
#include "dsl/tile/shared_tile.h"
#include "tests/common/seeded_rng.h"

using namespace tilejit;

namespace {

const int kCols[] = {8, 16, 32, 64, 128, 256, 512};

TEST(Swizzle, IsABijectionOfChunksWithinEachRow) {
  for (int cols : kCols) {
    const int chunks = cols / 8, rows = 64;
    std::set<int> offsets;
    for (int r = 0; r < rows; ++r) {
      std::set<int> in_row;
      for (int c = 0; c < chunks; ++c) {
        int p = tile::swizzled_chunk(r, c, chunks);
        ASSERT_GE(p, 0) << cols;
        ASSERT_LT(p, chunks) << cols;
        in_row.insert(p);
        int off = tile::swizzled_offset(r, c, cols);
        EXPECT_EQ(off, r * cols + 8 * p);
        offsets.insert(off);
      }
      EXPECT_EQ(in_row.size(), size_t(chunks)) << "row " << r << " of a " << cols << "-column tile";
    }
    EXPECT_EQ(offsets.size(), size_t(rows * chunks)) << cols;
  }
}

TEST(Swizzle, EightConsecutiveRowsAtOneChunkHitDistinctBankGroups) {
  testing_support::SeededRng rng;
  for (int cols : kCols) {
    const int chunks = cols / 8;
    for (int trial = 0; trial < 64; ++trial) {
      // Any start row (ldmatrix matrices and MMA tiles start at multiples of 8, but any works).
      int r0 = int(testing_support::uniform(*rng, 0, 255));
      int c = int(testing_support::uniform(*rng, 0, chunks - 1));
      std::set<int> groups;
      for (int r = r0; r < r0 + 8; ++r) {
        int byte = 2 * tile::swizzled_offset(r, c, cols);
        EXPECT_EQ(byte % 16, 0);
        groups.insert((byte / 16) % 8);  // 32 banks x 4 bytes = 8 groups of 16 bytes
      }
      EXPECT_EQ(groups.size(), 8u) << cols << " columns, rows " << r0 << ".., chunk " << c;
    }
  }
}

TEST(Swizzle, RejectsUnsupportedWidths) {
  EXPECT_THROW(tile::swizzled_chunk(0, 0, 3), UserError);
  EXPECT_THROW(tile::swizzled_chunk(0, 0, 12), UserError);
  EXPECT_THROW(tile::swizzled_chunk(0, 4, 4), UserError);
  EXPECT_THROW(tile::swizzled_chunk(-1, 0, 4), UserError);
}

}  // namespace
