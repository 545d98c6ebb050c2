// The stage-2 main loop with the weights in registers (sm_90a, config.wgmma_rs): wgmma's A operand
// is the weights, decoded straight into each lane's A fragment (the RS form), and its B operand
// the block's activation rows in shared memory (wgmma N = tile_m). Each weight element is decoded
// once per block for all its rows; shared memory holds only the copied inputs (raw weight bytes,
// scales, activations), never decoded weights.
//
// Block: two warpgroups; group g owns the weight rows g * tile_n / 2 .. (tile_n / 128 m64 tiles).
// Row m = 16 q + l / 4 + 8 h of an m64 tile (warp q of the group, lane l, fragment half h) is its
// weight row 16 q + 2 (l / 4) + h, so a lane's two rows are adjacent output columns (bf16x2 atomics).
//
// Per 64-K step a ring of kWgmmaRsStages stages: cp.async copies of the raw preshuffled weight
// bytes (per 16 rows the 512 contiguous bytes of the step) and of the scale bytes (per 32 rows the
// 128 contiguous bytes that hold the step's two blocks), and the activation rows (a swizzled
// 64-column tile, wgmma's B) permuted along K. A lane reads word t = l % 4 of the 16-byte block of
// each of its rows per 32-K half, the natural K 8 t .. 8 t + 7, and decodes it in Split order
// (tile::Fp4Order::Split: 11 integer operations per word instead of natural order's 16): its pair
// p = 0..3 holds K 8 t + p and 8 t + p + 4. wgmma wants in its A fragment of k16 step u the column
// pairs t (K 16 u + 2 t) and t + 4 (K 16 u + 8 + 2 t); lane t gives them its pairs 2 u and 2 u + 1.
// So wgmma column pair 4 i + t of the half (i = 2 u + s) holds natural K 8 t + i and 8 t + i + 4, and
// B's rows must hold the activations in that order: a 2-byte permutation, too fine for cp.async,
// so the activations pass through registers (16-byte loads of natural 8-K chunks one step ahead,
// then per i the chunk's elements i and i + 4 stored at column pair 4 i + t). On the H100 this is
// 3-5% faster than natural-order decoding with the activations transposed by 4-byte cp.async
// copies. The activation rows go to wgmma in chunks of 64 (its N; 96-row tiles: 64 and 32); a chunk
// that starts with a padding row is skipped. Step kt: wait until the copies of step kt + 1 landed,
// one barrier, the wgmmas of step kt (fragments decoded at the end of step kt - 1), the copies of step
// kt + stages - 1 while they run, wait_group 0 (no stage is overwritten while a wgmma may read
// it), then the decode of step kt + 1. With
// stagger_warpgroups, warpgroup 1 does its part of step kt up to the wait before that barrier.
#include "kernels/moe/stage2/mainloops.h"

#include <algorithm>
#include <optional>

#include "dsl/tile/intrinsics.h"
#include "kernels/moe/stage2/rs_operands.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;
using ir::Scalar;
using ir::Type;

template <class OutT>
void stage2_wgmma_rs_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const int stages = kWgmmaRsStages;
  Value tid = thread_id(), lane = lane_id();
  Value group = udiv(tid, 128), q = urem(udiv(tid, 32), 4), g = udiv(lane, 4), t = urem(lane, 4);
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  Value e = sorted_experts[bm];
  // Every thread copies (kStage2Threads copiers) and decodes for its warpgroup.
  RsOperands ops(cfg, stages, kStage2Threads, tid, a, w, w_scale, sorted_ids, tokens, group, q, g, t);
  ops.set_item(e, row0, bn, z);
  const tile::SharedTile& ta = ops.activations();
  const int steps = ops.steps();

  if_(row0 < num_valid[0], [&] {
    RsAccumulators acc(cfg, sorted_ids, tokens, row0);
    // Staggered, warpgroup 1 copies step stages - 2 in its first step (see the step loop).
    const Value group0 = group == 0, group1 = group == 1;
    for (int p = 0; p < stages - 1; ++p) {
      auto copy = [&] {
        const Value step = Int(std::min(p, steps - 1));
        ops.store_activations(ops.load_activations(step), Int(p));
        ops.copy_weights(step, Int(p));
      };
      if (cfg.stagger_warpgroups && p == stages - 2) if_(group0, copy);
      else copy();
      tile::copy_commit();
    }
    // The activations of the first step the loop copies: stages - 1 (warpgroup 1 when staggered:
    // stages - 2), held in registers until then.
    const Value first_copied = cfg.stagger_warpgroups ? select(group1, Int(stages - 2), Int(stages - 1)) : Value(Int(stages - 1));
    std::vector<std::unique_ptr<Var<>>> staged;
    for (const Value& chunk : ops.load_activations(min(first_copied, steps - 1))) staged.push_back(std::make_unique<Var<>>(chunk));
    tile::copy_wait(stages - 2);  // step 0 landed (this thread's copies)
    auto values = [](const std::vector<std::unique_ptr<Var<>>>& vars) {
      std::vector<Value> v;
      for (auto& x : vars) v.push_back(x->get());
      return v;
    };
    // The fragments pass through the wait that retires their wgmmas: the wgmmas read them until
    // there, so later fragments must not reuse their registers (ptxas serializes every wgmma otherwise).
    auto retire_frags = [](const std::vector<Value>& frags, int pending) {
      for (const Value& f : frags) tile::wgmma_wait(bitcast(f, Type::vector(Scalar::F32, 4)), pending);
    };

    // The fragments of even and odd steps: the loop runs two steps per iteration, so that each
    // step's fragments are decoded into the other set and no register moves between the sets.
    // Step kt: wait until the copies of step kt + 1 landed, one barrier, the wgmmas of step kt, the
    // copies of step kt + stages - 1 while they run, their retirement, the decode of step kt + 1.
    // Staggered, warpgroup 1 runs its wgmmas (and copies step kt + stages - 2) before the barrier,
    // right after decoding them, while warpgroup 0 decodes; between two barriers both copy the
    // same step into the stage neither reads (its wgmmas retired before the first of them).
    if (cfg.stagger_warpgroups) tile::fence_proxy_async();  // warpgroup 1 multiplies step 0 first
    barrier();
    std::vector<std::unique_ptr<Var<>>> sets[2];
    for (const Value& f : ops.decode_step(Int(0), Int(0))) {
      sets[0].push_back(std::make_unique<Var<>>(f));
      sets[1].push_back(std::make_unique<Var<>>(f));
    }
    // The wgmmas of step kt with the fragments of set `parity`, the copies of step kt + ahead while
    // they run (the activations from registers, then those of the step after into them), their
    // retirement.
    auto tensor_step = [&](const Value& kt, int parity, int ahead) {
      std::vector<Value> frags = values(sets[parity]);
      acc.multiply(frags, ta, urem(kt, stages));
      ops.store_activations(values(staged), urem(kt + ahead, stages));
      std::vector<Value> next = ops.load_activations(min(kt + ahead + 1, steps - 1));
      for (size_t i = 0; i < next.size(); ++i) *staged[i] = next[i];
      ops.copy_weights(min(kt + ahead, steps - 1), urem(kt + ahead, stages));
      tile::copy_commit();
      for (auto& d : acc.vars()) *d = tile::wgmma_wait(*d, 0);
      retire_frags(frags, 0);
    };
    auto run_step = [&](const Value& kt, int parity) {
      if (cfg.stagger_warpgroups) if_(group1, [&] { tensor_step(kt, parity, stages - 2); });
      tile::copy_wait(stages - 3);  // step kt + 1 landed (this thread's copies)
      tile::fence_proxy_async();   // the activation copies of step kt + 1, for wgmma
      barrier();                   // everyone's; the wgmmas of step kt - 1 have retired
      if (cfg.stagger_warpgroups) if_(group0, [&] { tensor_step(kt, parity, stages - 1); });
      else tensor_step(kt, parity, stages - 1);
      // Then the next step's fragments (the last step decodes itself again, unused). Decoding
      // them while the wgmmas run instead measured 1-3% slower on the H100 (186 registers
      // instead of 158 with tile_n 256).
      Value following = min(kt + 1, steps - 1);
      std::vector<Value> decoded = ops.decode_step(following, urem(following, stages));
      for (size_t i = 0; i < decoded.size(); ++i) *sets[1 - parity][i] = decoded[i];
    };
    for_range(0, steps, 2, [&](Value kt) {  // steps is even: slices are whole 128-K chunks
      run_step(kt, 0);
      run_step(kt + 1, 1);
    });
    tile::copy_wait(0);  // no copy outlives the kernel

    acc.store(cfg, EpilogueArgs<OutT>{out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z}, ops, t);
  });
}

template void stage2_wgmma_rs_body<float>(const MoeStage2Config&, const Stage2Params<float>&);
template void stage2_wgmma_rs_body<bf16>(const MoeStage2Config&, const Stage2Params<bf16>&);

}  // namespace tilejit::kernels::stage2_detail
