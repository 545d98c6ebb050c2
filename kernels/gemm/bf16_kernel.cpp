// The BF16 GEMM kernel: C = A B^T with the target's bf16 MMA, register double buffering.
//
// Dataflow per block (tile_m x tile_n of C, 256 threads):
//  - the waves split the tile wm x wn (gemm_wave_split); each wave owns m_tiles x n_tiles MMA tiles;
//  - each lane reads its A and B rows directly from global memory as 16-byte vectors, in the K
//    permutation of fragments.h (rows past M or N are clamped to the last row and masked when C
//    is written);
//  - the K loop is double-buffered in registers: the vectors of stage s+1 are loaded into Var
//    slots before the MMAs of stage s consume the values loaded one iteration earlier;
//  - C goes through the MMA's C layout, each element stored only when it lies inside [M, N].
#include "kernels/gemm/bf16_kernel.h"

#include "dsl/kernel_family.h"
#include "kernels/gemm/fragments.h"

namespace tilejit::kernels {

using namespace dsl;
using namespace gemm_detail;

namespace {

template <class OutT>
void bf16_body(const BF16GemmConfig& cfg, Ptr<OutT> c, Ptr<bf16> a, Ptr<bf16> b, Int M, Int N, Int K) {
  const Geometry g = target_geometry();
  const WaveSplit s = gemm_wave_split(cfg.tile_m, cfg.tile_n, g.waves, g.mma_n, g.a_loads);
  const int vecs = cfg.tile_k / 32;  // 16-byte vectors per lane and row in one stage

  Value tid = thread_id(), lane = lane_id();
  Value wave_index = udiv(tid, g.wave);
  Value wave_m = udiv(wave_index, s.wn), wave_n = urem(wave_index, s.wn);
  Value row0 = block_id(1) * cfg.tile_m, col0 = block_id(0) * cfg.tile_n;
  Value lr = lane_row(lane);
  Value k_lane = lane_quarter(lane) * (cfg.tile_k / 4);
  Value K64 = cast<int64_t>(K);

  // This lane's row pointers (at its K quarter); rows past the matrix read its last row.
  auto row_ptr = [&](const Value& base, const Value& row, const Value& rows) {
    Value r = min(row, rows - 1);
    return Value(Value(base + cast<int64_t>(r) * K64) + k_lane);
  };
  std::vector<Value> a_lo, a_hi, b_rows;
  for (int mt = 0; mt < s.m_tiles; ++mt) {
    Value r = row0 + wave_m * s.rows + (lr + 16 * mt);
    a_lo.push_back(row_ptr(a, r, M));
    if (!g.amd) a_hi.push_back(row_ptr(a, r + 8, M));
  }
  for (int nt = 0; nt < s.n_tiles; ++nt)
    b_rows.push_back(row_ptr(b, col0 + wave_n * s.cols + (lr + g.mma_n * nt), N));

  // One stage's vectors in a fixed order: A lo, A hi (sm_90a), B; each row's `vecs` vectors in K order.
  auto load_stage = [&](const Value& k0) {
    std::vector<Value> v;
    for (const auto* rows : {&a_lo, &a_hi, &b_rows})
      for (const Value& p : *rows)
        for (int q = 0; q < vecs; ++q) v.push_back(load(p, k0 + q * 8, 8));
    return v;
  };

  Accumulators acc(s.m_tiles, s.n_tiles);
  std::vector<std::unique_ptr<Var<>>> next;
  for (const Value& v : load_stage(Int(0))) next.push_back(std::make_unique<Var<>>(v));

  Value stages = K / cfg.tile_k;
  for_range(0, stages, [&](Value st) {
    std::vector<Value> cur;
    for (auto& slot : next) cur.push_back(*slot);
    // Prefetch the next stage. Under a (uniform) branch, so that the loop-carried values are not
    // plain loads: LLVM would otherwise fold phi(load, load) into one load at the loop top.
    if_(st + 1 < stages, [&] {
      std::vector<Value> fetched = load_stage((st + 1) * cfg.tile_k);
      for (size_t i = 0; i < next.size(); ++i) *next[i] = fetched[i];
    });

    auto rows = [&](size_t first, int count) {
      std::vector<std::vector<Value>> out;
      for (int r = 0; r < count; ++r)
        out.emplace_back(cur.begin() + long(first + size_t(r * vecs)), cur.begin() + long(first + size_t((r + 1) * vecs)));
      return out;
    };
    auto lo = rows(0, s.m_tiles);
    auto hi = rows(a_lo.size() * vecs, int(a_hi.size()));
    auto bv = rows((a_lo.size() + a_hi.size()) * vecs, s.n_tiles);
    std::vector<std::vector<Value>> af, bf;
    for (int mt = 0; mt < s.m_tiles; ++mt) af.push_back(a_fragments(lo[mt], g.amd ? std::vector<Value>{} : hi[mt]));
    for (int nt = 0; nt < s.n_tiles; ++nt) bf.push_back(b_fragments(bv[nt]));

    mma_accumulate(acc, af, bf);
  });

  Value c_block = c + (cast<int64_t>(row0) * cast<int64_t>(N) + cast<int64_t>(col0));
  store_accumulators(acc, c_block, N, lane, wave_m * s.rows, wave_n * s.cols, M - row0, N - col0);
}

template <class OutT>
KernelDef define(const BF16GemmConfig& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(kGemmThreads), 1, 1};
  opts.param_names = {"c", "a", "b", "M", "N", "K"};
  return kernel(
      cfg.kernel_name(),
      [cfg](Ptr<OutT> c, Ptr<bf16> a, Ptr<bf16> b, Int M, Int N, Int K) { bf16_body<OutT>(cfg, c, a, b, M, N, K); },
      std::move(opts));
}

}  // namespace

KernelDef bf16_gemm_kernel(const BF16GemmConfig& config) {
  config.validate();
  return define_once(config.kernel_name(),
                     [&] { return config.out == GemmOut::F32 ? define<float>(config) : define<bf16>(config); });
}

}  // namespace tilejit::kernels
