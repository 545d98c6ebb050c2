// The README's demo: the MoE stage-2 A16W4 kernel on a GPT-OSS-shaped problem (a smaller one
// on the emulator), with compile times, the error against the FP32 reference and the kernel time.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include "backend/runtime/select.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/stage2/api.h"

using namespace tilejit;
using namespace tilejit::kernels;

int main() {
  Device& dev = default_device();
  bool gpu = dev.kind() != DeviceKind::Emulator;
  // GPT-OSS: model_dim 3072, inter_dim 3072, 128 experts, top-4. The emulator runs a slice of it.
  int N = gpu ? 3072 : 256, K = gpu ? 3072 : 512, E = gpu ? 128 : 16, topk = 4, tokens = gpu ? 16 : 6;
  std::printf("MoE stage 2 (bf16 x MXFP4) on %s (target %s)\n", dev.name().c_str(),
              std::string(target_info(dev.target()).name).c_str());
  std::printf("problem: tokens %d, model_dim %d, inter_dim %d, experts %d, topk %d%s\n", tokens, N, K, E, topk,
              gpu ? " (GPT-OSS)" : " (a GPT-OSS slice sized for the emulator)");

  unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  moe::Routing routing = moe::random_routing(rng, tokens, topk, E);
  auto a = moe::random_bf16_normal(rng, size_t(tokens) * topk * K);
  auto w = moe::random_mxfp4_weights(rng, E, N, K);
  auto bias = moe::random_f32_normal(rng, size_t(E) * N);
  moe::Stage2Inputs in{a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights};
  MoeStage2Config cfg{N, K, E, topk, 16, 128, 1, OutDtype::BF16, true, true, true};

  // Compile twice: the first is cold (or a disk-cache hit from an earlier run), the second a memory hit.
  MoeStage2A16W4 op(cfg);
  auto t0 = std::chrono::steady_clock::now();
  const Kernel& k = op.compile(dev);
  double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  auto t1 = std::chrono::steady_clock::now();
  op.compile(dev);
  double second_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t1).count();
  const CompileInfo& info = k.info();
  std::printf("compile: %.1f ms (%s: trace %.1f ms, LLVM %.1f ms, load %.1f ms); again: %.1f us (memory)\n", first_ms,
              !gpu                  ? "emulator, no code to build"
              : info.trace_skipped ? "disk cache hit by trace key, body not traced"
              : info.disk_hit      ? "disk cache hit"
                                   : "cold",
              info.trace_ms,
              info.compile_ms, info.load_ms, second_us);

  MoeStage2Run run = run_moe_stage2(dev, cfg, in, tokens);
  moe::Stage2Result ref = moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {true, true, moe::OutputType::bf16});
  double num = 0, den = 0;
  size_t nans = 0;
  for (size_t i = 0; i < ref.exact.size(); ++i) {
    double d = run.out[i] - ref.exact[i];
    nans += std::isnan(run.out[i]);
    num += d * d;
    den += ref.exact[i] * ref.exact[i];
  }
  double rel = std::sqrt(num / den);
  std::printf("kernel: %.3f ms (one launch, %s)\n", run.kernel_ms, gpu ? "device events" : "emulator wall time");
  std::printf("error vs FP32 reference on the exact dequantised weights: relative L2 %.2e, %zu NaN (seed %u)\n", rel,
              nans, seed);
  bool pass = nans == 0 && rel < 1e-2;
  std::printf("%s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
