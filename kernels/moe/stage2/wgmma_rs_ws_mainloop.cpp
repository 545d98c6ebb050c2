// The warp-specialized wgmma_rs main loop (sm_90a; config.wgmma_rs with warp_specialized, tiles
// "wr ns ws"): the operands and decode of wgmma_rs_mainloop.cpp (RsOperands), split between a
// producer warpgroup and two consumer warpgroups so that each consumer decodes a step's fragments
// while its wgmmas of the step before run, in a persistent grid (one block per SM walking the work
// items; the ring runs on from one item's steps to the next's, so the next item's first stages
// fill while the consumers finish this one and write its outputs).
//
// Threads 256..383 (the producer warpgroup) copy each 64-K step into a ring of
// kWgmmaRsWsStages stages: the activation rows through registers (stored kActivationsAhead steps
// after their load, K-permuted), the raw weights and scales with cp.async. A copier arrives on the stage's full
// mbarrier once its copies of that step landed (cp.async.wait_group, kLag steps behind the newest)
// and it fenced its stores for wgmma's async proxy. Threads 0..255 (two warpgroups, each
// tile_n / 2 weight rows) wait for a stage, decode it, issue its wgmmas, retire the step before
// (wgmma.wait_group 1) and release that step's stage on its empty mbarrier (one arrival per warp),
// which the producer waits for before refilling it.
#include "kernels/moe/stage2/mainloops.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "dsl/tile/intrinsics.h"
#include "kernels/moe/stage2/rs_operands.h"
#include "kernels/moe/stage2/work_items.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {
constexpr int kLag = 3;  // steps a copier's copies may be in flight past the newest it signalled
// Steps ahead a copier loads the activations it stores (through registers: their permutation is
// too fine for cp.async), so that a store rarely waits for its load.
constexpr int kActivationsAhead = 2;
}  // namespace

template <class OutT>
void stage2_wgmma_rs_ws_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const int stages = kWgmmaRsWsStages;
  const int tiles = cfg.tile_n / 2 / kRsGroupRows;  // m64 tiles per consumer warpgroup
  static_assert(kLag + 1 < kWgmmaRsWsStages, "the producer may run kLag steps ahead of what it signalled");
  Value tid = thread_id(), lane = lane_id();
  Value group = udiv(tid, 128), q = urem(udiv(tid, 32), 4), g = udiv(lane, 4), t = urem(lane, 4);
  // Copier index: the producer's threads 0..127 (the consumers never copy).
  RsOperands ops(cfg, stages, 128, urem(tid, 128), a, w, w_scale, sorted_ids, tokens, group, q, g, t);
  const tile::SharedTile& ta = ops.activations();
  const int steps = ops.steps();
  // Per stage a full mbarrier (128 copier arrivals) and an empty one (one arrival per consumer
  // warp). Ring step n (counted over the block's items) uses stage n % stages.
  const SharedPtr<int64_t> bars = shared_array<int64_t>(2 * stages);
  auto full = [&](const Value& n) { return SharedPtr<int64_t>(bars + urem(n, stages)); };
  auto empty = [&](const Value& n) { return SharedPtr<int64_t>(bars + (stages + urem(n, stages))); };
  auto arrive = [](const SharedPtr<int64_t>& bar) { tile::mbarrier_arrive_expect_tx(bar, 0); };
  // Points `ops` at the item; returns its first row and its expert.
  auto item_of = [&](const Value& bn, const Value& bm, const Value& z) {
    Value row0 = bm * cfg.tile_m, e = sorted_experts[bm];
    ops.set_item(e, row0, bn, z);
    return std::pair{row0, e};
  };

  if_(tid == 0, [&] {
    for (int s = 0; s < stages; ++s) {
      tile::mbarrier_init(SharedPtr<int64_t>(bars + s), 128);
      tile::mbarrier_init(SharedPtr<int64_t>(bars + (stages + s)), kStage2Threads / 32);
    }
  });
  barrier();
  if_(
      tid < kStage2Threads,
      [&] {
        // Consumers. The two fragment sets alternate by step parity (two steps per iteration),
        // so that a step's fragments never take the registers its predecessor's wgmmas still read.
        std::vector<std::unique_ptr<Var<>>> sets[2];
        for (int p = 0; p < 2; ++p)
          for (int i = 0; i < tiles * 4; ++i)
            sets[p].push_back(std::make_unique<Var<>>(bitcast(splat(Int(0), 4), Type::vector(Scalar::BF16, 8))));
        Var<> base(Int(0));  // the ring step of this item's first step
        for_each_work_item(cfg, num_valid, [&](const Value& bn, const Value& bm, const Value& z) {
          const auto [row0, e] = item_of(bn, bm, z);
          RsAccumulators acc(cfg, sorted_ids, tokens, row0);
          auto step = [&](const Value& kt, int parity) {
            const Value n = base + kt;
            tile::mbarrier_wait(full(n), urem(udiv(n, stages), 2));
            std::vector<Value> frags = ops.decode_step(kt, urem(n, stages));
            for (size_t i = 0; i < frags.size(); ++i) *sets[parity][i] = frags[i];
            acc.multiply(frags, ta, urem(n, stages));
            // The step before has retired: its fragments pass through the wait (they must not share
            // registers with later ones), its stage goes back to the producer. One lane per warp
            // arrives: the warp's wgmmas of that step are done reading (the wait), and its lanes'
            // shared loads of the stage were used by the decode before them. The refill is by
            // ordinary stores and cp.async (the generic proxy): no proxy fence.
            // (The values are read before the waits, so that the waits are adjacent: the backend
            // keeps the first of them.)
            std::vector<Value> accs, retiring;
            for (auto& d : acc.vars()) accs.push_back(*d);
            for (auto& f : sets[1 - parity]) retiring.push_back(bitcast(f->get(), Type::vector(Scalar::F32, 4)));
            for (Value& v : accs) v = tile::wgmma_wait(v, 1);
            for (const Value& f : retiring) tile::wgmma_wait(f, 1);
            for (size_t i = 0; i < accs.size(); ++i) *acc.vars()[i] = accs[i];
            if_((n > 0) & (lane == 0), [&] { arrive(empty(n - 1)); });
          };
          for_range(0, steps, 2, [&](Value kt) {  // steps is even: slices are whole 128-K chunks
            step(kt, 0);
            step(kt + 1, 1);
          });
          for (auto& d : acc.vars()) *d = tile::wgmma_wait(*d, 0);  // (the last step's stage is released by the next item)

          acc.store(cfg, EpilogueArgs<OutT>{out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z}, ops, t);
          base = base + steps;
        });
      },
      [&] {
        // The producer: ring step n into stage n % stages once the consumers released step n - stages;
        // each item's activations of step kt + kActivationsAhead load while the copies of step kt are issued.
        auto signal = [&](const Value& n) {  // this copier's copies of ring step n landed
          tile::fence_proxy_async();          // its activation stores, for wgmma
          arrive(full(n));
        };
        Var<> base(Int(0));
        for_each_work_item(cfg, num_valid, [&](const Value& bn, const Value& bm, const Value& z) {
          item_of(bn, bm, z);
          // staged[a]: the chunks of step kt + a (loads of steps past the slice read its last step again).
          std::vector<std::vector<std::unique_ptr<Var<>>>> staged(kActivationsAhead);
          for (int ahead = 0; ahead < kActivationsAhead; ++ahead)
            for (const Value& chunk : ops.load_activations(Int(std::min(ahead, steps - 1))))
              staged[size_t(ahead)].push_back(std::make_unique<Var<>>(chunk));
          for_range(0, steps, [&](Value kt) {
            const Value n = base + kt;
            tile::mbarrier_wait(empty(n), urem(udiv(n, stages) + 1, 2));  // the first pass finds them free
            std::vector<Value> chunks;
            for (auto& c : staged[0]) chunks.push_back(c->get());
            ops.store_activations(chunks, urem(n, stages));
            for (int ahead = 0; ahead + 1 < kActivationsAhead; ++ahead)
              for (size_t i = 0; i < staged[0].size(); ++i) *staged[size_t(ahead)][i] = staged[size_t(ahead) + 1][i]->get();
            std::vector<Value> next = ops.load_activations(min(kt + kActivationsAhead, steps - 1));
            for (size_t i = 0; i < next.size(); ++i) *staged.back()[i] = next[i];
            ops.copy_weights(kt, urem(n, stages));
            tile::copy_commit();
            if_(n >= kLag, [&] {
              tile::copy_wait(kLag);
              signal(n - kLag);
            });
          });
          base = base + steps;
        });
        tile::copy_wait(0);
        for (int k = kLag; k >= 1; --k) if_(Value(base) >= k, [&] { signal(base - k); });
      });
}

template void stage2_wgmma_rs_ws_body<float>(const MoeStage2Config&, const Stage2Params<float>&);
template void stage2_wgmma_rs_ws_body<bf16>(const MoeStage2Config&, const Stage2Params<bf16>&);

}  // namespace tilejit::kernels::stage2_detail
