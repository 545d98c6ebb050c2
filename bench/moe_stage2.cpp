// Benchmark of the MoE stage-2 A16W4 kernel (a program, not a test): GPT-OSS and DeepSeek-R1
// shapes over token counts, cold L2 before every call, median of repeated launches, against the
// memory floor from the copy bandwidth measured in the same run. Each call is one CUDA-graph
// replay of the output zeroing and the kernel. Writes JSON and a table.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "backend/runtime/select.h"
#include "dsl/ir/numeric.h"
#include "bench/graph_timing.h"
#include "bench/read_probe.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/stage2/api.h"
#include "kernels/moe/sorting/api.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/moe/stage2/zeroing.h"
#include "kernels/mxfp4/preshuffle.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {

struct Shape {
  std::string name;
  int N, K, E, topk;
};

/// Device-to-device copy bandwidth (bytes read + written per second), median of 10.
double copy_bandwidth(Device& dev) {
  const size_t bytes = size_t(1) << 30;
  Buffer<uint8_t> src(dev, bytes), dst(dev, bytes);
  src.fill_bytes(1);
  auto a = dev.create_event(), b = dev.create_event();
  std::vector<double> gbs;
  for (int i = 0; i < 12; ++i) {
    a->record(nullptr);
    dev.copy_device_to_device(dst.ptr(), src.ptr(), bytes);
    b->record(nullptr);
    b->synchronize();
    if (i >= 2) gbs.push_back(2.0 * bytes / (b->elapsed_ms_since(*a) * 1e-3));
  }
  std::sort(gbs.begin(), gbs.end());
  return gbs[gbs.size() / 2];
}

/// --with-sorting: one point's routing on the device and the sorting's capacity-sized outputs,
/// which the kernel then reads (blocks past the valid rows exit at once).
struct DeviceSorting {
  int tokens, topk, experts, block_size;
  Buffer<int32_t> topk_ids;
  Buffer<float> topk_weights;
  int64_t rows, blocks;
  Buffer<int32_t> ids, expert_ids, valid;
  Buffer<float> weights;

  DeviceSorting(Device& dev, const moe::Routing& r, int tokens_, int topk_, int experts_, int block_size_)
      : tokens(tokens_), topk(topk_), experts(experts_), block_size(block_size_),
        topk_ids(dev, std::span<const int32_t>(r.topk_ids)), topk_weights(dev, std::span<const float>(r.topk_weights)),
        rows(moe::moe_sorting_max_rows(tokens, topk, experts, block_size)),
        blocks(moe::moe_sorting_max_blocks(tokens, topk, experts, block_size)), ids(dev, size_t(rows)),
        expert_ids(dev, size_t(blocks)), valid(dev, 2), weights(dev, size_t(rows)) {}

  void run(Device& dev, Stream* stream, MoeSortingZeroFill zero) {
    moe_sorting_gpu(dev, topk_ids.ptr(), topk_weights.ptr(), tokens, topk, experts, block_size, ids.ptr(),
                    weights.ptr(), expert_ids.ptr(), valid.ptr(), stream, zero);
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"MoE stage-2 A16W4 benchmark"};
  std::vector<int> token_list{1, 4, 8, 16, 32, 64, 128, 256, 1024, 4096};
  std::vector<std::string> shapes{"gpt_oss", "deepseek_r1"};
  std::string out_dir = ".";
  int reps = 30, tile_n = 0, unroll = 0;  // 0: from the config table
  app.add_option("--tokens", token_list, "token counts (comma-separated)")->delimiter(',');
  app.add_option("--tile-n", tile_n, "columns per block (64, 128, 256); given: the heuristic with this tile_n instead of the config table");
  app.add_option("--unroll", unroll, "128-K chunks per k-loop iteration (1, 2, 3, 4, 6, 8); given: the heuristic with this unroll");
  app.add_option("--shapes", shapes, "gpt_oss, deepseek_r1")->check(CLI::IsMember({"gpt_oss", "deepseek_r1"}));
  bool l1_weights = false;
  std::string json_name = "moe_stage2.json";
  app.add_flag("--l1-weights", l1_weights, "weight codes read with the normal cache policy (an A/B of stream_weights)");
  bool byte_scales = false;
  app.add_flag("--byte-scales", byte_scales, "one scale byte read per chunk and n-tile (an A/B of pair_scales)");
  bool tile_epilogue = false;
  app.add_flag("--tile-epilogue", tile_epilogue, "sm_90a: the epilogue through the shared f32 tile (an A/B of register_epilogue, the default)");
  bool exact_decode = false;
  app.add_flag("--exact-decode", exact_decode, "sm_90a: the two-multiply FP4 decode throughout (an A/B of small_scale_decode, the default)");
  bool no_stagger = false;
  app.add_flag("--no-stagger", no_stagger,
               "sm_90a: wgmma_rs configs run their two warpgroups in step (an A/B of stagger_warpgroups, the default)");
  bool global_activations = false;
  app.add_flag("--global-activations", global_activations,
               "sm_90a: every warp loads its activations from global memory (an A/B of shared_activations, the default)");
  int min_blocks = -2;
  app.add_option("--min-blocks", min_blocks, "sm_90a occupancy hint for every config (MoeStage2Config::min_blocks_per_sm; 0 none)")
      ->check(CLI::Range(-1, 8));
  bool with_sorting = false, zero_in_sorting = false;
  app.add_flag("--with-sorting", with_sorting,
               "the timed graph also runs the device MoE sorting before the zeroing and the kernel (a decode step)");
  app.add_flag("--zero-in-sorting", zero_in_sorting,
               "with --with-sorting: the sorting launch zeroes the output (MoeSortingZeroFill) and the kernel starts "
               "early after it (MoeStage2A16W4::launch_early)")
      ->needs("--with-sorting");
  bool memset_zeroing = false;
  app.add_flag("--memset-zeroing", memset_zeroing,
               "zero the output with a memset node before the kernel (an A/B of MoeStage2A16W4::launch_zeroed, the "
               "default: a zeroing kernel the stage-2 kernel overlaps on sm_90a)")
      ->excludes("--zero-in-sorting");
  std::string config_text;
  app.add_option("--config", config_text,
                 "run every point with these tiles, e.g. \"tm96 tn128 wr ns\" (MoeStage2Config::with_tiles_text) "
                 "instead of the config table's")
      ->excludes("--tile-n")
      ->excludes("--unroll");
  std::string table_device;
  app.add_option("--table-device", table_device,
                 "pick the config table's rows for a device of this name (e.g. \"NVIDIA H100 80GB HBM3\") instead of this one's");
  bool no_read_probe = false;
  app.add_flag("--no-read-probe", no_read_probe,
               "skip the read probe (per point: a kernel that only streams the point's weight bytes, same timing)");
  bool bulk_read_probe = false;
  app.add_flag("--bulk-read-probe", bulk_read_probe,
               "sm_90a: also stream each point's bytes with bulk copies (the copy engine) instead of loads, in each "
               "geometry of bench::kBulkProbeGeometries")
      ->excludes("--no-read-probe");
  app.add_option("--json", json_name, "name of the JSON file written under --out");
  app.add_option("--reps", reps, "timed launches per point (median)");
  app.add_option("--out", out_dir, "directory for moe_stage2.json");
  CLI11_PARSE(app, argc, argv);
  if (!config_text.empty())  // a bad --config fails here, before any device work
    for (const std::string& shape_name : shapes) {
      const MoeStage2Shape shape = *moe_stage2_model_shape(shape_name);
      try {
        (void)MoeStage2Config{shape.model_dim, shape.inter_dim, shape.experts, shape.topk}.with_tiles_text(config_text);
      } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "bench_moe_stage2: --config for %s: %s\n", shape_name.c_str(), e.what());
        return 2;
      }
    }

  Device& dev = default_device();
  std::printf("device: %s\n", dev.name().c_str());
  if (bulk_read_probe && dev.target() != Target::Sm90a) {
    std::fprintf(stderr, "bench_moe_stage2: --bulk-read-probe needs an sm_90a device (bulk copies), this is %s\n",
                 dev.name().c_str());
    return 2;
  }
  double bw = copy_bandwidth(dev);
  std::printf("copy bandwidth: %.0f GB/s (read + write)\n", bw / 1e9);
  Buffer<uint8_t> flush(dev, size_t(256) << 20);  // larger than L2: a decode step sees a cold L2
  // The protocol's own cost: a graph of an empty kernel, and of the 1-token output zeroing (6 KiB
  // for GPT-OSS) plus the empty kernel.
  Buffer<uint8_t> one_token_out(dev, 3072 * 2);
  const double empty_us = bench::empty_graph_us(dev, flush, reps);
  const double memset_empty_us = bench::empty_graph_us(
      dev, flush, reps, [&](Stream& st) { dev.memset_async(one_token_out.ptr(), 0, one_token_out.bytes(), &st); });
  const Kernel zeroing = compile(moe_stage2_zeroing_kernel(), dev);
  const double zeroing_empty_us = bench::empty_graph_us(
      dev, flush, reps,
      [&](Stream& st) { launch_moe_stage2_zeroing(zeroing, one_token_out.ptr(), int64_t(one_token_out.bytes()), &st); },
      {.early_start = true});
  std::printf("protocol floor: empty kernel %.1f us, memset + empty kernel %.1f us, zeroing kernel + empty kernel "
              "started early %.1f us (graph replays, same timing)\n",
              empty_us, memset_empty_us, zeroing_empty_us);

  nlohmann::json results = nlohmann::json::array();

  std::mt19937 rng(12345);
  for (const std::string& shape_name : shapes) {
    Shape s = shape_name == "gpt_oss" ? Shape{"gpt_oss", 3072, 3072, 128, 4} : Shape{"deepseek_r1", 7168, 1024, 384, 8};
    auto w = moe::random_mxfp4_weights(rng, s.E, s.N, s.K);
    std::vector<uint8_t> wp = mxfp4::preshuffle_weights(w.packed, s.E, s.N, s.K);
    std::vector<uint8_t> sp = mxfp4::preshuffle_scales(w.scales, s.E, s.N, s.K);
    Buffer<uint8_t> dw(dev, std::span<const uint8_t>(wp)), ds(dev, std::span<const uint8_t>(sp));
    const double expert_bytes = double(s.N) * s.K / 2 + double(s.N) * s.K / 32;
    // The read probe's source: as many bytes as every expert's weights and scales (contents unused).
    std::optional<Buffer<uint8_t>> probe_src;
    if (!no_read_probe) probe_src.emplace(dev, size_t(s.E * expert_bytes));
    std::printf("\n%-12s %6s %9s %9s %8s %8s %9s %7s  %s\n", s.name.c_str(), "tokens", "time_us", "floor_us", "of_floor",
                "probe_us", "TFLOPS", "GB/s", "config");
    for (int tokens : token_list) {
      moe::Routing r = moe::random_routing(rng, tokens, s.topk, s.E);
      auto a = moe::random_bf16_normal(rng, size_t(tokens) * s.topk * s.K);
      // The config table (TILEJIT_MOE_CONFIGS or the built-in one), or the heuristic with --tile-n / --unroll.
      const MoeStage2Shape shape{s.N, s.K, s.E, s.topk};
      MoeStage2Choice choice;
      if (tile_n || unroll) {
        choice.config = heuristic_moe_stage2(shape, tokens, dev.compute_units(), {}, tile_n, unroll);
        choice.reason = "heuristic (--tile-n/--unroll given)";
      } else {
        choice = choose_moe_stage2(default_config_table(), shape, tokens, table_device.empty() ? dev.name() : table_device,
                                   dev.compute_units());
      }
      if (!config_text.empty()) {
        choice.config = choice.config.with_tiles_text(config_text);
        choice.from_table = false;
        choice.reason = "--config " + config_text;
      }
      MoeStage2Config cfg = choice.config;
      if (l1_weights) cfg.stream_weights = false;
      if (byte_scales) cfg.pair_scales = false;
      if (tile_epilogue) cfg.register_epilogue = false;
      if (exact_decode) cfg.small_scale_decode = false;
      if (global_activations) cfg.shared_activations = false;
      if (no_stagger) cfg.stagger_warpgroups = false;
      if (min_blocks >= -1) cfg.min_blocks_per_sm = min_blocks;
      moe::SortedRouting sorted = moe::moe_sorting(r.topk_ids, r.topk_weights, tokens, s.topk, s.E, cfg.tile_m);
      std::set<int> distinct(r.topk_ids.begin(), r.topk_ids.end());
      Buffer<uint16_t> da(dev, std::span<const uint16_t>(a));
      Buffer<int32_t> ids(dev, std::span<const int32_t>(sorted.sorted_token_ids));
      Buffer<float> wts(dev, std::span<const float>(sorted.sorted_weights));
      Buffer<int32_t> ex(dev, std::span<const int32_t>(sorted.sorted_expert_ids));
      Buffer<int32_t> nv(dev, std::span<const int32_t>(sorted.num_valid_ids));
      Buffer<int32_t> topk_ids(dev, std::span<const int32_t>(r.topk_ids));
      Buffer<float> topk_weights(dev, std::span<const float>(r.topk_weights));
      Buffer<uint16_t> out(dev, size_t(tokens) * s.N);
      MoeStage2A16W4 op(cfg);
      op.compile(dev);
      const MoeStage2Args host_sorted{out.ptr(), da.ptr(), dw.ptr(), ds.ptr(), ids.ptr(), wts.ptr(), ex.ptr(), nv.ptr(), 0,
                                      tokens, int(sorted.num_blocks()), topk_ids.ptr(), topk_weights.ptr()};
      MoeStage2Args args = host_sorted;
      std::optional<DeviceSorting> sorting;
      // A token owner needs neither the sorting nor a zeroing: its decode step is the kernel alone.
      const bool sorts = with_sorting && !cfg.token_owner;
      const MoeSortingZeroFill zero =
          zero_in_sorting && sorts ? MoeSortingZeroFill{out.ptr(), int64_t(out.bytes())} : MoeSortingZeroFill{};
      if (sorts) {
        sorting.emplace(dev, r, tokens, s.topk, s.E, cfg.tile_m);
        sorting->run(dev, nullptr, zero);  // compiles and loads the sorting kernel before the capture
        dev.synchronize();
        args.sorted_token_ids = sorting->ids.ptr();
        args.sorted_weights = sorting->weights.ptr();
        args.sorted_expert_ids = sorting->expert_ids.ptr();
        args.num_valid_ids = sorting->valid.ptr();
        args.sorted_blocks = int(sorting->blocks);
      }
      // One graph of the zeroing (the accumulating kernel needs it: part of the time) and the kernel
      // (with --with-sorting the sorting first), replayed after an L2 flush on the same stream.
      auto stream = dev.create_stream();
      auto graph = dev.capture(*stream, [&] {
        if (sorting) sorting->run(dev, stream.get(), zero);
        if (zero.bytes) {
          op.launch_early(args, stream.get());  // the sorting lets it start at once
        } else if (memset_zeroing && !cfg.token_owner) {
          dev.memset_async(out.ptr(), 0, out.bytes(), stream.get());
          op.launch(args, stream.get());
        } else {
          op.launch_zeroed(args, stream.get());
        }
      });
      double t = bench::median_graph_us(dev, *stream, *graph, flush, reps);
      if (with_sorting || !memset_zeroing || cfg.token_owner) {
        // The last replay's output against a plain launch on the host-sorted routing after a
        // memset (the same sums in another atomic order): a broken device sorting or an early
        // start that did not wait for the zeroing must not pass as a fast one.
        stream->synchronize();
        const std::vector<uint16_t> got = out.download();
        out.fill_bytes(0);
        op.launch(host_sorted);
        dev.synchronize();
        const std::vector<uint16_t> want = out.download();
        double num = 0, den = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          const double g = ir::bf16_to_f32(got[i]), w = ir::bf16_to_f32(want[i]);
          num += (g - w) * (g - w);
          den += w * w;
        }
        const double rel = std::sqrt(num / std::max(den, 1e-30));
        if (!(rel <= 2e-2)) {
          std::fprintf(stderr, "%s %d tokens: the timed graph's output differs from a plain launch's (relative L2 %.3g)\n",
                       s.name.c_str(), tokens, rel);
          return 1;
        }
      }
      double floor_us = distinct.size() * expert_bytes / bw * 1e6;
      // The same number of bytes streamed by a kernel that does nothing else (-1: skipped).
      const size_t point_bytes = size_t(distinct.size() * expert_bytes);
      const double probe_us = no_read_probe ? -1.0 : bench::read_probe_us(dev, flush, *probe_src, point_bytes, reps);
      // The same bytes through the copy engine, each geometry of bench::kBulkProbeGeometries; the best kept.
      double bulk_probe_us = -1.0;
      nlohmann::json bulk_probes = nlohmann::json::object();
      if (bulk_read_probe) {
        std::string line;
        for (const bench::BulkProbeGeometry& geo : bench::kBulkProbeGeometries) {
          const double us = bench::bulk_read_probe_us(dev, flush, *probe_src, point_bytes, reps, geo);
          bulk_probes[geo.text()] = us;
          if (bulk_probe_us < 0 || us < bulk_probe_us) bulk_probe_us = us;
          line += fmt::format(" {} {:.1f}", geo.text(), us);
        }
        std::printf("%-12s %6d bulk read probe us (stage x stages x blocks per SM):%s; load probe %.1f\n", "", tokens,
                    line.c_str(), probe_us);
      }
      double flops = 2.0 * tokens * s.topk * double(s.N) * s.K;
      const std::string c = cfg.tiles_text();
      std::printf("%-12s %6d %9.1f %9.1f %8.2f %8.1f %9.2f %7.0f  %s (%s)\n", "", tokens, t, floor_us, floor_us / t,
                  probe_us, flops / (t * 1e-6) / 1e12, distinct.size() * expert_bytes / (t * 1e-6) / 1e9, c.c_str(),
                  choice.from_table ? "table" : config_text.empty() ? "heuristic" : "--config");
      results.push_back({{"shape", s.name}, {"tokens", tokens}, {"time_us", t}, {"floor_us", floor_us},
                         {"fraction_of_floor", floor_us / t}, {"read_probe_us", probe_us},
                         {"bulk_read_probe_us", bulk_probe_us}, {"bulk_read_probes", bulk_probes},
                         {"tflops", flops / (t * 1e-6) / 1e12},
                         {"weight_gbs", distinct.size() * expert_bytes / (t * 1e-6) / 1e9},
                         {"experts_touched", distinct.size()}, {"config", c}, {"config_source", choice.reason},
                         {"copy_gbs", bw / 1e9}, {"protocol_empty_kernel_us", empty_us},
                         {"protocol_memset_empty_kernel_us", memset_empty_us},
                         {"protocol_zeroing_early_empty_kernel_us", zeroing_empty_us},
                         {"zeroing", cfg.token_owner ? "none (token owner)"
                                     : zero.bytes       ? "in the sorting, stage 2 started early"
                                     : memset_zeroing   ? "memset"
                                                        : "kernel, stage 2 started early"},
                         {"with_sorting", sorts},
                         {"zero_in_sorting", zero_in_sorting},
                         {"device", dev.name()}});
    }
  }
  std::ofstream(out_dir + "/" + json_name) << results.dump(2) << "\n";
  return 0;
}
