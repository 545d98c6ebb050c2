// Device selection: auto probes CUDA, then HIP, then falls back to the emulator.
#include "backend/runtime/select.h"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "backend/runtime/cuda_device.h"
#include "backend/runtime/hip_device.h"
#include "backend/runtime/no_device.h"
#include "dsl/error.h"
#ifdef TILEJIT_HAVE_EMULATOR
#include "backend/emulator/emulator.h"
#endif

namespace tilejit {

namespace {

std::string_view env_or(const char* name, std::string_view fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string_view(v) : fallback;
}

std::unique_ptr<Device> open_emulator() {
#ifdef TILEJIT_HAVE_EMULATOR
  emulator::Options options;
  options.target = emulator_target_from_env();
  options.race_check = env_or("TILEJIT_EMULATOR_RACECHECK", "0") == std::string_view("1");
  return emulator::make_emulator_device(options);
#else
  throw RuntimeError("this build of tilejit has no emulator (backend/emulator was not built)");
#endif
}

// "<library>: <reason>" of a failed probe.
std::string probe_reason(const RuntimeError& e) {
  if (auto* nd = dynamic_cast<const NoDeviceError*>(&e)) return nd->library() + ": " + nd->reason();
  return e.what();
}

std::atomic<bool> fallback_noted{false};

}  // namespace

Target emulator_target_from_env() {
  std::string_view name = env_or("TILEJIT_EMULATOR_TARGET", "sm_90a");
  if (name == "gfx950") return Target::Gfx950;
  if (name == "sm_90a") return Target::Sm90a;
  throw UserError(fmt::format("TILEJIT_EMULATOR_TARGET={}: expected gfx950 or sm_90a", name));
}

std::unique_ptr<Device> open_device(std::string_view spec) {
  if (spec == "cuda") return cuda::open_device(0);
  if (spec == "hip") return hip::open_device(0);
  if (spec == "emulator") return open_emulator();
  if (spec != "auto")
    throw UserError(fmt::format("TILEJIT_DEVICE={}: unknown device; expected auto, emulator, hip "
                                "or cuda",
                                spec));
  std::string cuda_why, hip_why;
  try {
    return cuda::open_device(0);
  } catch (const RuntimeError& e) {
    cuda_why = probe_reason(e);
  }
  try {
    return hip::open_device(0);
  } catch (const RuntimeError& e) {
    hip_why = probe_reason(e);
  }
  auto device = open_emulator();
  if (!fallback_noted.exchange(true))
    fmt::print(stderr, "tilejit: no GPU found ({}; {}), using the emulator\n", cuda_why, hip_why);
  return device;
}

Device& default_device() {
  static std::mutex mu;
  static Device* device = nullptr;  // deliberately never destroyed
  std::lock_guard lock(mu);
  if (!device) device = open_device(env_or("TILEJIT_DEVICE", "auto")).release();
  return *device;
}

}  // namespace tilejit
