// The bulk read probe (bench/read_probe.h) on the sm_90a emulator: every block streams its whole
// chunk through the stages (the XOR of its stages' first words matches the host's), short last
// stages included, and other targets are refused.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include "backend/llvm/compile.h"
#include "bench/read_probe.h"
#include "dsl/ir/verifier.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"

using namespace tilejit;

namespace {

TEST(BulkReadProbe, EveryBlockStreamsItsChunk) {
  testing_support::SeededRng rng;
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  // Byte counts: several blocks with a short last stage, one block, and a count not a multiple of 16.
  for (size_t bytes : {size_t(3 * 65536 + 4096 + 48), size_t(16), size_t(70000 * 4 + 8)}) {
    SCOPED_TRACE(testing::Message() << bytes << " bytes");
    std::vector<int32_t> data(bytes / 4 + 4);
    for (auto& x : data) x = int32_t((*rng)());
    Buffer<uint8_t> src(emu, data.size() * 4), flush(emu, 64);
    emu.copy_to_device(src.ptr(), data.data(), src.bytes());
    for (const bench::BulkProbeGeometry& geo : bench::kBulkProbeGeometries) {
      SCOPED_TRACE(geo.text());
      const bench::BulkProbeGrid g = bench::bulk_probe_grid(bytes, emu.compute_units(), geo);
      std::vector<int32_t> got;
      bench::bulk_read_probe_us(emu, flush, src, bytes, 1, geo, &got);
      EXPECT_EQ(got, bench::bulk_probe_xors(data, g, geo));
      EXPECT_GT(g.blocks, 0u);
    }
  }
}

// The sm_90a code: bulk copies after expect_tx on the mbarriers, the wait loop, no local memory
// (LLVM may duplicate the issue sites and the wait when it unrolls the loops: at least one each).
TEST(BulkReadProbe, Sm90aCodeIssuesBulkCopiesOnMbarriers) {
  const bench::BulkProbeGeometry geo;
  ir::Function fn = bench::bulk_read_probe_kernel(geo).trace(Target::Sm90a);
  ir::verify(fn, Target::Sm90a);
  const std::string ptx = backend::compile(fn, Target::Sm90a).assembly;
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = ptx.find(needle); at != std::string::npos; at = ptx.find(needle, at + 1)) ++n;
    return n;
  };
  const size_t copies = count("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes");
  EXPECT_GE(copies, 2u) << ptx;  // the prologue's and the refill's
  EXPECT_EQ(count("mbarrier.arrive.expect_tx.shared.b64"), copies);
  EXPECT_EQ(count("mbarrier.init.shared.b64"), size_t(geo.stages));
  EXPECT_GE(count("mbarrier.try_wait.parity.shared.b64"), 1u);
  EXPECT_EQ(count(".local"), 0u);
}

TEST(BulkReadProbe, NeedsSm90a) {
  Device& emu = testing_support::emulator_device(Target::Gfx950);
  Buffer<uint8_t> src(emu, 4096), flush(emu, 64);
  EXPECT_THROW(bench::bulk_read_probe_us(emu, flush, src, 4096, 1, {}), std::invalid_argument);
}

}  // namespace
