// Helpers for the LLVM backend tests (see test_util.h).
#include "tests/llvm/test_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dsl/error.h"

namespace tilejit::test {

ValueId Kernel::param(const std::string& name, Type t) {
  fn.params.push_back({name, t});
  return b.emit(OpCode::Param, t, {}, {int64_t(fn.params.size() - 1)});
}

ValueId Kernel::global_id() {
  ValueId tid = op(OpCode::ThreadId, i32(), {}, {0});
  ValueId bid = op(OpCode::BlockId, i32(), {}, {0});
  ValueId bdim = op(OpCode::BlockDim, i32(), {}, {0});
  return op(OpCode::Add, i32(), {op(OpCode::Mul, i32(), {bid, bdim}), tid});
}

void Kernel::for_(ValueId lo, ValueId hi, ValueId step, const std::function<void(ValueId)>& body) {
  ir::Op& f = b.emit_with_regions(OpCode::For, {lo, hi, step});
  ValueId iv = fn.new_value(fn.type_of(lo));
  f.regions[0].args.push_back(iv);
  b.push(f.regions[0]);
  body(iv);
  b.pop();
}

void Kernel::if_(ValueId cond, const std::function<void()>& then, const std::function<void()>& otherwise) {
  ir::Op& f = b.emit_with_regions(OpCode::If, {cond});
  ir::Region& then_r = f.regions[0];
  ir::Region& else_r = f.regions[1];
  b.push(then_r);
  then();
  b.pop();
  if (otherwise) {
    b.push(else_r);
    otherwise();
    b.pop();
  }
}

void build_vector_add(Kernel& k) {
  ValueId a = k.param("a", gptr(Scalar::F32));
  ValueId bb = k.param("b", gptr(Scalar::F32));
  ValueId c = k.param("c", gptr(Scalar::F32));
  ValueId i = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(4)});
  ValueId va = k.load(vec(Scalar::F32, 4), k.ptr_add(a, i));
  ValueId vb = k.load(vec(Scalar::F32, 4), k.ptr_add(bb, i));
  k.store(k.ptr_add(c, i), k.op(OpCode::FAdd, vec(Scalar::F32, 4), {va, vb}));
}

backend::CompileResult compile_or_fail(const ir::Function& fn, Target t) {
  try {
    return backend::compile(fn, t);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "compile of " << fn.name << " for " << target_info(t).name << " failed: " << e.what();
    return {};
  }
}

std::string run_command(const std::string& command, int* status) {
  FILE* p = popen(command.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (status) *status = rc;
  return out;
}

std::string write_temp(std::span<const uint8_t> bytes, const std::string& suffix) {
  std::string path = (std::filesystem::temp_directory_path() / ("tilejit-test-XXXXXX" + suffix)).string();
  std::vector<char> name(path.begin(), path.end());
  name.push_back('\0');
  int fd = mkstemps(name.data(), int(suffix.size()));
  if (fd < 0) throw std::runtime_error("cannot create a temporary file");
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) break;
    done += size_t(w);
  }
  ::close(fd);
  return std::string(name.data());
}

namespace {
std::span<const uint8_t> as_bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string file_check_path(const std::string& input, const std::string& checks_path, const std::string& prefix) {
  std::string in = write_temp(as_bytes(input), ".txt");
  int status = 0;
  std::string out = run_command(std::string(TILEJIT_FILECHECK) + " --check-prefix=" + prefix + " " + checks_path +
                                    " --input-file=" + in + " 2>&1",
                                &status);
  std::remove(in.c_str());
  if (status == 0) return "";
  return "FileCheck failed:\n" + out + "\n--- input ---\n" + input;
}
}  // namespace

std::string file_check(const std::string& input, const std::string& checks, const std::string& prefix) {
  std::string path = write_temp(as_bytes(checks), ".check");
  std::string r = file_check_path(input, path, prefix);
  std::remove(path.c_str());
  return r;
}

std::string file_check_file(const std::string& input, const std::string& name, const std::string& prefix) {
  return file_check_path(input, std::string(TILEJIT_CHECKS_DIR) + "/" + name, prefix);
}

ElfInfo read_elf(std::span<const uint8_t> e) {
  ElfInfo info;
  auto u16 = [&](size_t o) -> uint64_t { return o + 2 <= e.size() ? uint64_t(e[o]) | uint64_t(e[o + 1]) << 8 : 0; };
  auto u32 = [&](size_t o) -> uint64_t { return u16(o) | u16(o + 2) << 16; };
  auto u64 = [&](size_t o) -> uint64_t { return u32(o) | u32(o + 4) << 32; };
  if (e.size() < 64 || std::memcmp(e.data(), "\x7f" "ELF", 4) != 0 || e[4] != 2 || e[5] != 1) return info;
  info.os_abi = e[7];
  info.abi_version = e[8];
  info.type = uint16_t(u16(16));
  info.machine = uint16_t(u16(18));
  uint64_t shoff = u64(0x28), shentsize = u16(0x3a), shnum = u16(0x3c);
  if (shentsize != 64 || shoff + shnum * 64 > e.size()) return info;
  auto sh = [&](uint64_t i, size_t field) { return shoff + i * 64 + field; };
  for (uint64_t s = 0; s < shnum; ++s) {
    uint64_t type = u32(sh(s, 4));
    if (type != 2 && type != 11) continue;  // SHT_SYMTAB, SHT_DYNSYM
    uint64_t off = u64(sh(s, 24)), size = u64(sh(s, 32)), link = u32(sh(s, 40));
    if (link >= shnum || off + size > e.size()) return info;
    uint64_t str_off = u64(sh(link, 24)), str_size = u64(sh(link, 32));
    if (str_off + str_size > e.size()) return info;
    for (uint64_t p = off; p + 24 <= off + size; p += 24) {
      uint64_t name = u32(p);
      if (name == 0 || name >= str_size) continue;
      const char* c = reinterpret_cast<const char*>(e.data() + str_off + name);
      info.symbols.emplace_back(c, strnlen(c, size_t(str_size - name)));
    }
  }
  info.valid = true;
  return info;
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

uint16_t reference_bf16(float x) {
  uint32_t bits = std::bit_cast<uint32_t>(x);
  if (std::isnan(x)) return uint16_t((bits >> 16) | 0x40);
  uint16_t down = uint16_t(bits >> 16);  // toward zero
  uint16_t up = uint16_t(down + 1);      // away from zero
  auto value = [](uint16_t h) {
    if ((h & 0x7f80) == 0x7f80) return std::copysign(std::ldexp(1.0, 128), (h & 0x8000) ? -1.0 : 1.0);
    return double(std::bit_cast<float>(uint32_t(h) << 16));
  };
  double dx = double(x);
  double d_down = std::fabs(dx - value(down)), d_up = std::fabs(value(up) - dx);
  if (d_down < d_up) return down;
  if (d_up < d_down) return up;
  return (down & 1) ? up : down;
}

}  // namespace tilejit::test
