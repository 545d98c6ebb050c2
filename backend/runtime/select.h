// Choosing the device: TILEJIT_DEVICE = auto | emulator | hip | cuda.
#pragma once
#include <memory>
#include <string_view>

#include "backend/runtime/device.h"

namespace tilejit {

/// The process-wide device, opened on first use from TILEJIT_DEVICE (default
/// "auto"; see open_device). It lives until the process exits (never
/// destroyed, so no driver call runs during static destruction). Throws what
/// open_device throws; a failed open is retried on the next call.
Device& default_device();

/// Opens a new device. `spec`:
/// - "auto": the first CUDA device, else the first HIP device, else the
///   emulator; the first fallback in the process prints once to stderr
///   "tilejit: no GPU found (libcuda.so.1: <reason>; libamdhip64: <reason>), using the emulator".
/// - "cuda" / "hip": that driver's device 0, or a RuntimeError saying "no device" and why.
/// - "emulator": the CPU emulator, for the target in TILEJIT_EMULATOR_TARGET
///   (gfx950 | sm_90a, default sm_90a).
/// Anything else is a UserError.
std::unique_ptr<Device> open_device(std::string_view spec);

/// The emulator's target from TILEJIT_EMULATOR_TARGET (UserError when it names no target).
Target emulator_target_from_env();

}  // namespace tilejit
