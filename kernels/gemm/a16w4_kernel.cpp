// The dense A16W4 GEMM kernel: bf16 A times MXFP4 weights decoded in registers, double-buffered.
//
// Dataflow per block (tile_m rows x tile_n columns of C, 256 threads):
//  - the waves form k_split K groups (at most one per wave); within a group every wave shares the tile_m rows and owns
//    tile_n / (waves / k_split) columns (n-tiles of the MMA), so each weight is loaded and
//    decoded once per block;
//  - K is cut into chunks of `unroll` 128-K stages; group gr takes chunks gr, gr + k_split, ...;
//    per stage each lane loads, for every n-tile, 16 preshuffled weight bytes (32 K of one row,
//    exactly one scale block; read once: the stream cache policy) and its E8M0 scale byte
//    (tile::load_b_mxfp4), and the matching
//    activations, all in the K permutation of fragments.h (lane quarter q holds K q*32 .. q*32+31
//    of the stage);
//  - the next chunk's loads go into Var slots before the current chunk is decoded
//    (tile::decode_fp4x8) and fed to the MMAs (register double buffering, `unroll` stages deep);
//  - with k_split > 1 the groups 1.. park their accumulators in shared memory and group 0 adds
//    them in group order (deterministic) before the epilogue;
//  - rows past M read the last valid row (clamped), weight rows past N read zeros
//    (tile::load_b_mxfp4); both are masked in the epilogue, which writes C through the MMA's
//    C layout.
#include "kernels/gemm/a16w4_kernel.h"

#include <algorithm>

#include "dsl/kernel_family.h"
#include "dsl/tile/layout.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/gemm/fragments.h"

namespace tilejit::kernels {

using namespace dsl;
using namespace gemm_detail;
using ir::Scalar;
using ir::Type;

namespace {

template <class OutT>
void a16w4_body(const A16W4GemmConfig& cfg, Ptr<OutT> c, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale, Int M,
                Int N, Int K) {
  const Geometry g = target_geometry();
  const int groups = std::min(cfg.k_split, g.waves);  // k_split 8 means 4 on gfx950 (4 waves)
  const int group_waves = g.waves / groups;  // waves of one K group; they split the columns
  const int cols_w = cfg.tile_n / group_waves;
  const int n_tiles = cols_w / g.mma_n;
  const int m_tiles = cfg.tile_m / 16;
  const int vecs = kA16W4ChunkK / 32;  // 16-byte A vectors per lane and row in one stage (4)
  const int unroll = cfg.unroll;

  Value tid = thread_id(), lane = lane_id();
  Value wave_index = udiv(tid, g.wave);
  Value group = udiv(wave_index, group_waves), group_wave = urem(wave_index, group_waves);
  Value row0 = block_id(1) * cfg.tile_m, col0 = block_id(0) * cfg.tile_n;
  Value lr = lane_row(lane), kq = lane_quarter(lane);
  Value K64 = cast<int64_t>(K);

  // Activation rows at this lane's K quarter; rows past M read row M-1 (masked later).
  std::vector<Value> a_lo, a_hi;
  auto a_row = [&](const Value& r) { return Value(Value(a + cast<int64_t>(min(r, M - 1)) * K64) + kq * 32); };
  for (int mt = 0; mt < m_tiles; ++mt) {
    Value r = row0 + (lr + 16 * mt);
    a_lo.push_back(a_row(r));
    if (!g.amd) a_hi.push_back(a_row(r + 8));
  }
  // The weight row of each n-tile this lane loads (rows past N read zeros; masked later).
  std::vector<Value> n_rows;
  for (int nt = 0; nt < n_tiles; ++nt) n_rows.push_back(col0 + group_wave * cols_w + (lr + g.mma_n * nt));

  Value stages = udiv(K, kA16W4ChunkK);
  // `unroll` consecutive stages form a chunk; group gr takes chunks gr, gr + k_split, ...
  Value chunks = udiv(stages + (unroll - 1), unroll);
  // One chunk's raw data in a fixed order, per stage: A lo, A hi (sm_90a), weights (<4 x i32>),
  // scales (i32). Stages past the end (a group without chunks, a last partial chunk) re-read the
  // last stage; they are not computed.
  auto load_chunk = [&](const Value& ch) {
    std::vector<Value> v;
    for (int u = 0; u < unroll; ++u) {
      Value st = min(ch * unroll + u, stages - 1);
      Value k0 = st * kA16W4ChunkK;
      for (const auto* rows : {&a_lo, &a_hi})
        for (const Value& p : *rows)
          for (int q = 0; q < vecs; ++q) v.push_back(load(p, k0 + q * 8, 8));
      std::vector<Value> scales;
      for (const Value& n : n_rows) {
        tile::Mxfp4Fragment f = tile::load_b_mxfp4(w, w_scale, n, st * 4 + kq, N, K, 4, 0, true, ir::CachePolicy::Stream);
        v.push_back(f.words);
        scales.push_back(f.scale);
      }
      v.insert(v.end(), scales.begin(), scales.end());
    }
    return v;
  };

  // The weights decode in the target's cheaper order; the activations follow the same K order.
  const tile::Fp4Order order = tile::preferred_fp4_order();
  Accumulators acc(m_tiles, n_tiles);
  // Decodes one stage's data (a slice of load_chunk's output) and accumulates its MMAs.
  auto compute_stage = [&](const std::vector<Value>& data, size_t at) {
    auto take = [&](int count) {
      std::vector<Value> out(data.begin() + long(at), data.begin() + long(at + size_t(count)));
      at += size_t(count);
      return out;
    };
    std::vector<std::vector<Value>> lo, hi;
    for (int mt = 0; mt < m_tiles; ++mt) lo.push_back(take(vecs));
    for (size_t mt = 0; mt < a_hi.size(); ++mt) hi.push_back(take(vecs));
    std::vector<Value> wv = take(n_tiles), sc = take(n_tiles);
    for (auto* rows : {&lo, &hi})
      for (auto& vecs_of_row : *rows)
        for (Value& v : vecs_of_row) v = tile::in_fp4_order(v, order);
    std::vector<std::vector<Value>> af, bf;
    for (int mt = 0; mt < m_tiles; ++mt)
      af.push_back(a_fragments(lo[size_t(mt)], g.amd ? std::vector<Value>{} : hi[size_t(mt)]));
    for (int nt = 0; nt < n_tiles; ++nt) {
      std::vector<Value> decoded;
      for (int q = 0; q < 4; ++q)
        decoded.push_back(tile::decode_fp4x8(extract(wv[size_t(nt)], q), sc[size_t(nt)], tile::Fp4Path::Auto, order));
      bf.push_back(b_fragments(decoded));
    }
    mma_accumulate(acc, af, bf);
  };
  const size_t per_stage = size_t(vecs) * (a_lo.size() + a_hi.size()) + 2 * size_t(n_tiles);

  std::vector<std::unique_ptr<Var<>>> next;
  for (const Value& v : load_chunk(group)) next.push_back(std::make_unique<Var<>>(v));

  for_range(group, chunks, groups, [&](Value ch) {
    std::vector<Value> cur;
    for (auto& slot : next) cur.push_back(*slot);
    // Prefetch the group's next chunk. Under a (wave-uniform) branch, so that the loop-carried
    // values are not plain loads: LLVM would otherwise fold phi(load, load) into one load at the
    // loop top.
    if_(ch + groups < chunks, [&] {
      std::vector<Value> fetched = load_chunk(ch + groups);
      for (size_t i = 0; i < next.size(); ++i) *next[i] = fetched[i];
    });
    for (int u = 0; u < unroll; ++u) {
      // K is a multiple of 256, so chunks of 1 or 2 stages are always whole.
      if (unroll <= 2)
        compute_stage(cur, size_t(u) * per_stage);
      else
        if_(ch * unroll + u < stages, [&] { compute_stage(cur, size_t(u) * per_stage); });
    }
  });

  Value c_block = c + (cast<int64_t>(row0) * cast<int64_t>(N) + cast<int64_t>(col0));
  if (groups == 1) {
    store_accumulators(acc, c_block, N, lane, Int(0), group_wave * cols_w, M - row0, N - col0);
    return;
  }
  // Groups 1.. park their partial sums in shared memory (one <c_elems x f32> per lane and tile,
  // lane-contiguous); group 0 adds them in group order and writes C.
  const int c_elems = tile::target_mma().c_elems;
  const int tiles = m_tiles * n_tiles;
  auto parked = shared_array<float>(int64_t(groups - 1) * group_waves * tiles * g.wave * c_elems);
  auto slot = [&](const Value& grp, int t) {
    return Value((((grp - 1) * group_waves + group_wave) * tiles + t) * g.wave + lane) * c_elems;
  };
  if_(group > 0, [&] {
    for (int t = 0; t < tiles; ++t) store(parked, slot(group, t), acc.at(t / n_tiles, t % n_tiles).get());
  });
  barrier();
  if_(group == 0, [&] {
    for (int t = 0; t < tiles; ++t) {
      Value sum = acc.at(t / n_tiles, t % n_tiles);
      for (int gr = 1; gr < groups; ++gr) sum = sum + load(parked, slot(Int(gr), t), c_elems);
      acc.at(t / n_tiles, t % n_tiles) = sum;
    }
    store_accumulators(acc, c_block, N, lane, Int(0), group_wave * cols_w, M - row0, N - col0);
  });
}

template <class OutT>
KernelDef define(const A16W4GemmConfig& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(kGemmThreads), 1, 1};
  opts.param_names = {"c", "a", "w", "w_scale", "M", "N", "K"};
  opts.trace_key = cfg.kernel_name();  // the name spells out the whole config
  return kernel(
      cfg.kernel_name(),
      [cfg](Ptr<OutT> c, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale, Int M, Int N, Int K) {
        a16w4_body<OutT>(cfg, c, a, w, w_scale, M, N, K);
      },
      std::move(opts));
}

}  // namespace

KernelDef a16w4_gemm_kernel(const A16W4GemmConfig& config) {
  config.validate();
  return define_once(config.kernel_name(),
                     [&] { return config.out == GemmOut::F32 ? define<float>(config) : define<bf16>(config); });
}

}  // namespace tilejit::kernels
