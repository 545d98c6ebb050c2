// tilejit info: the devices this machine has and where the cache lives.
#include <cstdio>

#include "backend/llvm/compile.h"
#include "backend/runtime/cache.h"
#include "backend/runtime/select.h"
#include "dsl/error.h"
#include "dsl/version.h"
#include "tools/cli/commands.h"

namespace tilejit::cli {

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show the devices found, the cache location and versions");
  cmd->callback([] {
    std::printf("tilejit %s, LLVM %s, library build %s\n", version(), backend::llvm_version().c_str(),
                build_id().empty() ? "unknown (no GNU build id: every compile() traces)" : build_id().c_str());
    for (const char* spec : {"cuda", "hip", "emulator"}) {
      try {
        auto dev = open_device(spec);
        std::printf("device %-8s %s (target %s)\n", spec, dev->name().c_str(),
                    std::string(target_info(dev->target()).name).c_str());
      } catch (const Error& e) {
        std::printf("device %-8s none: %s\n", spec, e.what());
      }
    }
    KernelCache& cache = kernel_cache();
    if (cache.disk_enabled())
      std::printf("cache    %s%s\n", cache.dir().string().c_str(), cache.disk_writable() ? "" : " (not writable: memory only)");
    else
      std::printf("cache    memory only (TILEJIT_CACHE=0 or no home directory)\n");
  });
}

}  // namespace tilejit::cli
