// Emulator device memory: the allocation registry.
#include "backend/emulator/memory.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "dsl/error.h"

namespace tilejit::emulator::detail {

namespace {
constexpr size_t kAlign = 256;
}

Registry::~Registry() {
  for (auto& [base, size] : allocs_) std::free(reinterpret_cast<void*>(base));
}

uint64_t Registry::alloc(size_t bytes) {
  size_t padded = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
  void* p = std::aligned_alloc(kAlign, padded);
  if (!p) throw OutOfResources(fmt::format("emulator: cannot allocate {} bytes of host memory", bytes));
  std::unique_lock lock(mu_);
  allocs_[reinterpret_cast<uint64_t>(p)] = bytes;
  return reinterpret_cast<uint64_t>(p);
}

void Registry::free(uint64_t ptr) {
  if (ptr == 0) return;
  std::unique_lock lock(mu_);
  auto it = allocs_.find(ptr);
  if (it == allocs_.end())
    throw UserError(fmt::format("emulator: free of 0x{:x}, which is not the start of a live allocation", ptr));
  allocs_.erase(it);
  lock.unlock();
  std::free(reinterpret_cast<void*>(ptr));
}

std::optional<Range> Registry::find(uint64_t addr, uint64_t bytes) const {
  std::shared_lock lock(mu_);
  auto it = allocs_.upper_bound(addr);
  if (it == allocs_.begin()) return std::nullopt;
  --it;
  Range r{it->first, it->first + it->second};
  if (!r.holds(addr, bytes)) return std::nullopt;
  return r;
}

void Registry::check(uint64_t addr, uint64_t bytes, const char* what) const {
  if (bytes == 0) return;
  if (!find(addr, bytes))
    throw UserError(fmt::format("emulator: {}: [0x{:x}, +{}) is not inside one device allocation", what,
                                addr, bytes));
}

std::vector<Range> Registry::snapshot() const {
  std::shared_lock lock(mu_);
  std::vector<Range> out;
  out.reserve(allocs_.size());
  for (auto& [base, size] : allocs_) out.push_back({base, base + size});
  return out;
}

const Range* find_range(std::span<const Range> sorted, uint64_t addr, uint64_t bytes) {
  auto it = std::upper_bound(sorted.begin(), sorted.end(), addr,
                             [](uint64_t a, const Range& r) { return a < r.lo; });
  if (it == sorted.begin()) return nullptr;
  --it;
  return it->holds(addr, bytes) ? &*it : nullptr;
}

}  // namespace tilejit::emulator::detail
