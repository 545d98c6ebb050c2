// The C++ API of the MoE stage-2 A16W4 kernel: config -> compile(device) -> launch(args, stream).
#pragma once
#include <optional>
#include <vector>

#include "backend/launch/buffer.h"
#include "backend/launch/kernel.h"
#include "kernels/moe/host/reference.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels {

/// Device buffers of one launch. All pointers are device addresses.
/// The caller zeroes `out` before an accumulating launch (the kernel only adds into it).
struct MoeStage2Args {
  DevicePtr out = 0;               ///< bf16 or f32: [tokens, N] (accumulate) or [tokens*topk, N]
  DevicePtr a = 0;                 ///< bf16 [tokens*topk, K], 16-byte aligned
  DevicePtr w = 0;                 ///< preshuffled MXFP4 weights [E, N, K/2], 16-byte aligned
  DevicePtr w_scale = 0;           ///< preshuffled E8M0 scales [E*N, K/32]
  DevicePtr sorted_token_ids = 0;  ///< i32, sorted_blocks * tile_m entries (token_owner: unused, may be 0)
  DevicePtr sorted_weights = 0;    ///< f32, aligned with sorted_token_ids
  DevicePtr sorted_expert_ids = 0; ///< i32, sorted_blocks entries
  DevicePtr num_valid_ids = 0;     ///< i32[2]
  DevicePtr bias = 0;              ///< f32 [E, N]; required iff config.has_bias
  int tokens = 0;
  int sorted_blocks = 0;           ///< blocks in the sorted buffers (grid y); blocks past num_valid_ids exit at once
  /// token_owner configs read the routing as the router wrote it instead of the four sorted
  /// buffers (and sorted_blocks), which they ignore:
  DevicePtr topk_ids = 0;          ///< i32 [tokens, topk]; ids outside [0, E) route nothing
  DevicePtr topk_weights = 0;      ///< f32 [tokens, topk]
};

/// One stage-2 variant. compile() is cached (in memory, and on disk for GPUs).
class MoeStage2A16W4 {
 public:
  explicit MoeStage2A16W4(const MoeStage2Config& config);
  const MoeStage2Config& config() const { return config_; }
  const KernelDef& definition() const { return def_; }

  /// Compiles (or fetches) the kernel for `device` and keeps it for launch(); an accumulating
  /// config also compiles the zeroing that launch_zeroed() runs first.
  const Kernel& compile(Device& device);
  /// Launches on the device it was compiled for; checks the arguments first (null or
  /// misaligned pointers, token count) and throws std::invalid_argument naming the argument.
  void launch(const MoeStage2Args& args, Stream* stream = nullptr) const;
  /// launch() that may start while the kernel before it on `stream` still runs (CUDA programmatic
  /// dependent launch; LaunchOptions::early_start): the kernel's blocks get on the SMs and wait
  /// for that kernel to finish before they read or write anything, which saves the gap between
  /// the two launches (0.4-1.3 us on the H100 after the MoE sorting, which lets its dependents
  /// start at once). Safe after any kernel; elsewhere (HIP, the emulator) the same as launch().
  void launch_early(const MoeStage2Args& args, Stream* stream = nullptr) const;
  /// Zeroes `out` ([tokens, N]) with a kernel and then launches the accumulating kernel early
  /// after it (launch_early), both on `stream`: 0.4-0.5 us less than a memset before launch() on
  /// the H100. A token_owner config needs no zeroing: its kernel alone, launched early, writes the
  /// sums over what `out` held. Accumulating configs only (std::logic_error otherwise); the checks
  /// of launch().
  void launch_zeroed(const MoeStage2Args& args, Stream* stream = nullptr) const;
  /// The launch grid for `rows` blocks of sorted rows (token_owner: `rows` tokens; a persistent grid,
  /// MoeStage2Config::persistent_grid(): blocks_per_sm_hint() blocks per compute unit of the
  /// compiled-for device, at most one per work item).
  Dim3 grid(int rows) const;

 private:
  void check(const MoeStage2Args& args) const;
  /// `overwrite`: a token_owner kernel stores its sums instead of adding them to out.
  void launch_kernel(const MoeStage2Args& args, Stream* stream, LaunchOptions options, bool overwrite = false) const;

  MoeStage2Config config_;
  KernelDef def_;
  std::optional<Kernel> kernel_;
  std::optional<Kernel> zeroing_;  // accumulating configs: the kernel of launch_zeroed()
  uint32_t compute_units_ = 1;      // of the device compile() compiled for
};

/// The weights and scales of one problem preshuffled and uploaded once, for several
/// run_moe_stage2 calls over the same weights (a model's 0.6-1.5 GB take seconds to preshuffle
/// and upload per call otherwise).
class MoeStage2DeviceWeights {
 public:
  /// Preshuffles `in.w_packed` ([E, N, K/2]) and `in.w_scales` ([E*N, K/32]) and uploads them to
  /// `device`; std::invalid_argument when their sizes do not match E, N, K (or the preshuffle's
  /// divisibility rules).
  MoeStage2DeviceWeights(Device& device, const moe::Stage2Inputs& in, int64_t E, int64_t N, int64_t K);
  Device& device() const { return w_.device(); }
  DevicePtr w() const { return w_.ptr(); }
  DevicePtr scales() const { return s_.ptr(); }
  /// True when these are the weights of `config`'s shape (experts, model_dim, inter_dim).
  bool fits(const MoeStage2Config& config) const;

 private:
  int64_t E_, N_, K_;
  Buffer<uint8_t> w_, s_;
};

/// Host tensors of one problem in the plain layouts (see moe::Stage2Inputs); the runner sorts,
/// preshuffles, uploads, zeroes the output, launches and downloads.
struct MoeStage2Run {
  std::vector<float> out;   ///< the output as floats (bf16 outputs widened exactly)
  std::vector<uint16_t> out_bf16;  ///< raw bf16 bits when the output is bf16
  double kernel_ms = 0;     ///< device time of the launch (events)
  CompileInfo compile;
};
/// `initial_out`: the output's bytes before the launch (empty: zeros when accumulating, else a
/// NaN poison); tests pass random values so that an element the kernel never touched shows.
/// `zeroed`: launch through launch_zeroed() (accumulating configs), which overwrites initial_out.
/// `weights`: the problem's weights already on `device` (then `in.w_packed` / `in.w_scales` are
/// not read); std::invalid_argument when they live on another device or have another shape.
MoeStage2Run run_moe_stage2(Device& device, const MoeStage2Config& config, const moe::Stage2Inputs& in, int tokens,
                            std::span<const uint8_t> initial_out = {}, bool zeroed = false,
                            const MoeStage2DeviceWeights* weights = nullptr);

}  // namespace tilejit::kernels
