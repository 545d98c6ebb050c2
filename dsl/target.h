// Target descriptions read by the front end, the lowering and the emulator (no LLVM).
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace tilejit {

enum class Target : uint8_t { Gfx950, Sm90a };

/// What a kernel may ask about the target it is traced for.
struct TargetInfo {
  Target target;
  std::string_view name;        // "gfx950" / "sm_90a"
  int wave_size;                // 64 / 32
  uint32_t max_shared_bytes;    // per workgroup
  uint32_t max_block_threads;   // per workgroup
  bool has_fp4_convert;         // v_cvt_scalef32_pk_bf16_fp4
};

const TargetInfo& target_info(Target t);
std::optional<Target> parse_target(std::string_view name);

}  // namespace tilejit
