// The BF16 GEMM kernel: C = A B^T with the target's bf16 MMA, A and B staged through swizzled
// shared-memory tiles in a multi-stage pipeline.
//
// Dataflow per block (tile_m x tile_n of C, 256 threads):
//  - bf16_gemm_plan: the waves form k_groups groups; in each group the waves split the tile wm x wn
//    (gemm_wave_split), each owning m_tiles x n_tiles MMA tiles, and group g takes the MMA k-steps
//    g, g + k_groups, ... of every stage (two groups of four 64x64 warp tiles instead of eight
//    64x32 ones halve the shared-memory reads per MMA on sm_90a);
//  - A [tile_m x tile_k] and B [tile_n x tile_k] of each K step go global -> shared with
//    tile::copy_begin/copy_end into one of `stages` stage buffers (sm_90a: cp.async with zero
//    fill, `stages` deep; gfx950: range-checked buffer loads into registers issued before the
//    MMAs, stored to the other LDS stage after them). Rows past M or N read as 0;
//  - gfx950 (and sm_90a with one k-step per stage), iteration kt: wait for stage kt, one barrier,
//    issue the copy of step kt + stages - 1 (into the stage read in iteration kt - 1, which every
//    wave has left), then the fragments of stage kt (through the swizzle) feed the MMAs;
//  - sm_90a with several k-steps per stage: the fragments (ldmatrix.x4) are double-buffered in
//    registers, one k-step ahead of the MMAs; at the last k-step of stage kt one barrier publishes
//    step kt + 1 and frees stage kt (its fragments are all in registers), which then receives step
//    kt + stages, and the first fragments of stage kt + 1 are read before its last MMAs run;
//  - the other groups add their partial sums into group 0 through shared memory; group 0 writes C
//    through the MMA's C layout, each element stored only when it lies inside [M, N].
#include "kernels/gemm/bf16_kernel.h"

#include "dsl/kernel_family.h"
#include "dsl/tile/layout.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/gemm/fragments.h"

namespace tilejit::kernels {

using namespace dsl;
using namespace gemm_detail;

namespace {

template <class OutT>
void bf16_body(const BF16GemmConfig& cfg, Ptr<OutT> c, Ptr<bf16> a, Ptr<bf16> b, Int M, Int N, Int K) {
  const Geometry g = target_geometry();
  const BF16GemmPlan plan = bf16_gemm_plan(cfg, g.amd);
  const WaveSplit s = plan.split;
  const int groups = plan.k_groups, group_waves = s.wm * s.wn;
  const int stages = bf16_gemm_stages(cfg, g.amd);
  const tile::SharedTile ta = tile::make_shared_tile(cfg.tile_m, cfg.tile_k, stages);
  const tile::SharedTile tb = tile::make_shared_tile(cfg.tile_n, cfg.tile_k, stages);

  Value tid = thread_id();
  Value wave_index = udiv(tid, g.wave);
  Value group = groups > 1 ? udiv(wave_index, group_waves) : Int(0);
  Value wave_in_group = groups > 1 ? urem(wave_index, group_waves) : wave_index;
  Value wave_m = udiv(wave_in_group, s.wn), wave_n = urem(wave_in_group, s.wn);
  std::optional<Value> k_offset;  // this group's first k-step within a stage
  if (groups > 1) k_offset = group * g.mma_k;
  Value row0 = block_id(1) * cfg.tile_m, col0 = block_id(0) * cfg.tile_n;
  Value K64 = cast<int64_t>(K);
  Value a_block = a + cast<int64_t>(row0) * K64, b_block = b + cast<int64_t>(col0) * K64;
  Value rows_a = M - row0, rows_b = N - col0;
  Value steps = K / cfg.tile_k;

  // Starts the copies of K step `step` into `stage`; rows_a/rows_b 0 copy nothing (zero fill).
  auto issue = [&](const Value& step, const Value& stage, const Value& ra, const Value& rb) {
    Value k = step * cfg.tile_k;
    return std::pair{tile::copy_begin(ta, stage, a_block + k, K, ra, std::nullopt, kGemmThreads),
                     tile::copy_begin(tb, stage, b_block + k, K, rb, std::nullopt, kGemmThreads)};
  };
  // Step `step` if it exists, else an empty copy of the last step (addresses stay in range).
  auto issue_if = [&](const Value& step, const Value& stage) {
    Value exists = step < steps;
    return issue(min(step, steps - 1), stage, select(exists, rows_a, 0), select(exists, rows_b, 0));
  };

  Accumulators acc(s.m_tiles, s.n_tiles);
  Value a_row = wave_m * s.rows, b_row = wave_n * s.cols;
  const int k_stride = g.mma_k * groups;  // K between this group's consecutive k-steps
  // The MMA operands of one k-step (this group's K [k0, k0 + mma_k) of `stage`, plus k_offset).
  auto load_step = [&](const Value& stage, int k0, std::vector<Value>& af, std::vector<Value>& bf) {
    af.clear();
    for (int mt = 0; mt < s.m_tiles; ++mt) af.push_back(tile::load_a_fragment(ta, stage, a_row + 16 * mt, k0, k_offset));
    bf = tile::load_b_fragments(tb, stage, b_row, k0, s.n_tiles, k_offset);
  };
  auto mma_step = [&](const std::vector<Value>& af, const std::vector<Value>& bf) {
    std::vector<std::vector<Value>> as, bs;
    for (const Value& v : af) as.push_back({v});
    for (const Value& v : bf) bs.push_back({v});
    mma_accumulate(acc, as, bs);
  };

  const int k_steps = cfg.tile_k / k_stride;  // this group's k-steps per stage
  if (g.amd || k_steps == 1) {
    // gfx950 (and sm_90a with one k-step per stage, where reading ahead would only shorten the
    // copies' head start by a stage): prologue steps 0 .. stages-2; each iteration waits for its
    // stage, issues the copy of step kt + stages - 1 (gfx950: into registers), reads its
    // fragments, runs the MMAs and (gfx950) stores the loaded chunks.
    for (int p = 0; p + 1 < stages; ++p) {
      auto [ca, cb] = p == 0 ? issue(Int(0), Int(0), rows_a, rows_b) : issue_if(Int(p), Int(p));
      tile::copy_end(ca);
      tile::copy_end(cb);
      tile::copy_commit();
    }
    for_range(0, steps, [&](Value kt) {
      tile::copy_wait(stages - 2);
      barrier();
      Value ahead = kt + (stages - 1);
      auto [ca, cb] = issue_if(ahead, urem(ahead, stages));
      Value stage = urem(kt, stages);
      std::vector<std::vector<Value>> af(size_t(s.m_tiles)), bf(size_t(s.n_tiles));
      for (int k0 = 0; k0 < cfg.tile_k; k0 += k_stride) {
        for (int mt = 0; mt < s.m_tiles; ++mt)
          af[size_t(mt)].push_back(tile::load_a_fragment(ta, stage, a_row + 16 * mt, k0, k_offset));
        std::vector<Value> bs = tile::load_b_fragments(tb, stage, b_row, k0, s.n_tiles, k_offset);
        for (int nt = 0; nt < s.n_tiles; ++nt) bf[size_t(nt)].push_back(bs[size_t(nt)]);
      }
      mma_accumulate(acc, af, bf);
      tile::copy_end(ca);  // gfx950: the registers loaded above go to LDS now
      tile::copy_end(cb);
      tile::copy_commit();
    });
  } else {
    // sm_90a, fragments double-buffered in registers: k-step j's MMAs run after the ldmatrix of
    // k-step j + 1 is issued. At the stage's last k-step every fragment of stage kt is already in
    // registers, so the barrier there both publishes step kt + 1 and frees stage kt, which then
    // receives step kt + stages; the first fragments of stage kt + 1 load before the last MMAs.
    // Prologue: steps 0 .. stages-1 (empty copies past the last step), one commit group each.
    for (int p = 0; p < stages; ++p) {
      auto [ca, cb] = p == 0 ? issue(Int(0), Int(0), rows_a, rows_b) : issue_if(Int(p), Int(p));
      tile::copy_end(ca);
      tile::copy_end(cb);
      tile::copy_commit();
    }
    tile::copy_wait(stages - 1);  // step 0 has landed (this thread's copies) ...
    barrier();                    // ... everyone's
    std::vector<Value> af0, bf0;
    load_step(Int(0), 0, af0, bf0);
    std::vector<std::unique_ptr<Var<>>> a_next, b_next;  // stage kt's first fragments, across iterations
    for (const Value& v : af0) a_next.push_back(std::make_unique<Var<>>(v));
    for (const Value& v : bf0) b_next.push_back(std::make_unique<Var<>>(v));
    for_range(0, steps, [&](Value kt) {
      Value stage = urem(kt, stages);
      std::vector<Value> af, bf, an, bn;
      for (auto& v : a_next) af.push_back(v->get());
      for (auto& v : b_next) bf.push_back(v->get());
      for (int j = 0; j < k_steps; ++j) {
        if (j + 1 < k_steps) {
          load_step(stage, (j + 1) * k_stride, an, bn);
        } else {
          tile::copy_wait(stages - 2);  // step kt + 1 has landed (this thread's copies) ...
          barrier();                    // ... everyone's, and every wave holds stage kt's fragments
          Value ahead = kt + stages;
          auto [ca, cb] = issue_if(ahead, stage);
          tile::copy_end(ca);
          tile::copy_end(cb);
          tile::copy_commit();
          load_step(urem(kt + 1, stages), 0, an, bn);
          for (size_t i = 0; i < an.size(); ++i) *a_next[i] = an[i];
          for (size_t i = 0; i < bn.size(); ++i) *b_next[i] = bn[i];
        }
        mma_step(af, bf);
        af = an;
        bf = bn;
      }
    });
  }
  tile::copy_wait(0);  // no copy outlives the kernel (the trailing groups are empty)

  Value c_block = c + (cast<int64_t>(row0) * cast<int64_t>(N) + cast<int64_t>(col0));
  if (groups == 1) {
    store_accumulators(acc, c_block, N, lane_id(), a_row, b_row, M - row0, N - col0);
    return;
  }
  // Groups 1.. park their partial sums, group 0 adds them (in group order) and writes C. Slot
  // (group - 1, wave, tile, lane) holds one accumulator vector; lanes are 16 bytes apart.
  const int c_elems = tile::target_mma().c_elems, tiles = s.m_tiles * s.n_tiles;
  SharedPtr<float> partial = shared_array<float>(int64_t(groups - 1) * group_waves * tiles * g.wave * c_elems);
  auto slot = [&](const Value& grp, int t) {
    return ((((grp - 1) * group_waves + wave_in_group) * tiles + t) * g.wave + lane_id()) * c_elems;
  };
  if_(group > 0, [&] {
    for (int mt = 0; mt < s.m_tiles; ++mt)
      for (int nt = 0; nt < s.n_tiles; ++nt) store(partial, slot(group, mt * s.n_tiles + nt), acc.at(mt, nt));
  });
  barrier();
  if_(group == 0, [&] {
    for (int other = 1; other < groups; ++other)
      for (int mt = 0; mt < s.m_tiles; ++mt)
        for (int nt = 0; nt < s.n_tiles; ++nt)
          acc.at(mt, nt) = acc.at(mt, nt) + load(partial, slot(Int(other), mt * s.n_tiles + nt), c_elems);
    store_accumulators(acc, c_block, N, lane_id(), a_row, b_row, M - row0, N - col0);
  });
}

template <class OutT>
KernelDef define(const BF16GemmConfig& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(kGemmThreads), 1, 1};
  opts.param_names = {"c", "a", "b", "M", "N", "K"};
  opts.trace_key = cfg.kernel_name();  // the name spells out the whole config
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
