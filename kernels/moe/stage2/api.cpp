// MoeStage2A16W4 argument checks and launch; the host-side runner.
#include "kernels/moe/stage2/api.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/moe/stage2/kernel.h"
#include "kernels/moe/stage2/zeroing.h"
#include "kernels/mxfp4/preshuffle.h"

namespace tilejit::kernels {

MoeStage2A16W4::MoeStage2A16W4(const MoeStage2Config& config) : config_(config), def_(moe_stage2_kernel(config)) {}

const Kernel& MoeStage2A16W4::compile(Device& device) {
  kernel_ = tilejit::compile(def_, device);
  compute_units_ = std::max(1u, device.compute_units());
  if (config_.accumulate && !config_.token_owner) zeroing_ = tilejit::compile(moe_stage2_zeroing_kernel(), device);
  return *kernel_;
}

Dim3 MoeStage2A16W4::grid(int rows) const {
  if (config_.persistent_grid()) {
    const int64_t items = int64_t((config_.model_dim + config_.tile_n - 1) / config_.tile_n) * rows * config_.k_batch;
    return {uint32_t(std::min<int64_t>(items, int64_t(compute_units_) * std::max(1, config_.blocks_per_sm_hint()))), 1, 1};
  }
  return {uint32_t((config_.model_dim + config_.tile_n - 1) / config_.tile_n), uint32_t(rows), uint32_t(config_.k_batch)};
}

void MoeStage2A16W4::launch(const MoeStage2Args& args, Stream* stream) const {
  check(args);
  launch_kernel(args, stream, {});
}

void MoeStage2A16W4::launch_early(const MoeStage2Args& args, Stream* stream) const {
  check(args);
  launch_kernel(args, stream, {.early_start = true});
}

void MoeStage2A16W4::launch_zeroed(const MoeStage2Args& args, Stream* stream) const {
  if (!config_.accumulate)
    throw std::logic_error("MoeStage2A16W4::launch_zeroed: the config does not accumulate (launch() writes every output)");
  check(args);
  if (config_.token_owner) return launch_kernel(args, stream, {.early_start = true}, true);
  // model_dim % 16 == 0 (validate): whole 16-byte vectors
  const int64_t out_bytes = int64_t(args.tokens) * config_.model_dim * (config_.out_dtype == OutDtype::F32 ? 4 : 2);
  launch_moe_stage2_zeroing(*zeroing_, args.out, out_bytes, stream);
  launch_kernel(args, stream, {.early_start = true});
}

void MoeStage2A16W4::check(const MoeStage2Args& args) const {
  if (!kernel_) throw std::logic_error("MoeStage2A16W4::launch before compile(device)");
  auto need = [](DevicePtr p, uint64_t align, const char* name) {
    if (!p) throw std::invalid_argument(fmt::format("MoeStage2A16W4: {} is null", name));
    if (p % align) throw std::invalid_argument(fmt::format("MoeStage2A16W4: {} must be {}-byte aligned", name, align));
  };
  need(args.out, config_.out_dtype == OutDtype::F32 && !config_.accumulate ? 8 : 4, "out");
  need(args.a, 16, "a");
  need(args.w, 16, "w");
  need(args.w_scale, 1, "w_scale");
  if (config_.has_bias) need(args.bias, 4, "bias");
  if (args.tokens < 1 || args.tokens >= (1 << 24))
    throw std::invalid_argument(fmt::format("MoeStage2A16W4: tokens must be in [1, 2^24), got {}", args.tokens));
  // The kernels index rows of a and out with 32-bit element offsets.
  const int64_t widest = int64_t(args.tokens) * config_.topk * std::max(config_.model_dim, config_.inter_dim);
  if (widest > INT32_MAX)
    throw std::invalid_argument(fmt::format("MoeStage2A16W4: {} tokens x topk {} x {} elements per row exceed 32-bit "
                                            "offsets; launch at most {} tokens at a time", args.tokens, config_.topk,
                                            std::max(config_.model_dim, config_.inter_dim),
                                            INT32_MAX / (int64_t(config_.topk) * std::max(config_.model_dim, config_.inter_dim))));
  if (config_.token_owner) {
    need(args.topk_ids, 4, "topk_ids");
    need(args.topk_weights, 4, "topk_weights");
    if (args.tokens > 65535)  // grid y
      throw std::invalid_argument(fmt::format("MoeStage2A16W4: a token_owner config takes at most 65535 tokens, got {}",
                                              args.tokens));
    return;
  }
  need(args.sorted_token_ids, 4, "sorted_token_ids");
  need(args.sorted_weights, 4, "sorted_weights");
  need(args.sorted_expert_ids, 4, "sorted_expert_ids");
  need(args.num_valid_ids, 4, "num_valid_ids");
  if (args.sorted_blocks < 1)
    throw std::invalid_argument(fmt::format("MoeStage2A16W4: sorted_blocks must be positive, got {}", args.sorted_blocks));
}

void MoeStage2A16W4::launch_kernel(const MoeStage2Args& args, Stream* stream, LaunchOptions options,
                                    bool overwrite) const {
  const DevicePtr bias = config_.has_bias ? args.bias : args.a;  // unused without has_bias
  if (config_.token_owner)
    return kernel_->launch_with(stream, options, grid(args.tokens), {uint32_t(kStage2Threads)}, RawPtr{args.out},
                                RawPtr{args.a}, RawPtr{args.w}, RawPtr{args.w_scale}, RawPtr{args.topk_ids},
                                RawPtr{args.topk_weights}, RawPtr{bias}, int32_t(overwrite ? 0 : 1));
  kernel_->launch_with(stream, options, grid(args.sorted_blocks), {uint32_t(config_.block_threads())}, RawPtr{args.out},
                       RawPtr{args.a}, RawPtr{args.w}, RawPtr{args.w_scale}, RawPtr{args.sorted_token_ids},
                       RawPtr{args.sorted_weights}, RawPtr{args.sorted_expert_ids}, RawPtr{args.num_valid_ids},
                       RawPtr{config_.has_bias ? args.bias : args.sorted_weights}, args.tokens);
}

namespace {

void check_size(const char* fn, size_t got, int64_t want, const char* name) {
  if (int64_t(got) != want)
    throw std::invalid_argument(fmt::format("{}: {} has {} elements, expected {}", fn, name, got, want));
}

}  // namespace

MoeStage2DeviceWeights::MoeStage2DeviceWeights(Device& device, const moe::Stage2Inputs& in, int64_t E, int64_t N,
                                               int64_t K)
    : E_(E), N_(N), K_(K) {
  check_size("MoeStage2DeviceWeights", in.w_packed.size(), E * N * K / 2, "w");
  check_size("MoeStage2DeviceWeights", in.w_scales.size(), E * N * K / 32, "w_scale");
  std::vector<uint8_t> w = mxfp4::preshuffle_weights(in.w_packed, E, N, K);
  w_ = Buffer<uint8_t>(device, std::span<const uint8_t>(w));
  w = {};  // one host copy at a time
  std::vector<uint8_t> s = mxfp4::preshuffle_scales(in.w_scales, E, N, K);
  s_ = Buffer<uint8_t>(device, std::span<const uint8_t>(s));
}

bool MoeStage2DeviceWeights::fits(const MoeStage2Config& config) const {
  return config.experts == E_ && config.model_dim == N_ && config.inter_dim == K_;
}

MoeStage2Run run_moe_stage2(Device& device, const MoeStage2Config& cfg, const moe::Stage2Inputs& in, int tokens,
                            std::span<const uint8_t> initial_out, bool zeroed, const MoeStage2DeviceWeights* weights) {
  cfg.validate();
  const int64_t E = cfg.experts, N = cfg.model_dim, K = cfg.inter_dim, topk = cfg.topk;
  check_size("run_moe_stage2", in.a.size(), tokens * topk * K, "a");
  if (cfg.has_bias) check_size("run_moe_stage2", in.bias.size(), E * N, "bias");
  std::optional<MoeStage2DeviceWeights> own_weights;
  if (!weights) {
    weights = &own_weights.emplace(device, in, E, N, K);  // checks the host weights' sizes
  } else if (&weights->device() != &device) {
    throw std::invalid_argument("run_moe_stage2: the device weights live on another device");
  } else if (!weights->fits(cfg)) {
    throw std::invalid_argument(fmt::format("run_moe_stage2: the device weights are not of the config's shape "
                                            "(experts {}, model_dim {}, inter_dim {})", E, N, K));
  }
  // A token owner reads the routing as given; the others read its sorting.
  const moe::SortedRouting sorted = cfg.token_owner ? moe::SortedRouting{}
                                                    : moe::moe_sorting(in.topk_ids, in.topk_weights, tokens, topk, E, cfg.tile_m);

  MoeStage2A16W4 op(cfg);
  MoeStage2Run run;
  run.compile = op.compile(device).info();
  Buffer<uint16_t> a(device, in.a);
  Buffer<int32_t> ids(device, std::span<const int32_t>(sorted.sorted_token_ids));
  Buffer<float> wts(device, std::span<const float>(sorted.sorted_weights));
  Buffer<int32_t> experts(device, std::span<const int32_t>(sorted.sorted_expert_ids));
  Buffer<int32_t> valid(device, std::span<const int32_t>(sorted.num_valid_ids));
  std::optional<Buffer<float>> bias;
  if (cfg.has_bias) bias.emplace(device, in.bias);
  const int64_t rows = cfg.accumulate ? tokens : tokens * topk;
  const size_t out_elems = size_t(rows * N), elem_bytes = cfg.out_dtype == OutDtype::F32 ? 4 : 2;
  Buffer<uint8_t> out(device, out_elems * elem_bytes);
  if (initial_out.empty()) out.fill_bytes(cfg.accumulate ? 0x00 : 0xFF);  // the caller's zeroing, or poison
  else if (initial_out.size() != out_elems * elem_bytes)
    throw std::invalid_argument(fmt::format("run_moe_stage2: initial_out has {} bytes, expected {}", initial_out.size(),
                                            out_elems * elem_bytes));
  else out.upload(initial_out);

  Buffer<int32_t> topk_ids(device, in.topk_ids);
  Buffer<float> topk_weights(device, in.topk_weights);
  MoeStage2Args args{out.ptr(), a.ptr(), weights->w(), weights->scales(), ids.ptr(), wts.ptr(), experts.ptr(), valid.ptr(),
                     bias ? bias->ptr() : 0, tokens, int(std::max<int64_t>(sorted.num_blocks(), 1)),
                     topk_ids.ptr(), topk_weights.ptr()};
  auto start = device.create_event(), stop = device.create_event();
  start->record(nullptr);
  if (zeroed) op.launch_zeroed(args, nullptr);
  else op.launch(args, nullptr);
  stop->record(nullptr);
  stop->synchronize();
  run.kernel_ms = stop->elapsed_ms_since(*start);
  std::vector<uint8_t> bytes = out.download();
  run.out.resize(out_elems);
  if (elem_bytes == 4) {
    std::memcpy(run.out.data(), bytes.data(), bytes.size());
  } else {
    run.out_bf16.resize(out_elems);
    std::memcpy(run.out_bf16.data(), bytes.data(), bytes.size());
    for (size_t i = 0; i < out_elems; ++i) run.out[i] = ir::bf16_to_f32(run.out_bf16[i]);
  }
  return run;
}

}  // namespace tilejit::kernels
