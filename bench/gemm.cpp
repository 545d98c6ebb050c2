// Benchmark of the BF16 GEMM (4096^3, 8192^3) and the dense A16W4 GEMM (M in {1, 16, 128, 4096},
// N = K = 4096) with the copy bandwidth measured in the same run. The cuBLAS and
// dequantise-then-cuBLAS baselines come from bench/gemm_baseline.py in the same device call.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "backend/runtime/select.h"
#include "bench/graph_timing.h"
#include "kernels/gemm/a16w4_api.h"
#include "kernels/gemm/bf16_api.h"
#include "kernels/mxfp4/preshuffle.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {
template <class F>
double median_us(Device& dev, int reps, F&& launch) {
  auto a = dev.create_event(), b = dev.create_event();
  std::vector<double> us;
  for (int i = 0; i < reps + 3; ++i) {
    a->record(nullptr);
    launch();
    b->record(nullptr);
    b->synchronize();
    if (i >= 3) us.push_back(b->elapsed_ms_since(*a) * 1e3);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n, int lo, int hi) {
  std::vector<uint8_t> v(n);
  std::uniform_int_distribution<int> d(lo, hi);
  for (auto& x : v) x = uint8_t(d(rng));
  return v;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"BF16 and A16W4 GEMM benchmark"};
  std::string out_dir = ".";
  int reps = 30;
  app.add_option("--out", out_dir, "directory for gemm.json");
  bool sweep = false;
  app.add_option("--reps", reps, "timed launches per point (median)");
  app.add_flag("--sweep", sweep, "also time every valid A16W4 configuration at M = 1 and 16");
  CLI11_PARSE(app, argc, argv);
  Device& dev = default_device();
  std::mt19937 rng(7);
  nlohmann::json results = nlohmann::json::array();

  // Copy bandwidth (bytes read + written).
  const size_t copy_bytes = size_t(1) << 30;
  Buffer<uint8_t> src(dev, copy_bytes), dst(dev, copy_bytes);
  src.fill_bytes(3);
  double copy_us = median_us(dev, 10, [&] { dev.copy_device_to_device(dst.ptr(), src.ptr(), copy_bytes); });
  double bw = 2.0 * copy_bytes / (copy_us * 1e-6);
  std::printf("device %s, copy bandwidth %.0f GB/s\n", dev.name().c_str(), bw / 1e9);

  // The default tile and the widest one (128 x 256, 8 warps of 64 x 64 on sm_90a).
  for (auto [n, tile_n] : {std::pair{4096, 128}, {4096, 256}, {8192, 128}, {8192, 256}}) {
    BF16GemmConfig cfg;
    cfg.tile_n = tile_n;
    cfg.out = GemmOut::BF16;
    BF16Gemm op(cfg);
    op.compile(dev);
    Buffer<uint16_t> a(dev, size_t(n) * n), b(dev, size_t(n) * n), c(dev, size_t(n) * n);
    a.fill_bytes(0x3c);  // 0x3c3c: a normal bf16 (about 0.0115); timing does not depend on values
    b.fill_bytes(0x3d);
    double t = median_us(dev, reps, [&] { op.launch(a.ptr(), b.ptr(), c.ptr(), n, n, n, nullptr); });
    double tflops = 2.0 * n * n * n / (t * 1e-6) / 1e12;
    std::printf("bf16 gemm %d^3: %.1f us, %.1f TFLOP/s (%s)\n", n, t, tflops, cfg.kernel_name().c_str());
    results.push_back({{"kernel", "bf16_gemm"}, {"config", cfg.kernel_name()}, {"M", n}, {"N", n}, {"K", n},
                       {"time_us", t}, {"tflops", tflops}});
  }
  const int N = 4096, K = 4096;
  auto packed = random_bytes(rng, size_t(N) * K / 2, 0, 255);
  auto scales = random_bytes(rng, size_t(N) * K / 32, 118, 126);
  auto wp = mxfp4::preshuffle_weights(packed, 1, N, K);
  auto sp = mxfp4::preshuffle_scales(scales, 1, N, K);
  Buffer<uint8_t> w(dev, std::span<const uint8_t>(wp)), s(dev, std::span<const uint8_t>(sp));
  Buffer<uint8_t> flush(dev, size_t(256) << 20);
  const double weight_bytes = double(N) * K / 2 + double(N) * K / 32;
  const double empty_us = bench::empty_graph_us(dev, flush, reps);
  std::printf("protocol floor: a graph of an empty kernel, same timing: %.1f us\n", empty_us);
  results.push_back({{"protocol_empty_kernel_us", empty_us}});
  // One A16W4 point: graph replays (as bench_moe_stage2: the launch gap stays out of a 2-10 us
  // kernel's time), the L2 flushed before each, median.
  auto time_a16w4 = [&](const A16W4GemmConfig& cfg, int m) {
    A16W4Gemm op(cfg);
    op.compile(dev);
    Buffer<uint16_t> a(dev, size_t(m) * K), c(dev, size_t(m) * N);
    std::vector<uint16_t> a_host(size_t(m) * K);
    std::uniform_int_distribution<int> mantissa(0, 127);
    for (auto& x : a_host) x = uint16_t(0x3f00 | mantissa(rng));  // bf16 in [0.5, 1)
    a.upload(std::span<const uint16_t>(a_host));
    auto stream = dev.create_stream();
    auto graph = dev.capture(*stream, [&] { op.launch(a.ptr(), w.ptr(), s.ptr(), c.ptr(), m, N, K, stream.get()); });
    return bench::median_graph_us(dev, *stream, *graph, flush, reps);
  };
  for (int m : {1, 16, 128, 4096}) {
    A16W4GemmConfig cfg = a16w4_gemm_choose(m, N, K, int(dev.compute_units()));
    double t = time_a16w4(cfg, m);
    double bytes = weight_bytes + 2.0 * m * K + 2.0 * m * N;
    double floor_us = bytes / bw * 1e6;
    double tflops = 2.0 * m * N * K / (t * 1e-6) / 1e12;
    std::printf("a16w4 gemm M=%d N=K=4096: %.1f us, floor %.1f us (%.2f), %.0f GB/s, %.2f TFLOP/s (%s)\n", m, t,
                floor_us, floor_us / t, bytes / (t * 1e-6) / 1e9, tflops, cfg.kernel_name().c_str());
    results.push_back({{"kernel", "a16w4_gemm"}, {"M", m}, {"N", N}, {"K", K}, {"time_us", t}, {"floor_us", floor_us},
                       {"fraction_of_floor", floor_us / t}, {"gbs", bytes / (t * 1e-6) / 1e9}, {"tflops", tflops},
                       {"config", cfg.kernel_name()}});
  }
  // Every valid small-M configuration, for the chooser (--sweep).
  for (int m : sweep ? std::vector<int>{1, 16} : std::vector<int>{}) {
    std::string best;
    double best_us = 1e30;
    for (int tn : {32, 64, 128, 256})
      for (int ks : {1, 2, 4, 8})
        for (int u : {1, 2, 4}) {
          A16W4GemmConfig cfg;
          cfg.tile_n = tn;
          cfg.k_split = ks;
          cfg.unroll = u;
          try {
            cfg.validate();
          } catch (const std::invalid_argument&) {
            continue;
          }
          double t = time_a16w4(cfg, m);
          std::printf("a16w4 sweep M=%d: %-28s %7.2f us\n", m, cfg.kernel_name().c_str(), t);
          results.push_back({{"kernel", "a16w4_gemm_sweep"}, {"M", m}, {"N", N}, {"K", K}, {"time_us", t},
                             {"config", cfg.kernel_name()}});
          if (t < best_us) best_us = t, best = cfg.kernel_name();
        }
    std::printf("a16w4 sweep M=%d: best %s %.2f us\n", m, best.c_str(), best_us);
  }
  results.push_back({{"copy_gbs", bw / 1e9}, {"device", dev.name()}});
  std::ofstream(out_dir + "/gemm.json") << results.dump(2) << "\n";
  return 0;
}
