// The gfx950 resource report: the parser against llvm-readobj on real HSACOs, occupancy, bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>

#include "backend/amdgpu/resources.h"
#include "dsl/error.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

using backend::amdgpu::KernelResources;

/// The kernel-level fields of the metadata note as llvm-readobj prints them (an independent reader).
std::map<std::string, std::string> readobj_fields(const std::vector<uint8_t>& hsaco) {
  std::string path = write_temp(hsaco, ".hsaco");
  std::string text = run_command(std::string(TILEJIT_LLVM_READOBJ) + " --notes " + path + " 2>&1");
  std::remove(path.c_str());
  std::map<std::string, std::string> out;
  std::regex line(R"(^\s*-?\s*(\.[a-z_]+):\s+(\S+)\s*$)");
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, line)) out.emplace(m[1], m[2]);  // first occurrence wins
  }
  return out;
}

/// A kernel with an MFMA (AGPR accumulators) and `lds` bytes of shared memory.
void build_mfma_lds(Kernel& k, int lds_floats) {
  ValueId pa = k.param("a", gptr(Scalar::BF16));
  ValueId pc = k.param("c", gptr(Scalar::F32));
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {lds_floats});
  ValueId a = k.load(vec(Scalar::BF16, 8), k.ptr_add(pa, k.op(OpCode::Mul, i32(), {lane, k.ci32(8)})));
  ValueId c = k.op(OpCode::Splat, vec(Scalar::F32, 4), {k.cf32(0.0f)});
  for (int i = 0; i < 4; ++i) c = k.op(OpCode::Mma, vec(Scalar::F32, 4), {a, a, c}, {0});
  ValueId slot = k.ptr_add(tile, k.op(OpCode::Mul, i32(), {lane, k.ci32(4)}));
  k.store(slot, c);
  k.effect(OpCode::Barrier, {});
  k.store(k.ptr_add(pc, k.op(OpCode::Mul, i32(), {lane, k.ci32(4)})), k.load(vec(Scalar::F32, 4), slot));
}

TEST(Resources, ParserMatchesReadobjOnRealHsaco) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  int lds_floats = rng.uniform(256, 8192);
  Kernel k("report");
  build_mfma_lds(k, lds_floats);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  std::vector<KernelResources> res = backend::amdgpu::parse_resource_report(r.code.binary);
  ASSERT_EQ(res.size(), 1u);
  const KernelResources& p = res[0];
  auto ref = readobj_fields(r.code.binary);
  ASSERT_FALSE(ref.empty());
  auto num = [&](const char* key) -> uint64_t {
    auto it = ref.find(key);
    if (it == ref.end()) {
      ADD_FAILURE() << "llvm-readobj printed no " << key;
      return ~0ull;
    }
    return std::stoull(it->second);
  };
  EXPECT_EQ(p.vgpr_count, num(".vgpr_count"));
  EXPECT_EQ(p.agpr_count, num(".agpr_count"));
  EXPECT_EQ(p.sgpr_count, num(".sgpr_count"));
  EXPECT_EQ(p.vgpr_spill_count, num(".vgpr_spill_count"));
  EXPECT_EQ(p.sgpr_spill_count, num(".sgpr_spill_count"));
  EXPECT_EQ(p.group_segment_fixed_size, num(".group_segment_fixed_size"));
  EXPECT_EQ(p.private_segment_fixed_size, num(".private_segment_fixed_size"));
  EXPECT_EQ(p.kernarg_segment_size, num(".kernarg_segment_size"));
  EXPECT_EQ(p.max_flat_workgroup_size, num(".max_flat_workgroup_size"));
  EXPECT_EQ(p.wavefront_size, num(".wavefront_size"));
  EXPECT_EQ(p.symbol, ref[".symbol"]);
  EXPECT_EQ(p.name, "report");
  // Facts of this kernel, independent of the metadata.
  EXPECT_EQ(p.group_segment_fixed_size, uint32_t(lds_floats) * 4);
  EXPECT_EQ(p.wavefront_size, 64u);
  EXPECT_GT(p.agpr_count + p.vgpr_count, 0u);
  EXPECT_GE(p.vgpr_count, p.agpr_count);
  EXPECT_EQ(p.private_segment_fixed_size, 0u);
  EXPECT_EQ(p.waves_per_simd, backend::amdgpu::gfx950_waves_per_simd_vgpr(p.vgpr_count));
  // The JSON and the assembly trailer carry the same numbers.
  auto j = nlohmann::json::parse(r.resources_json);
  EXPECT_EQ(j.at("vgpr_count"), p.vgpr_count);
  EXPECT_EQ(j.at("agpr_count"), p.agpr_count);
  EXPECT_EQ(j.at("sgpr_count"), p.sgpr_count);
  EXPECT_EQ(j.at("group_segment_fixed_size"), p.group_segment_fixed_size);
  EXPECT_EQ(j.at("private_segment_fixed_size"), p.private_segment_fixed_size);
  EXPECT_EQ(j.at("waves_per_simd"), p.waves_per_simd);
  EXPECT_EQ(j.at("occupancy"), p.occupancy);
  EXPECT_NE(r.assembly.find(";   vgpr_count: " + std::to_string(p.vgpr_count) + "\n"), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(r.code.metadata_json).at("resources"), j);
}

/// Reference: the most waves w <= 8 whose allocations (granule 8, at least one granule) fit 512 registers.
uint32_t brute_force_waves(uint32_t vgprs) {
  uint32_t granules = std::max(1u, (vgprs + 7) / 8);
  uint32_t w = 8;
  while (w > 1 && w * granules * 8 > 512) --w;
  return w;
}

TEST(Resources, WavesPerSimdFromVgprs) {
  for (uint32_t v = 0; v <= 512; ++v)
    EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(v), brute_force_waves(v)) << "vgprs " << v;
  // Spot values of the unified 512-entry file.
  EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(64), 8u);
  EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(65), 7u);
  EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(128), 4u);
  EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(256), 2u);
  EXPECT_EQ(backend::amdgpu::gfx950_waves_per_simd_vgpr(512), 1u);
}

TEST(Resources, OccupancyTakesTheTightestLimit) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (int trial = 0; trial < 200; ++trial) {
    KernelResources r;
    r.vgpr_count = uint32_t(rng.uniform(1, 512));
    r.sgpr_count = uint32_t(rng.uniform(1, 108));
    r.group_segment_fixed_size = rng.uniform(0, 1) ? uint32_t(rng.uniform(1, 163840)) : 0;
    r.max_flat_workgroup_size = uint32_t(rng.uniform(1, 1024));
    // Reference: count waves by filling a CU's 4 SIMDs one workgroup at a time.
    uint32_t waves_per_group = (r.max_flat_workgroup_size + 63) / 64;
    uint32_t per_simd_vgpr = brute_force_waves(r.vgpr_count);
    uint32_t per_simd_sgpr = r.sgpr_count <= 100 ? 8 : 7;
    uint32_t cap = std::min(per_simd_vgpr, per_simd_sgpr);
    uint32_t want = cap;
    if (r.group_segment_fixed_size) {
      uint32_t groups = 0, lds = 0;
      while (lds + r.group_segment_fixed_size <= 163840) lds += r.group_segment_fixed_size, ++groups;
      uint32_t lds_waves = std::max(1u, groups * waves_per_group / 4);
      want = std::min(cap, lds_waves);
    }
    EXPECT_EQ(backend::amdgpu::gfx950_occupancy(r), want)
        << "vgpr " << r.vgpr_count << " sgpr " << r.sgpr_count << " lds " << r.group_segment_fixed_size << " wg "
        << r.max_flat_workgroup_size;
  }
}

TEST(Resources, ParserRejectsBadInput) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  std::vector<uint8_t> junk(size_t(rng.uniform(1, 4096)));
  for (auto& b : junk) b = uint8_t(rng.uniform(0, 255));
  EXPECT_THROW(backend::amdgpu::parse_resource_report(junk), InternalError);
  EXPECT_THROW(backend::amdgpu::parse_resource_report({}), InternalError);

  Kernel k("victim");
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  ASSERT_NO_THROW(backend::amdgpu::parse_resource_report(r.code.binary));
  std::vector<uint8_t> cut(r.code.binary.begin(), r.code.binary.begin() + rng.uniform(16, int(r.code.binary.size() / 2)));
  EXPECT_THROW(backend::amdgpu::parse_resource_report(cut), InternalError);
  // An ELF of another machine: this test program itself.
  std::ifstream self("/proc/self/exe", std::ios::binary);
  std::vector<uint8_t> exe((std::istreambuf_iterator<char>(self)), {});
  ASSERT_GT(exe.size(), 64u);
  try {
    backend::amdgpu::parse_resource_report(exe);
    ADD_FAILURE() << "parsed a host executable";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("not an AMDGPU code object"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tilejit::test
