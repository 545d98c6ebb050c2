// The MoE stage-2 tuner: candidates, inputs, cold-L2 timing of every candidate, the best per token count.
#include "tools/cli/tune_moe_stage2.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/mxfp4/preshuffle.h"

namespace tilejit::cli {

using kernels::MoeStage2A16W4;
using kernels::MoeStage2Args;
using kernels::MoeStage2Config;
using kernels::MoeStage2Shape;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int64_t flush_bytes_for(const Device& dev, int64_t requested) {
  if (requested >= 0) return requested;
  switch (dev.kind()) {
    case DeviceKind::Cuda: return int64_t(256) << 20;  // H100 L2: 50 MiB
    case DeviceKind::Hip: return int64_t(512) << 20;   // gfx950: 4 MiB L2 per XCD + 256 MiB infinity cache
    case DeviceKind::Emulator: return 0;               // no cache to flush
  }
  return 0;
}

/// Routing sorted for one tile_m, on the device.
struct SortedOnDevice {
  Buffer<int32_t> ids, experts, valid;
  Buffer<float> weights;
  int blocks = 1;
};

SortedOnDevice sort_on_device(Device& dev, const moe::Routing& r, int tokens, const MoeStage2Shape& s, int tile_m) {
  moe::SortedRouting sorted = moe::moe_sorting(r.topk_ids, r.topk_weights, tokens, s.topk, s.experts, tile_m);
  SortedOnDevice d;
  d.ids = Buffer<int32_t>(dev, std::span<const int32_t>(sorted.sorted_token_ids));
  d.weights = Buffer<float>(dev, std::span<const float>(sorted.sorted_weights));
  d.experts = Buffer<int32_t>(dev, std::span<const int32_t>(sorted.sorted_expert_ids));
  d.valid = Buffer<int32_t>(dev, std::span<const int32_t>(sorted.num_valid_ids));
  d.blocks = int(std::max<int64_t>(sorted.num_blocks(), 1));
  return d;
}

std::vector<float> widen(const std::vector<uint16_t>& bf16) {
  std::vector<float> out(bf16.size());
  for (size_t i = 0; i < bf16.size(); ++i) out[i] = ir::bf16_to_f32(bf16[i]);
  return out;
}

double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double d = double(got[i]) - want[i];
    num += std::isfinite(got[i]) ? d * d : INFINITY;
    den += double(want[i]) * want[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

}  // namespace


/// The most tokens a token-owner candidate is timed at (each token's blocks read its experts'
/// weights again; the table's owner rows are decode buckets).
constexpr int kOwnerMaxTokens = 16;

std::vector<MoeStage2Config> moe_stage2_tune_candidates(const MoeStage2Shape& s, bool quick) {
  std::vector<MoeStage2Config> out;
  std::set<std::string> names;
  const std::vector<int> tile_ns = quick ? std::vector<int>{s.model_dim >= 128 ? 128 : 64} : std::vector<int>{64, 128, 256, 512};
  const std::vector<int> unrolls = quick ? std::vector<int>{2} : std::vector<int>{1, 2, 4};
  const int chunks = s.inter_dim / kernels::kStage2ChunkK;
  for (int tm : {16, 32, 64, 96, 128})
    for (int tn : tile_ns) {
      if (tn > 64 && tn / 2 >= s.model_dim) continue;  // a smaller tile covers N as well
      const bool registers_fit = tm <= 64 && tm * tn <= 8192;  // the register main loop's tile limit
      // Split-K by every divisor up to 24 (k_batch 6 on 24 chunks gives 4-chunk slices loaded at once).
      for (int kb : {1, 2, 3, 4, 6, 8, 12, 16, 24}) {
        if (kb > chunks || chunks % kb) continue;
        for (int u : unrolls)
          for (int wm : {1, 2, 4}) {
            if ((tm / 16) % wm || (quick && wm > 1)) continue;
            MoeStage2Config c{s.model_dim, s.inter_dim, s.experts, s.topk, tm, tn, kb};
            c.warps_m = wm;
            if (registers_fit) {
              c.unroll = u;
              c.validate();
              c.unroll = c.unroll_for(chunks / kb);  // the unroll the kernel really uses
              if (names.insert(c.kernel_name()).second) out.push_back(c);
            }
            // Slices of 3, 6 or 8 chunks loaded at once (16-row tiles, one wave row group).
            const int slice = chunks / kb;
            if (!quick && registers_fit && tm == 16 && u == 4 && (slice == 3 || slice == 6 || slice == 8)) {
              c.unroll = slice;
              c.validate();
              if (names.insert(c.kernel_name()).second) out.push_back(c);
            }
            // The shared-memory main loop (no unroll) for tiles with many rows, K split up to 4
            // ways, within gfx950's LDS.
            c.unroll = 1;
            c.shared_mainloop = true;
            if (!quick && tm >= 32 && tn >= 128 && kb <= 4 && u == 1 && c.shared_bytes() <= kernels::kStage2MaxSharedBytes) {
              c.validate();
              if (names.insert(c.kernel_name()).second) out.push_back(c);
              // The same tiles with wgmma (sm_90a; gfx950 runs them as the shared main loop).
              if (((tm == 64 && tn <= 256) || (tm == 128 && tn == 128)) && wm == 1) {
                c.wgmma = true;
                c.validate();
                if (names.insert(c.kernel_name()).second) out.push_back(c);
              }
              // With the weights in wgmma's A registers (any shared-main-loop tile), the two
              // warpgroups staggered or in step (which is faster differs by card).
              if (wm == 1) {
                c.wgmma = c.wgmma_rs = true;
                for (bool stagger : {true, false}) {
                  c.stagger_warpgroups = stagger;
                  c.validate();
                  if (names.insert(c.kernel_name()).second) out.push_back(c);
                }
                // And warp-specialized (sm_90a: a producer warpgroup, in step), where its deeper ring fits.
                c.warp_specialized = true;
                if (c.shared_bytes() <= c.max_shared_bytes()) {
                  c.validate();
                  if (names.insert(c.kernel_name()).second) out.push_back(c);
                }
                c.warp_specialized = false;
              }
            }
          }
      }
    }
  // Token owners (decode: timed up to kOwnerMaxTokens tokens).
  for (int tn : quick ? std::vector<int>{16, 32} : std::vector<int>{16, 32, 64})
    for (int u : quick ? std::vector<int>{tn == 16 ? 4 : 2} : std::vector<int>{2, 4, 6}) {
      MoeStage2Config c{s.model_dim, s.inter_dim, s.experts, s.topk, 16, tn, 1};
      c.token_owner = true;
      c.unroll = u;
      try {
        c.validate();  // topk x K may not fit shared memory
      } catch (const std::invalid_argument&) {
        continue;
      }
      if (names.insert(c.kernel_name()).second) out.push_back(c);
    }
  return out;
}

MoeStage2TuneResult tune_moe_stage2(Device& dev, const MoeStage2TuneOptions& o) {
  const MoeStage2Shape& s = o.shape;
  std::vector<int> token_list = o.tokens;
  std::sort(token_list.begin(), token_list.end());
  token_list.erase(std::unique(token_list.begin(), token_list.end()), token_list.end());
  if (token_list.empty()) throw std::invalid_argument("tune moe-stage2: no token counts");
  if (token_list.front() < 1 || token_list.back() >= (1 << 24))
    throw std::invalid_argument(fmt::format("tune moe-stage2: token counts must be in [1, 2^24), got {}",
                                            token_list.front() < 1 ? token_list.front() : token_list.back()));
  if (o.reps < 1) throw std::invalid_argument(fmt::format("tune moe-stage2: reps must be positive, got {}", o.reps));
  if (o.warmup < 0) throw std::invalid_argument(fmt::format("tune moe-stage2: warmup must be >= 0, got {}", o.warmup));
  auto say = [&](const std::string& line) {
    if (o.progress) o.progress(line);
  };

  MoeStage2TuneResult result;
  result.device_name = dev.name();
  const uint32_t units = dev.compute_units();

  // Candidates per token count: the grid plus the heuristic's choice; all compiled up front.
  std::vector<MoeStage2Config> base = moe_stage2_tune_candidates(s, o.quick);
  if (!o.wgmma) std::erase_if(base, [](const MoeStage2Config& c) { return c.wgmma; });
  if (dev.target() != Target::Sm90a)  // warp specialization needs sm_90a's mbarriers
    std::erase_if(base, [](const MoeStage2Config& c) { return c.warp_specialized; });
  if (o.shared_only) std::erase_if(base, [](const MoeStage2Config& c) { return !c.shared_mainloop; });
  if (base.empty())
    throw std::invalid_argument(fmt::format(
        "tune moe-stage2: no candidate configs left for N={} ({}): the shared main loop needs tile_n >= 128 "
        "and N > 64, and --quick has no shared main loop candidates",
        s.model_dim, o.quick ? "--quick --shared-only" : "--shared-only"));
  std::vector<MoeStage2A16W4> ops;
  std::map<std::string, size_t> kernel_index;
  auto add_kernel = [&](MoeStage2Config c) {
    c.unroll = c.unroll_for(c.slice_k() / kernels::kStage2ChunkK);
    auto [it, inserted] = kernel_index.emplace(c.kernel_name(), ops.size());
    if (inserted) ops.emplace_back(c);
    return it->second;
  };
  const std::string key = o.device_key.empty() ? result.device_name : o.device_key;
  // The config of the incumbent row this token count's result replaces, if any.
  auto incumbent_of = [&](int t) -> std::optional<MoeStage2Config> {
    if (!o.incumbent) return std::nullopt;
    kernels::MoeStage2TableEntry row;  // the key of the row this token count's result becomes
    row.device = key;
    row.shape = s;
    row.max_tokens = t;
    for (const kernels::MoeStage2TableEntry& e : o.incumbent->entries)
      if (kernels::same_table_row(e, row)) return e.apply_tiles({s.model_dim, s.inter_dim, s.experts, s.topk});
    return std::nullopt;
  };
  std::vector<std::vector<size_t>> per_tokens;  // kernel indices, the heuristic's first
  std::vector<std::optional<size_t>> incumbents;  // per token count, the incumbent's kernel index
  for (int t : token_list) {
    std::vector<size_t> ks{add_kernel(kernels::heuristic_moe_stage2(s, t, units))};
    for (const MoeStage2Config& c : base) {
      if (c.token_owner && t > kOwnerMaxTokens) continue;  // re-reads each expert per token
      size_t k = add_kernel(c);
      if (k != ks.front()) ks.push_back(k);
    }
    std::optional<size_t> inc;
    if (std::optional<MoeStage2Config> c = incumbent_of(t)) {
      inc = add_kernel(*c);
      if (std::find(ks.begin(), ks.end(), *inc) == ks.end()) ks.push_back(*inc);
    }
    per_tokens.push_back(std::move(ks));
    incumbents.push_back(inc);
  }
  say(fmt::format("device: {} ({} compute units); shape N={} K={} E={} topk={}; {} kernels to compile", result.device_name,
                  units, s.model_dim, s.inter_dim, s.experts, s.topk, ops.size()));
  kernels::MoeStage2PrecompileOptions po;
  po.progress = o.progress;
  unsigned threads = kernels::compile_moe_stage2_parallel(dev, ops, po);
  say(fmt::format("compiled {} kernels on {} threads", ops.size(), threads));

  // Weights once per shape.
  std::mt19937 rng(o.seed);
  auto w = moe::random_mxfp4_weights(rng, s.experts, s.model_dim, s.inter_dim);
  std::vector<uint8_t> wp = mxfp4::preshuffle_weights(w.packed, s.experts, s.model_dim, s.inter_dim);
  std::vector<uint8_t> sp = mxfp4::preshuffle_scales(w.scales, s.experts, s.model_dim, s.inter_dim);
  Buffer<uint8_t> dw(dev, std::span<const uint8_t>(wp)), ds(dev, std::span<const uint8_t>(sp));
  const int64_t flush_bytes = flush_bytes_for(dev, o.flush_bytes);
  Buffer<uint8_t> flush(dev, size_t(flush_bytes));
  auto e0 = dev.create_event(), e1 = dev.create_event();
  auto stream = dev.create_stream();

  result.table.origin = "tuned";
  for (size_t ti = 0; ti < token_list.size(); ++ti) {
    const int tokens = token_list[ti];
    moe::Routing r = moe::random_routing(rng, tokens, s.topk, s.experts);
    auto a = moe::random_bf16_normal(rng, size_t(tokens) * s.topk * s.inter_dim);
    Buffer<uint16_t> da(dev, std::span<const uint16_t>(a));
    const std::vector<size_t>& ks = per_tokens[ti];
    std::map<int, SortedOnDevice> sorted;  // per tile_m of the measured kernels (the heuristic's included)
    for (size_t k : ks)
      if (int tm = ops[k].config().tile_m; !sorted.count(tm)) sorted.emplace(tm, sort_on_device(dev, r, tokens, s, tm));
    Buffer<int32_t> topk_ids(dev, std::span<const int32_t>(r.topk_ids));
    Buffer<float> topk_weights(dev, std::span<const float>(r.topk_weights));
    Buffer<uint16_t> out(dev, size_t(tokens) * s.model_dim);
    auto args_for = [&](const MoeStage2A16W4& k) {
      const SortedOnDevice& so = sorted.at(k.config().tile_m);
      return MoeStage2Args{out.ptr(), da.ptr(), dw.ptr(), ds.ptr(), so.ids.ptr(), so.weights.ptr(), so.experts.ptr(),
                           so.valid.ptr(), 0, tokens, so.blocks, topk_ids.ptr(), topk_weights.ptr()};
    };

    // Correctness: each candidate's output against the heuristic's.
    std::vector<double> errors(ks.size(), 0);
    if (o.check) {
      std::vector<float> want;
      for (size_t c = 0; c < ks.size(); ++c) {
        const MoeStage2A16W4& k = ops[ks[c]];
        out.fill_bytes(0);
        k.launch(args_for(k), nullptr);
        std::vector<float> got = widen(out.download());
        if (c == 0) want = std::move(got);
        else errors[c] = rel_l2(got, want);
      }
    }
    for (int i = 0; i < o.warmup; ++i)
      for (size_t c : ks) {
        out.fill_bytes(0);
        ops[c].launch(args_for(ops[c]), nullptr);
      }
    dev.synchronize();

    // Timing, candidates interleaved so drifts hit all alike: flush, then one graph replay of
    // zeroing + launch between events (the accumulating kernel needs a zeroed output: part of the
    // time), as users run it: launch_zeroed, the kernel started early during the zeroing.
    std::vector<std::unique_ptr<Graph>> graphs;
    for (size_t c : ks)
      graphs.push_back(dev.capture(*stream, [&, c] {
        if (ops[c].config().accumulate) {
          ops[c].launch_zeroed(args_for(ops[c]), stream.get());
        } else {
          dev.memset_async(out.ptr(), 0, out.bytes(), stream.get());
          ops[c].launch(args_for(ops[c]), stream.get());
        }
      }));
    std::vector<std::vector<double>> us(ks.size());
    for (int rep = 0; rep < o.reps; ++rep)
      for (size_t c = 0; c < ks.size(); ++c) {
        if (flush_bytes) dev.memset_async(flush.ptr(), uint8_t(rep + c), flush.bytes(), stream.get());
        e0->record(stream.get());
        graphs[c]->launch(stream.get());
        e1->record(stream.get());
        e1->synchronize();
        us[c].push_back(double(e1->elapsed_ms_since(*e0)) * 1e3);
      }

    size_t first = result.measurements.size(), best = first;
    for (size_t c = 0; c < ks.size(); ++c) {
      MoeStage2TuneMeasurement m;
      m.tokens = tokens;
      m.config = ops[ks[c]].config();
      m.median_us = median(us[c]);
      m.min_us = *std::min_element(us[c].begin(), us[c].end());
      m.heuristic = c == 0;
      m.incumbent = incumbents[ti] == ks[c];
      m.rel_error = errors[c];
      m.failed = !(errors[c] <= 2e-2);  // bf16 atomics in another order differ by ~1e-3
      if (m.failed)
        say(fmt::format("tokens {}: {} disagrees with the heuristic's output (relative L2 {:.3g}): left out",
                        tokens, m.config.tiles_text(), m.rel_error));
      result.measurements.push_back(m);
      const MoeStage2TuneMeasurement& b = result.measurements[best];
      if (!m.failed && (b.failed || m.median_us < b.median_us)) best = result.measurements.size() - 1;
    }
    const MoeStage2TuneMeasurement& b = result.measurements[best];
    const MoeStage2TuneMeasurement& h = result.measurements[first];
    result.best.push_back(best);
    result.heuristic.push_back(first);
    say(fmt::format("tokens {}: {} candidates, best {} {:.1f} us; heuristic {} {:.1f} us ({:.2f}x)", tokens, ks.size(),
                    b.config.tiles_text(), b.median_us, h.config.tiles_text(), h.median_us,
                    h.median_us / b.median_us));

    kernels::MoeStage2TableEntry e;
    e.device = key;
    e.shape = s;
    e.max_tokens = tokens;
    e.take_tiles(b.config);
    e.median_us = std::max(b.median_us, 0.01);
    e.source = "tuned";
    e.device_name = result.device_name;
    result.table.entries.push_back(e);
  }
  return result;
}

std::string moe_stage2_tune_report(const MoeStage2TuneResult& r) {
  std::string out = fmt::format("{:>7} {:<26} {:>10} {:<26} {:>12} {:>8}\n", "tokens", "best", "median_us",
                                "heuristic", "heuristic_us", "speedup");
  for (size_t i = 0; i < r.best.size(); ++i) {
    const MoeStage2TuneMeasurement& b = r.measurements[r.best[i]];
    const MoeStage2TuneMeasurement& h = r.measurements[r.heuristic[i]];
    out += fmt::format("{:>7} {:<26} {:>10.1f} {:<26} {:>12.1f} {:>8.2f}\n", b.tokens, b.config.tiles_text(),
                       b.median_us, h.config.tiles_text(), h.median_us, h.median_us / b.median_us);
  }
  return out;
}

std::string moe_stage2_tune_results_json(const MoeStage2TuneResult& r) {
  nlohmann::ordered_json j;
  j["device"] = r.device_name;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (size_t i = 0; i < r.measurements.size(); ++i) {
    const MoeStage2TuneMeasurement& m = r.measurements[i];
    bool best = std::find(r.best.begin(), r.best.end(), i) != r.best.end();
    rows.push_back({{"tokens", m.tokens},
                    {"model_dim", m.config.model_dim},
                    {"inter_dim", m.config.inter_dim},
                    {"experts", m.config.experts},
                    {"topk", m.config.topk},
                    {"tile_m", m.config.tile_m},
                    {"tile_n", m.config.tile_n},
                    {"k_batch", m.config.k_batch},
                    {"unroll", m.config.unroll},
                    {"warps_m", m.config.warps_m},
                    {"shared_mainloop", m.config.shared_mainloop},
                    {"kernel", m.config.kernel_name()},
                    {"median_us", m.median_us},
                    {"min_us", m.min_us},
                    {"heuristic", m.heuristic},
                    {"incumbent", m.incumbent},
                    {"best", best},
                    {"failed", m.failed},
                    {"rel_error_vs_heuristic", m.rel_error}});
  }
  j["measurements"] = rows;
  return j.dump(2) + "\n";
}

}  // namespace tilejit::cli
