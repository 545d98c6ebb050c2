// The library's version string (part of every cache key) and the build id of its binary.
#include "dsl/version.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace tilejit {

const char* version() { return TILEJIT_VERSION; }

namespace {
struct Search {
  uintptr_t address;  // an address inside the binary
  std::string id;
};

// The NT_GNU_BUILD_ID note of the loaded object that maps `address`.
int visit(dl_phdr_info* info, size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  bool mine = false;
  for (int i = 0; i < info->dlpi_phnum && !mine; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    mine = ph.p_type == PT_LOAD && s->address >= lo && s->address < lo + ph.p_memsz;
  }
  if (!mine) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) n;
      std::memcpy(&n, p, sizeof n);
      const unsigned char* name = p + sizeof n;
      const unsigned char* desc = name + ((n.n_namesz + 3) & ~3u);
      if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0 &&
          desc + n.n_descsz <= end) {
        for (uint32_t b = 0; b < n.n_descsz; ++b) s->id += fmt::format("{:02x}", desc[b]);
        return 1;
      }
      p = desc + ((n.n_descsz + 3) & ~3u);
    }
  }
  return 1;  // the right object, without a build id
}
}  // namespace

const std::string& build_id() {
  static const std::string id = [] {
    Search s{reinterpret_cast<uintptr_t>(&visit), {}};
    dl_iterate_phdr(visit, &s);
    return s.id;
  }();
  return id;
}

}  // namespace tilejit
