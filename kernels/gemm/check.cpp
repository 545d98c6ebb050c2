// Launch-argument checks of the GEMM host APIs.
#include "kernels/gemm/check.h"

#include <fmt/format.h>

#include <stdexcept>

namespace tilejit::kernels::gemm_detail {

void check_pointer(const char* who, const char* name, DevicePtr p, uint64_t align) {
  if (!p) throw std::invalid_argument(fmt::format("{}: {} is null", who, name));
  if (p % align)
    throw std::invalid_argument(fmt::format("{}: {} must be {}-byte aligned, got address {:#x}", who, name, align, p));
}

void check_range(const char* who, const char* name, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi)
    throw std::invalid_argument(fmt::format("{}: {} must be in [{}, {}], got {}", who, name, lo, hi, value));
}

void check_multiple(const char* who, const char* name, int64_t value, int64_t multiple, const char* why) {
  if (value <= 0 || value % multiple)
    throw std::invalid_argument(
        fmt::format("{}: {} must be a positive multiple of {} ({}), got {}", who, name, multiple, why, value));
}

void check_size(const char* who, const char* name, size_t got, int64_t want) {
  if (int64_t(got) != want)
    throw std::invalid_argument(fmt::format("{}: {} has {} elements, expected {}", who, name, got, want));
}

}  // namespace tilejit::kernels::gemm_detail
