// Launch-argument checks shared by the GEMM host APIs; each failure names the argument.
#pragma once
#include <cstdint>

#include "backend/runtime/device.h"

namespace tilejit::kernels::gemm_detail {

/// Throws std::invalid_argument "<who>: <name> is null" or "... must be <align>-byte aligned".
void check_pointer(const char* who, const char* name, DevicePtr p, uint64_t align);
/// Throws std::invalid_argument unless lo <= value <= hi: "<who>: <name> must be in [lo, hi], got v".
void check_range(const char* who, const char* name, int64_t value, int64_t lo, int64_t hi);
/// Throws std::invalid_argument unless value is a positive multiple of `multiple`.
void check_multiple(const char* who, const char* name, int64_t value, int64_t multiple, const char* why);
/// Throws std::invalid_argument when a host array has `got` elements instead of `want`.
void check_size(const char* who, const char* name, size_t got, int64_t want);

}  // namespace tilejit::kernels::gemm_detail
