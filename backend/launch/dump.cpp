// TILEJIT_DUMP implementation.
#include "backend/launch/dump.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "dsl/ir/hash.h"
#include "dsl/ir/printer.h"

namespace tilejit {

namespace {
bool wants(const std::string& list, const std::string& item) {
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    if (list.substr(pos, end - pos) == item) return true;
    pos = end + 1;
  }
  return false;
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
  if (!out) std::fprintf(stderr, "tilejit: could not write dump %s\n", p.string().c_str());
}
}  // namespace

bool dump_wants(const std::string& item) {
  const char* env = std::getenv("TILEJIT_DUMP");
  return env && wants(env, item);
}

bool dump_requested() {
  const char* env = std::getenv("TILEJIT_DUMP");
  return env && *env;
}

void dump_kernel(const ir::Function& fn, const std::string& ir_text, const CompiledEntry* entry) {
  if (!dump_requested()) return;
  const char* dir_env = std::getenv("TILEJIT_DUMP_DIR");
  std::filesystem::path dir = dir_env && *dir_env ? dir_env : "tilejit-dump";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string stem = fn.name + "." + ir::hash_text(ir_text).substr(0, 8);
  if (dump_wants("ir")) write(dir / (stem + ".ir"), ir::print(fn, {.locations = true}));
  if (entry && dump_wants("llvm")) write(dir / (stem + ".ll"), entry->llvm_ir);
  if (entry && dump_wants("asm")) write(dir / (stem + ".s"), entry->assembly);
}

}  // namespace tilejit
