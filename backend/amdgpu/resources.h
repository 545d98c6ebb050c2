// The resource report of a gfx950 code object: registers, LDS, scratch and occupancy.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tilejit::backend::amdgpu {

/// What one kernel of an HSACO uses, read from its AMDGPU metadata note
/// (NT_AMDGPU_METADATA, msgpack, code object v5), plus the derived occupancy.
struct KernelResources {
  std::string name;     // .name
  std::string symbol;   // .symbol (the kernel descriptor, "<name>.kd")
  /// .vgpr_count. On gfx950 this is already the unified total the wave
  /// allocates: the arch VGPRs rounded up to 4, plus the AGPRs.
  uint32_t vgpr_count = 0;
  uint32_t agpr_count = 0;            // .agpr_count (the AGPR part of vgpr_count)
  uint32_t sgpr_count = 0;            // .sgpr_count (includes VCC, FLAT_SCRATCH, XNACK)
  uint32_t vgpr_spill_count = 0;      // .vgpr_spill_count
  uint32_t sgpr_spill_count = 0;      // .sgpr_spill_count
  uint32_t group_segment_fixed_size = 0;             // .group_segment_fixed_size
  uint32_t private_segment_fixed_size = 0;         // .private_segment_fixed_size (per lane)
  uint32_t kernarg_segment_size = 0;         // .kernarg_segment_size
  uint32_t max_flat_workgroup_size = 0;  // .max_flat_workgroup_size
  uint32_t wavefront_size = 0;        // .wavefront_size
  uint32_t reqd_workgroup_size[3] = {0, 0, 0};  // .reqd_workgroup_size (0 = not given)
  /// Waves per SIMD that the VGPR usage allows (see gfx950_waves_per_simd_vgpr).
  uint32_t waves_per_simd = 0;
  /// Waves per SIMD with VGPR, SGPR and LDS limits together (see gfx950_occupancy).
  uint32_t occupancy = 0;
};

/// Waves per SIMD that `vgpr_count` unified registers (.vgpr_count) allow on gfx950:
/// each SIMD lane has 512 registers shared by VGPRs and AGPRs, a wave allocates
/// them in granules of 8, and a SIMD holds at most 8 waves:
///   min(8, max(1, floor(512 / roundup(max(1, vgpr_count), 8)))).
uint32_t gfx950_waves_per_simd_vgpr(uint32_t vgpr_count);

/// Waves per SIMD that `sgpr_count` SGPRs allow (LLVM's gfx9 table, capped at 8):
/// <= 80: 10, <= 88: 9, <= 100: 8, else 7.
uint32_t gfx950_waves_per_simd_sgpr(uint32_t sgpr_count);

/// Occupancy of `r` in waves per SIMD: the least of the VGPR and SGPR limits and,
/// when the kernel uses LDS, the LDS limit for a workgroup of `workgroup_size`
/// work-items (its reqd size, else its max flat size): a CU has 4 SIMDs and
/// 160 KiB of LDS, so floor(163840 / lds) workgroups of ceil(size / 64) waves
/// each give floor(workgroups * waves / 4) waves per SIMD (at least 1).
uint32_t gfx950_occupancy(const KernelResources& r);

/// Parses the AMDGPU metadata note of an HSACO (an ELF code object): one entry
/// per kernel, with waves_per_simd and occupancy filled in. Throws
/// InternalError when the bytes are not an ELF with that note.
std::vector<KernelResources> parse_resource_report(std::span<const uint8_t> hsaco);

/// The report as JSON: every field above by its name.
nlohmann::json to_json(const KernelResources& r);

/// The report as assembly comment lines ("; vgpr_count: 20" ...).
std::string to_text(const KernelResources& r);

}  // namespace tilejit::backend::amdgpu
