// Semantics of the target intrinsics: mma, cvt_pk_bf16_fp4, ldmatrix and cp.async (isa-semantics.md §1, §2, §5),
// wgmma (ops.def) and the wave reductions.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "backend/emulator/access.h"
#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"

#include "dsl/matrix/fp4.h"
#include "dsl/matrix/mma.h"

namespace tilejit::emulator::detail {

namespace {

using ir::OpCode;
using ir::Scalar;

/// Faults unless lanes [start, start + size) all exist and are active (a whole-wave/warp op).
void require_whole_group(Wave& w, const Inst& in, uint32_t start, uint32_t size, const char* what) {
  uint32_t end = start + size;
  for (uint32_t l = start; l < end; ++l) {
    if (l >= w.nlanes) {
      uint32_t first = start;
      while (!w.mask[first]) ++first;
      fault(w, in, first,
            fmt::format("{} needs all {} lanes, but the workgroup ends at thread {}", what, size, w.nlanes));
    }
    if (!w.mask[l]) fault(w, in, l, fmt::format("{} needs all {} lanes active; this lane is inactive", what, size));
  }
}

/// True when any lane of [start, start + size) is active.
bool any_active(const Wave& w, uint32_t start, uint32_t size) {
  uint32_t end = std::min(start + size, w.nlanes);
  for (uint32_t l = start; l < end; ++l)
    if (w.mask[l]) return true;
  return false;
}

// ---- mma / cvt_pk_bf16_fp4 (dsl/matrix) ----

void exec_mma(Wave& w, const Inst& in) {
  auto instr = matrix::MmaInstr(in.aux & 0xff);
  auto numerics = matrix::MmaNumerics((in.aux >> 8) & 0xff);
  const matrix::MmaInfo& info = matrix::mma_info(instr);
  const uint32_t ws = uint32_t(info.wave_size);
  const uint16_t* a = w.at<uint16_t>(in.o[0]);
  const uint16_t* b = w.at<uint16_t>(in.o[1]);
  const float* c = w.at<float>(in.o[2]);
  float* d = w.at<float>(in.r);
  for (uint32_t s = 0; s < w.nlanes; s += ws) {
    if (!any_active(w, s, ws)) continue;
    require_whole_group(w, in, s, ws, "mma");
    matrix::emulate_mma(instr, numerics, a + size_t(s) * info.a_elems, b + size_t(s) * info.b_elems,
                        c + size_t(s) * info.c_elems, d + size_t(s) * info.c_elems);
  }
}

void exec_cvt_pk_bf16_fp4(Wave& w, const Inst& in) {
  uint32_t* r = w.at<uint32_t>(in.r);
  const uint32_t* src = w.at<uint32_t>(in.o[0]);
  const float* scale = w.at<float>(in.o[1]);
  const int sel = int(in.attr);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l] = matrix::cvt_scalef32_pk_bf16_fp4(src[l], scale[l], sel);
}

Handler select_mma(Prep& p) {
  p.require(p.in.attr == int64_t(matrix::MmaInstr::Gfx950_F32_16x16x32_BF16) ||
                p.in.attr == int64_t(matrix::MmaInstr::Sm90_F32_16x8x16_BF16),
            "attr 0 is not a known matrix instruction");
  auto instr = matrix::MmaInstr(p.in.attr);
  const matrix::MmaInfo& info = matrix::mma_info(instr);
  p.require(info.target == p.opts.target, fmt::format("{} does not exist on {}", info.name, p.ti.name));
  p.require(info.wave_size == p.ti.wave_size, "the instruction's wave size differs from the target's");
  auto is16 = [](const ir::Type& t) { return t.is_value() && t.elem == Scalar::BF16; };
  p.require(is16(p.type(0)) && p.type(0).width == info.a_elems,
            fmt::format("operand a must be <{} x bf16>", info.a_elems));
  p.require(is16(p.type(1)) && p.type(1).width == info.b_elems,
            fmt::format("operand b must be <{} x bf16>", info.b_elems));
  ir::Type acc = ir::Type::vector(Scalar::F32, info.c_elems);
  p.require(p.type(2) == acc && p.in.rt == acc, fmt::format("c and the result must be <{} x f32>", info.c_elems));
  matrix::MmaNumerics num = p.opts.target == Target::Sm90a ? matrix::MmaNumerics::Sm90Truncate
                            : p.opts.cdna3_mfma_numerics   ? matrix::MmaNumerics::Cdna3
                                                           : matrix::MmaNumerics::Exact;
  p.in.aux = uint64_t(instr) | (uint64_t(num) << 8);
  return exec_mma;
}

Handler select_cvt(Prep& p) {
  p.require(p.ti.has_fp4_convert, fmt::format("cvt_pk_bf16_fp4 does not exist on {}", p.ti.name));
  p.require(p.type(0) == ir::Type::scalar(Scalar::I32) && p.type(1) == ir::Type::scalar(Scalar::F32),
            "operands must be (i32 src, f32 scale)");
  p.require(p.in.rt == ir::Type::vector(Scalar::BF16, 2), "the result must be <2 x bf16>");
  p.require(p.in.attr >= 0 && p.in.attr <= 3, "byte_sel (attr 0) must be 0..3");
  return exec_cvt_pk_bf16_fp4;
}

// ---- ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16 (§5.2) ----

template <bool Trans>
void exec_ldmatrix(Wave& w, const Inst& in) {
  const uint32_t* addr = w.at<uint32_t>(in.o[0]);
  uint16_t* r = w.at<uint16_t>(in.r);
  uint16_t rows[32][8];  // rows[8j + r] = row r of matrix j
  for (uint32_t s = 0; s < w.nlanes; s += 32) {
    if (!any_active(w, s, 32)) continue;
    require_whole_group(w, in, s, 32, "ldmatrix");
    for (uint32_t t = 0; t < 32; ++t) {
      std::memcpy(rows[t], shared_ptr(w, in, s + t, addr[s + t], 16, 16, false), 16);
      if (w.P->opts.race_check) note_shared_access(w, in, s + t, addr[s + t], 16, false);
    }
    for (uint32_t t = 0; t < 32; ++t) {
      uint16_t* out = r + size_t(s + t) * 8;
      for (uint32_t j = 0; j < 4; ++j) {
        const uint16_t(*m)[8] = rows + 8 * j;
        if constexpr (Trans) {
          out[2 * j] = m[2 * (t % 4)][t / 4];
          out[2 * j + 1] = m[2 * (t % 4) + 1][t / 4];
        } else {
          out[2 * j] = m[t / 4][2 * (t % 4)];
          out[2 * j + 1] = m[t / 4][2 * (t % 4) + 1];
        }
      }
    }
  }
}

Handler select_ldmatrix(Prep& p) {
  p.require(p.opts.target == Target::Sm90a, fmt::format("ldmatrix does not exist on {}", p.ti.name));
  p.require(p.type(0).is_pointer() && p.type(0).space == ir::AddrSpace::Shared, "the address must be ptr<shared, T>");
  p.require(p.in.rt.is_value() && p.in.rt.width == 8 && ir::scalar_bits(p.in.rt.elem) == 16,
            "the result must be <8 x bf16> (or another 16-bit element)");
  p.require(p.in.attr == 0 || p.in.attr == 1, "trans (attr 0) must be 0 or 1");
  return p.in.attr ? exec_ldmatrix<true> : exec_ldmatrix<false>;
}

// ---- cp.async (16 bytes .cg, 4 / 8 bytes .ca), commit_group, wait_group (§5.3) ----

void exec_cp_async(Wave& w, const Inst& in) {
  const uint32_t* dst = w.at<uint32_t>(in.o[0]);
  const uint64_t* src = w.at<uint64_t>(in.o[1]);
  const int32_t* nbytes = w.at<int32_t>(in.o[2]);
  const uint32_t size = in.attr ? uint32_t(in.attr) : 16;
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    int32_t n = nbytes[l];
    if (n < 0 || uint32_t(n) > size) fault(w, in, l, fmt::format("src_bytes {} is outside 0..{}", n, size));
    shared_ptr(w, in, l, dst[l], size, size, true, 1);  // second cache slot: the shared side
    if (w.wgmma.busy) check_wgmma_reads(w, in, l, dst[l], size);  // the copy may land at any time
    if (w.P->opts.race_check) note_shared_access(w, in, l, dst[l], size, true);  // ... from now until its wait
    if (src[l] & (size - 1)) fault_misaligned(w, in, l, false, src[l], size, size);
    CpCopy c{l, w.cp_committed[l], dst[l], size, {}};
    std::memset(c.data, 0, sizeof c.data);
    if (n > 0) std::memcpy(c.data, global_ptr(w, in, l, src[l], uint64_t(n), 0, false), size_t(n));
    w.cp_pending.push_back(c);
  }
}

void exec_cp_async_commit(Wave& w, const Inst& in) {
  for (uint32_t l = 0; l < w.nlanes; ++l) w.cp_committed[l] += w.mask[l];
}

/// Performs, for each active lane, the queued copies of all but its newest `attr` committed groups.
void exec_cp_async_wait(Wave& w, const Inst& in) {
  const uint64_t keep = uint64_t(in.attr);
  size_t out = 0;
  for (size_t i = 0; i < w.cp_pending.size(); ++i) {
    const CpCopy& c = w.cp_pending[i];
    if (w.mask[c.lane] && uint64_t(c.group) + keep < w.cp_committed[c.lane]) {
      std::memcpy(w.shared + c.dst, c.data, c.size);
      if (w.P->uses_wgmma) note_generic_write(w, c.lane, c.dst, c.size);
      if (w.P->opts.race_check) note_shared_access(w, in, c.lane, c.dst, c.size, true);  // lands at the wait
    } else {
      w.cp_pending[out++] = c;
    }
  }
  w.cp_pending.resize(out);
}

Handler select_cp_async(Prep& p) {
  p.require(p.opts.target == Target::Sm90a, fmt::format("cp.async does not exist on {}", p.ti.name));
  switch (p.op.code) {
    case OpCode::CpAsync:
      p.require(p.type(0).is_pointer() && p.type(0).space == ir::AddrSpace::Shared, "dst must be ptr<shared, T>");
      p.require(p.type(1).is_pointer() && p.type(1).space == ir::AddrSpace::Global, "src must be ptr<global, T>");
      p.require(p.type(2) == ir::Type::scalar(Scalar::I32), "src_bytes must be i32");
      p.require(p.in.attr == 0 || p.in.attr == 4 || p.in.attr == 8 || p.in.attr == 16,
                "the copy size (attr 0) must be 4, 8 or 16 bytes");
      return exec_cp_async;
    case OpCode::CpAsyncCommit: return exec_cp_async_commit;
    default:
      p.require(p.in.attr >= 0, "the number of groups left pending (attr 0) must not be negative");
      return exec_cp_async_wait;
  }
}

// ---- wgmma.mma_async m64nNk16 f32.bf16.bf16, operands K-major in shared memory (no swizzle or the
// 128-byte swizzle, ops.def), A possibly from registers; fence / commit / wait and fence.proxy.async ----
// The product is computed when the wgmma issues, with the numerics of the m16n8k16 mma.sync (one
// fused 16-term dot per element). Hardware may read the operands any time until a wait retires
// the group, so the emulator keeps the chunks each group reads (WgmmaReads) from its issue until
// then and faults on a shared write into them (a store, an atomic, or a cp.async issued).

constexpr uint32_t kWarpgroup = 128;

/// Counts the 16-byte chunk holding shared offset `at` as read by warpgroup g's open group.
void note_wgmma_read(Wave& w, const Inst& in, uint32_t g, uint32_t at) {
  WgmmaReads& r = w.wgmma;
  WgmmaGroup& open = r.open[g];
  if (open.chunks.empty()) {
    open.first = &in;
    r.stamp.resize(r.count.size(), 0);
    open.chunks.reserve(64);
  }
  const uint32_t c = at / 16, stamp = r.next_stamp + g;  // one stamp per open group
  if (r.stamp[c] == stamp) return;
  r.stamp[c] = stamp;
  open.chunks.push_back(c);
  r.busy += r.count[c]++ == 0;
}

void retire_wgmma_group(WgmmaReads& r, const WgmmaGroup& group) {
  for (uint32_t c : group.chunks) r.busy -= --r.count[c] == 0;
}

/// Which group reads chunk c, for the message.
std::string wgmma_reader(const Wave& w, uint32_t c) {
  auto reads = [&](const WgmmaGroup& grp) { return std::find(grp.chunks.begin(), grp.chunks.end(), c) != grp.chunks.end(); };
  for (size_t g = 0; g < w.wgmma.open.size(); ++g) {
    const WgmmaGroup* hit = reads(w.wgmma.open[g]) ? &w.wgmma.open[g] : nullptr;
    for (const WgmmaGroup& grp : w.wgmma.committed[g])
      if (!hit && reads(grp)) hit = &grp;
    if (hit) {
      const ir::SourceLoc& loc = hit->first->op->loc;
      return fmt::format("warpgroup {}, threads {}..{}, its wgmma{}", g, g * kWarpgroup, g * kWarpgroup + kWarpgroup - 1,
                         loc.known() ? " at " + loc.str() : "");
    }
  }
  return "a warpgroup";
}


/// The shared byte offset every lane of the warpgroup at `s` passes in operand `k`; faults if they differ.
uint32_t uniform_address(Wave& w, const Inst& in, uint32_t s, uint32_t k, const char* what) {
  const uint32_t* addr = w.at<uint32_t>(in.o[k]);
  for (uint32_t l = s + 1; l < s + kWarpgroup; ++l)
    if (addr[l] != addr[s])
      fault(w, in, l, fmt::format("wgmma operand {} must be the same in the whole warpgroup: {:#x} here, {:#x} in "
                                  "thread ({},0,0)", what, addr[l], addr[s], s));
  return addr[s];
}

/// Faults when the chunk at shared offset `at` holds a write its writer has not published to the
/// async proxy with fence_proxy_async.
void check_published(const Wave& w, const Inst& in, uint32_t lane, uint32_t at) {
  const ProxyWrites& p = w.proxy;
  const uint32_t c = at / 16, writer = p.writer[c];
  if (writer && p.fences[writer - 1] == p.epoch[c])
    fault_at(w, in, lane,
             fmt::format("reads shared memory that thread ({},0,0) wrote without a fence_proxy_async after the "
                         "write: wgmma reads through the async proxy, which may not see it yet",
                         writer - 1),
             true, at);
}

/// Rows x 16 bf16 of a K-major operand at `base`: without swizzle row r, k at (r/8) sbo + (k/8) lbo +
/// (r%8) 16 + (k%8) 2; with the 128-byte swizzle at u = base + (r/8) sbo + (r%8) 128 + 2 k, its
/// bits 6:4 XORed with bits 9:7 (shared offsets; the hardware's shared window starts 1024-aligned).
void gather_operand(Wave& w, const Inst& in, uint32_t lane, uint32_t base, uint32_t rows, uint32_t lbo, uint32_t sbo,
                    bool swizzle, uint16_t* out) {
  for (uint32_t r = 0; r < rows; ++r)
    for (uint32_t h = 0; h < 2; ++h) {
      uint32_t at = swizzle ? base + (r / 8) * sbo + (r % 8) * 128 + h * 16 : base + (r / 8) * sbo + h * lbo + (r % 8) * 16;
      if (swizzle) at ^= ((at >> 7) & 7) << 4;
      std::memcpy(out + r * 16 + h * 8, shared_ptr(w, in, lane, at, 16, 16, false), 16);
      check_published(w, in, lane, at);
      note_wgmma_read(w, in, lane / kWarpgroup, at);
      if (w.P->opts.race_check) note_shared_access(w, in, lane, at, 16, false);
    }
}

void exec_wgmma(Wave& w, const Inst& in) {
  const uint32_t n = uint32_t(in.aux & 0x1FF), lbo = uint32_t(in.aux >> 9 & 0x3FFFF), sbo = uint32_t(in.aux >> 27 & 0x3FFFF);
  const bool swizzle = (in.aux >> 45) & 1, a_in_registers = (in.aux >> 46) & 1;
  const uint32_t width = n / 2;
  const float* c = w.at<float>(in.o[2]);
  float* d = w.at<float>(in.r);
  uint16_t a[64 * 16], b[128 * 16];  // N <= 128 (select_wgmma)
  float acc[64 * 128];
  WgmmaReads& reads = w.wgmma;
  if (reads.open.empty()) {  // the first wgmma of this worker's launch
    const size_t groups = (w.nlanes + kWarpgroup - 1) / kWarpgroup;
    reads.open.resize(groups);
    reads.committed.resize(groups);
    reads.count.assign((w.P->shared_bytes + 15) / 16, 0);
  }
  for (uint32_t s = 0; s < w.nlanes; s += kWarpgroup) {
    if (!any_active(w, s, kWarpgroup)) continue;
    require_whole_group(w, in, s, kWarpgroup, "wgmma");
    // Lane l of warp q holds (16 q + l / 4 + 8 (i / 2 % 2), 8 (i / 4) + 2 (l % 4) + i % 2) in element i,
    // of the accumulator and (the same for 8 elements, as 64 x 16) of an A fragment.
    auto row_col = [&](uint32_t lane, uint32_t i) {
      uint32_t q = lane / 32, l = lane % 32;
      return std::pair{16 * q + l / 4 + 8 * (i / 2 % 2), 8 * (i / 4) + 2 * (l % 4) + i % 2};
    };
    if (a_in_registers) {
      const uint16_t* frag = w.at<uint16_t>(in.o[0]);
      for (uint32_t lane = 0; lane < kWarpgroup; ++lane)
        for (uint32_t i = 0; i < 8; ++i) {
          auto [r, k] = row_col(lane, i);
          a[r * 16 + k] = frag[size_t(s + lane) * 8 + i];
        }
    } else {
      gather_operand(w, in, s, uniform_address(w, in, s, 0, "a"), 64, lbo, sbo, swizzle, a);
    }
    gather_operand(w, in, s, uniform_address(w, in, s, 1, "b"), n, lbo, sbo, swizzle, b);
    for (uint32_t lane = 0; lane < kWarpgroup; ++lane)
      for (uint32_t i = 0; i < width; ++i) {
        auto [r, col] = row_col(lane, i);
        acc[size_t(r) * n + col] = c[size_t(s + lane) * width + i];
      }
    for (uint32_t r = 0; r < 64; ++r)
      for (uint32_t col = 0; col < n; ++col)
        acc[size_t(r) * n + col] =
            matrix::mma_dot(matrix::MmaNumerics::Sm90Truncate, a + r * 16, b + col * 16, 16, acc[size_t(r) * n + col]);
    for (uint32_t lane = 0; lane < kWarpgroup; ++lane)
      for (uint32_t i = 0; i < width; ++i) {
        auto [r, col] = row_col(lane, i);
        d[size_t(s + lane) * width + i] = acc[size_t(r) * n + col];
      }
  }
}

/// wgmma_commit: each warpgroup's open group joins its committed ones.
void exec_wgmma_commit(Wave& w, const Inst&) {
  WgmmaReads& r = w.wgmma;
  for (size_t g = 0; g < r.open.size(); ++g) {
    if (!any_active(w, uint32_t(g) * kWarpgroup, kWarpgroup)) continue;
    r.committed[g].push_back(std::move(r.open[g]));
    r.open[g] = {};
  }
  r.next_stamp += uint32_t(r.open.size());  // fresh stamps for the next open groups
}

/// wgmma_wait: the operations already completed at issue; the accumulator passes through, and each
/// warpgroup's committed groups but the newest `pending` are retired (their reads are over).
void exec_wgmma_wait(Wave& w, const Inst& in) {
  WgmmaReads& r = w.wgmma;
  for (size_t g = 0; g < r.committed.size(); ++g) {
    if (!any_active(w, uint32_t(g) * kWarpgroup, kWarpgroup)) continue;
    auto& done = r.committed[g];
    const size_t retire = done.size() > size_t(in.attr) ? done.size() - size_t(in.attr) : 0;
    for (size_t i = 0; i < retire; ++i) retire_wgmma_group(r, done[i]);
    done.erase(done.begin(), done.begin() + ptrdiff_t(retire));
  }
  const size_t bytes = size_t(in.width) * 4;
  const uint8_t* src = w.at<uint8_t>(in.o[0]);
  uint8_t* dst = w.at<uint8_t>(in.r);
  for (uint32_t l = 0; l < w.nlanes; ++l)
    if (w.mask[l]) std::memcpy(dst + l * bytes, src + l * bytes, bytes);
}

void exec_nothing(Wave&, const Inst&) {}

/// fence.proxy.async: each active lane's shared writes so far become visible to wgmma, and its
/// reads so far are ordered before later bulk copies' writes.
void exec_fence_proxy_async(Wave& w, const Inst&) {
  if (w.P->opts.race_check) note_proxy_fence(w);
  if (!w.P->uses_wgmma) return;
  for (uint32_t l = 0; l < w.nlanes; ++l) w.proxy.fences[l] += w.mask[l];
}

Handler select_wgmma(Prep& p) {
  p.require(p.opts.target == Target::Sm90a, fmt::format("wgmma does not exist on {}", p.ti.name));
  switch (p.op.code) {
    case OpCode::Wgmma: {
      const auto& at = p.op.attrs;
      p.require(at.size() == 4, "wgmma carries N, lbo, sbo and the swizzle");
      const int64_t n = at[0], lbo = at[1], sbo = at[2], swizzle = at[3];
      p.require(swizzle == 0 || swizzle == 1, "the swizzle must be 0 (none) or 1 (128-byte)");
      p.require(n >= 8 && n <= 128 && n % 8 == 0, "N must be a multiple of 8 in 8..128");
      p.require(lbo >= 0 && lbo < (1 << 18) && lbo % 16 == 0 && sbo >= 0 && sbo < (1 << 18) && sbo % 16 == 0,
                "lbo and sbo must be multiples of 16 below 2^18");
      const ir::Type smem = ir::Type::pointer(Scalar::BF16, ir::AddrSpace::Shared);
      const ir::Type acc = ir::Type::vector(Scalar::F32, int(n / 2));
      const bool a_in_registers = p.type(0) == ir::Type::vector(Scalar::BF16, 8);
      p.require((p.type(0) == smem || a_in_registers) && p.type(1) == smem,
                "a must be ptr<shared, bf16> or <8 x bf16>, b ptr<shared, bf16>");
      p.require(p.type(2) == acc && p.in.rt == acc, fmt::format("the accumulator must be <{} x f32>", n / 2));
      p.require(p.ti.wave_size == 32, "wgmma needs warps of 32");
      p.in.aux = uint64_t(n) | uint64_t(lbo) << 9 | uint64_t(sbo) << 27 | uint64_t(swizzle) << 45 |
                 uint64_t(a_in_registers) << 46;
      return exec_wgmma;
    }
    case OpCode::WgmmaWait:
      p.require(p.type(0) == p.in.rt && p.in.rt.is_value() && p.in.rt.elem == Scalar::F32,
                "wgmma_wait takes and returns the same f32 accumulator");
      p.require(p.in.attr >= 0 && p.in.attr <= 7, "the groups left pending (attr 0) must be 0..7");
      return exec_wgmma_wait;
    case OpCode::WgmmaCommit:
      return exec_wgmma_commit;
    case OpCode::FenceProxyAsync:
      return exec_fence_proxy_async;
    default:
      return exec_nothing;  // wgmma_fence: ordering the emulator needs no help with
  }
}

// ---- wave_umax / wave_umin (redux.sync over the warp; wave.reduce over the wave of 64) ----

template <bool Max>
void exec_wave_reduce(Wave& w, const Inst& in) {
  const uint32_t ws = w.L->wave_size;
  const uint32_t* v = w.at<uint32_t>(in.o[0]);
  uint32_t* r = w.at<uint32_t>(in.r);
  for (uint32_t s = 0; s < w.nlanes; s += ws) {
    if (!any_active(w, s, ws)) continue;
    require_whole_group(w, in, s, ws, Max ? "wave_umax" : "wave_umin");
    uint32_t acc = v[s];
    for (uint32_t l = s + 1; l < s + ws; ++l) acc = Max ? std::max(acc, v[l]) : std::min(acc, v[l]);
    for (uint32_t l = s; l < s + ws; ++l) r[l] = acc;
  }
}

Handler select_wave_reduce(Prep& p) {
  p.require(p.type(0) == ir::Type::scalar(Scalar::I32) && p.in.rt == ir::Type::scalar(Scalar::I32),
            "the operand and the result must be i32");
  return p.op.code == OpCode::WaveUMax ? exec_wave_reduce<true> : exec_wave_reduce<false>;
}

}  // namespace

void check_wgmma_reads(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes) {
  const WgmmaReads& r = w.wgmma;
  for (uint64_t c = addr / 16; c <= (addr + bytes - 1) / 16 && c < r.count.size(); ++c)
    if (r.count[c])
      fault_at(w, in, lane,
               fmt::format("writes into the operands of a wgmma still in flight ({}; retire its group with "
                           "wgmma_commit and wgmma_wait first)",
                           wgmma_reader(w, uint32_t(c))),
               true, addr);
}

void reset_wgmma_reads(Wave& w) {
  std::fill(w.proxy.writer.begin(), w.proxy.writer.end(), 0u);
  WgmmaReads& r = w.wgmma;
  if (r.busy) std::fill(r.count.begin(), r.count.end(), uint16_t(0));
  r.busy = 0;
  for (auto& g : r.open) g.chunks.clear();
  for (auto& g : r.committed) g.clear();
}

// ---- prefetch_l2: a hint; the emulator only checks what the hardware needs of the range ----
void exec_prefetch_l2(Wave& w, const Inst& in) {
  const uint64_t* src = w.at<uint64_t>(in.o[0]);
  const int32_t* bytes = w.at<int32_t>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    if (bytes[l] <= 0 || bytes[l] % 16) fault(w, in, l, fmt::format("prefetch_l2 of {} bytes: not a positive multiple of 16", bytes[l]));
    global_ptr(w, in, l, src[l], uint64_t(bytes[l]), 16, false);
  }
}

Handler select_prefetch_l2(Prep& p) {
  p.require(p.type(0).is_pointer() && p.type(0).space == ir::AddrSpace::Global, "src must be ptr<global, T>");
  p.require(p.type(1) == ir::Type::scalar(Scalar::I32), "bytes must be i32");
  return exec_prefetch_l2;
}

Handler select_intrinsics(Prep& p) {
  switch (p.op.code) {
    case OpCode::Mma: return select_mma(p);
    case OpCode::CvtPkBf16Fp4: return select_cvt(p);
    case OpCode::LdMatrix: return select_ldmatrix(p);
    case OpCode::CpAsync: case OpCode::CpAsyncCommit: case OpCode::CpAsyncWait: return select_cp_async(p);
    case OpCode::WaveUMax: case OpCode::WaveUMin: return select_wave_reduce(p);
    case OpCode::PrefetchL2: return select_prefetch_l2(p);
    case OpCode::MbarrierInit: case OpCode::MbarrierArriveExpectTx: case OpCode::BulkCopyToShared:
    case OpCode::MbarrierWait: case OpCode::NamedBarrier:
      return select_bulk_copy(p);
    case OpCode::WaitPriorGrids: case OpCode::LaunchDependents:
      return exec_nothing;  // the emulator runs launches one after another: nothing overlaps
    case OpCode::Wgmma: case OpCode::WgmmaFence: case OpCode::WgmmaCommit: case OpCode::WgmmaWait:
    case OpCode::FenceProxyAsync:
      return select_wgmma(p);
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
