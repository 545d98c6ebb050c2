// Emulator device memory: host allocations kept in a registry for bounds-checked accesses.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <span>
#include <vector>

namespace tilejit::emulator::detail {

/// A half-open byte range [lo, hi).
struct Range {
  uint64_t lo = 0, hi = 0;
  /// True when [addr, addr + bytes) lies inside the range (no wraparound).
  bool holds(uint64_t addr, uint64_t bytes) const {
    return addr >= lo && addr <= hi && bytes <= hi - addr;
  }
};

/// The live allocations of one emulator device; all members are thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  ~Registry();

  /// A new host allocation of `bytes` (256-byte aligned); its address is the device pointer.
  uint64_t alloc(size_t bytes);
  /// Frees an allocation; throws UserError unless `ptr` is the start of a live one.
  void free(uint64_t ptr);
  /// The allocation holding [addr, addr + bytes), if any.
  std::optional<Range> find(uint64_t addr, uint64_t bytes) const;
  /// Throws UserError (naming `what`) unless [addr, addr + bytes) is inside one allocation.
  void check(uint64_t addr, uint64_t bytes, const char* what) const;
  /// The allocations sorted by address, for lock-free lookups during a launch.
  std::vector<Range> snapshot() const;

 private:
  mutable std::shared_mutex mu_;
  std::map<uint64_t, uint64_t> allocs_;  // base -> size
};

/// The range in `sorted` holding [addr, addr + bytes), or nullptr.
const Range* find_range(std::span<const Range> sorted, uint64_t addr, uint64_t bytes);

}  // namespace tilejit::emulator::detail
