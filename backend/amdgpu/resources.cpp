// Reads the AMDGPU metadata note (msgpack) of an HSACO into KernelResources; gfx950 occupancy.
#include "backend/amdgpu/resources.h"

#include <fmt/format.h>

#include <algorithm>

#include <llvm/BinaryFormat/ELF.h>
#include <llvm/BinaryFormat/MsgPackDocument.h>
#include <llvm/Object/ELF.h>
#include <llvm/Support/Error.h>

#include "dsl/error.h"

namespace tilejit::backend::amdgpu {

namespace {

constexpr uint32_t kUnifiedVgprsPerLane = 512;
constexpr uint32_t kVgprGranule = 8;
constexpr uint32_t kMaxWavesPerSimd = 8;
constexpr uint32_t kLdsBytesPerCu = 163840;
constexpr uint32_t kSimdsPerCu = 4;
constexpr uint32_t kWaveSize = 64;

[[noreturn]] void bad(const std::string& what) {
  throw InternalError(fmt::format("HSACO resource report: {}", what));
}

uint64_t as_uint(llvm::msgpack::DocNode& n, std::string_view key) {
  if (n.getKind() == llvm::msgpack::Type::UInt) return n.getUInt();
  if (n.getKind() == llvm::msgpack::Type::Int && n.getInt() >= 0) return uint64_t(n.getInt());
  bad(fmt::format("{} is not a non-negative integer", key));
}

uint32_t as_u32(llvm::msgpack::DocNode& n, std::string_view key) {
  uint64_t v = as_uint(n, key);
  if (v > UINT32_MAX) bad(fmt::format("{} = {} does not fit 32 bits", key, v));
  return uint32_t(v);
}

KernelResources read_kernel(llvm::msgpack::DocNode& node) {
  if (!node.isMap()) bad("a kernel entry is not a map");
  KernelResources r;
  bool have_vgpr = false, have_sgpr = false, have_lds = false, have_scratch = false;
  for (auto& [k, v] : node.getMap()) {
    if (!k.isString()) continue;
    std::string_view key(k.getString().data(), k.getString().size());
    if (key == ".name" && v.isString()) r.name = v.getString().str();
    else if (key == ".symbol" && v.isString()) r.symbol = v.getString().str();
    else if (key == ".vgpr_count") r.vgpr_count = as_u32(v, key), have_vgpr = true;
    else if (key == ".agpr_count") r.agpr_count = as_u32(v, key);
    else if (key == ".sgpr_count") r.sgpr_count = as_u32(v, key), have_sgpr = true;
    else if (key == ".vgpr_spill_count") r.vgpr_spill_count = as_u32(v, key);
    else if (key == ".sgpr_spill_count") r.sgpr_spill_count = as_u32(v, key);
    else if (key == ".group_segment_fixed_size") r.group_segment_fixed_size = as_u32(v, key), have_lds = true;
    else if (key == ".private_segment_fixed_size") r.private_segment_fixed_size = as_u32(v, key), have_scratch = true;
    else if (key == ".kernarg_segment_size") r.kernarg_segment_size = as_u32(v, key);
    else if (key == ".max_flat_workgroup_size") r.max_flat_workgroup_size = as_u32(v, key);
    else if (key == ".wavefront_size") r.wavefront_size = as_u32(v, key);
    else if (key == ".reqd_workgroup_size") {
      if (!v.isArray() || v.getArray().size() != 3) bad(".reqd_workgroup_size is not an array of 3");
      for (size_t i = 0; i < 3; ++i) r.reqd_workgroup_size[i] = as_u32(v.getArray()[i], key);
    }
  }
  if (r.name.empty() || !have_vgpr || !have_sgpr || !have_lds || !have_scratch)
    bad(fmt::format("kernel '{}' lacks .name, .vgpr_count, .sgpr_count, .group_segment_fixed_size "
                    "or .private_segment_fixed_size", r.name));
  r.waves_per_simd = gfx950_waves_per_simd_vgpr(r.vgpr_count);
  r.occupancy = gfx950_occupancy(r);
  return r;
}

}  // namespace

uint32_t gfx950_waves_per_simd_vgpr(uint32_t vgpr_count) {
  uint32_t alloc = (std::max(1u, vgpr_count) + kVgprGranule - 1) / kVgprGranule * kVgprGranule;
  return std::clamp(kUnifiedVgprsPerLane / alloc, 1u, kMaxWavesPerSimd);
}

uint32_t gfx950_waves_per_simd_sgpr(uint32_t sgpr_count) {
  uint32_t w = sgpr_count <= 80 ? 10 : sgpr_count <= 88 ? 9 : sgpr_count <= 100 ? 8 : 7;
  return std::min(w, kMaxWavesPerSimd);
}

uint32_t gfx950_occupancy(const KernelResources& r) {
  uint32_t w = std::min(gfx950_waves_per_simd_vgpr(r.vgpr_count), gfx950_waves_per_simd_sgpr(r.sgpr_count));
  if (r.group_segment_fixed_size > 0) {
    uint32_t size = r.reqd_workgroup_size[0] ? r.reqd_workgroup_size[0] * std::max(1u, r.reqd_workgroup_size[1]) *
                                                   std::max(1u, r.reqd_workgroup_size[2])
                                             : std::max(1u, r.max_flat_workgroup_size);
    uint64_t groups = kLdsBytesPerCu / r.group_segment_fixed_size;
    uint64_t waves = groups * ((size + kWaveSize - 1) / kWaveSize) / kSimdsPerCu;
    w = std::min<uint32_t>(w, uint32_t(std::max<uint64_t>(1, std::min<uint64_t>(waves, kMaxWavesPerSimd))));
  }
  return w;
}

std::vector<KernelResources> parse_resource_report(std::span<const uint8_t> hsaco) {
  llvm::StringRef bytes(reinterpret_cast<const char*>(hsaco.data()), hsaco.size());
  auto file = llvm::object::ELF64LEFile::create(bytes);
  if (!file) bad("not an ELF64 code object: " + llvm::toString(file.takeError()));
  if (file->getHeader().e_machine != llvm::ELF::EM_AMDGPU) bad("the ELF is not an AMDGPU code object");
  auto sections = file->sections();
  if (!sections) bad(llvm::toString(sections.takeError()));
  for (const auto& sec : *sections) {
    if (sec.sh_type != llvm::ELF::SHT_NOTE) continue;
    llvm::Error err = llvm::Error::success();
    for (const auto& note : file->notes(sec, err)) {
      if (note.getName() != "AMDGPU" || note.getType() != llvm::ELF::NT_AMDGPU_METADATA) continue;
      llvm::StringRef blob = note.getDescAsStringRef(sec.sh_addralign ? sec.sh_addralign : 4);
      llvm::msgpack::Document doc;
      if (!doc.readFromBlob(blob, /*Multi=*/false)) bad("the metadata note is not valid msgpack");
      if (!doc.getRoot().isMap()) bad("the metadata root is not a map");
      auto& root = doc.getRoot().getMap();
      auto it = root.find("amdhsa.kernels");
      if (it == root.end() || !it->second.isArray()) bad("the metadata has no amdhsa.kernels array");
      std::vector<KernelResources> out;
      for (auto& k : it->second.getArray()) out.push_back(read_kernel(k));
      llvm::consumeError(std::move(err));
      return out;
    }
    if (err) bad(llvm::toString(std::move(err)));
  }
  bad("no NT_AMDGPU_METADATA note found");
}

nlohmann::json to_json(const KernelResources& r) {
  return {{"name", r.name},
          {"symbol", r.symbol},
          {"vgpr_count", r.vgpr_count},
          {"agpr_count", r.agpr_count},
          {"sgpr_count", r.sgpr_count},
          {"vgpr_spill_count", r.vgpr_spill_count},
          {"sgpr_spill_count", r.sgpr_spill_count},
          {"group_segment_fixed_size", r.group_segment_fixed_size},
          {"private_segment_fixed_size", r.private_segment_fixed_size},
          {"kernarg_segment_size", r.kernarg_segment_size},
          {"max_flat_workgroup_size", r.max_flat_workgroup_size},
          {"wavefront_size", r.wavefront_size},
          {"reqd_workgroup_size", {r.reqd_workgroup_size[0], r.reqd_workgroup_size[1], r.reqd_workgroup_size[2]}},
          {"waves_per_simd", r.waves_per_simd},
          {"occupancy", r.occupancy}};
}

std::string to_text(const KernelResources& r) {
  std::string s = fmt::format("; resources of {} ({})\n", r.name, r.symbol);
  nlohmann::json j = to_json(r);
  for (auto& [k, v] : j.items())
    if (k != "name" && k != "symbol") s += fmt::format(";   {}: {}\n", k, v.dump());
  return s;
}

}  // namespace tilejit::backend::amdgpu
