// The register main loop's K loop, shared by the sorted-rows kernel (kernel.cpp) and the token
// owner (owner_kernel.cpp): weights straight from global memory into registers, one group of
// `unroll` 128-K chunks in flight while the group before it is decoded and multiplied.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "dsl/tilejit.h"
#include "dsl/tile/mxfp4.h"

namespace tilejit::kernels::stage2_detail {

/// The raw weights of one 128-K chunk: per n-tile one 16-byte word vector and its E8M0 scale.
struct RawChunk {
  std::vector<dsl::Value> words, scales;
};

/// The loop's double buffer: `unroll` chunks x n-tiles of raw words and scales, chunk-major.
class WeightSlots {
 public:
  /// Slots holding `first` (the loop's first group, loaded by the caller so that other work can
  /// overlap its latency).
  explicit WeightSlots(const std::vector<RawChunk>& first);
  std::vector<RawChunk> get() const;
  void set(const std::vector<RawChunk>& group);

 private:
  size_t n_tiles_;
  std::vector<std::unique_ptr<dsl::Var<>>> words_, scales_;
};

/// What the loop asks of its caller.
struct RegisterKLoopSteps {
  /// The raw weights of chunks c0 .. c0 + unroll - 1 (scales as the caller's fast decode reads them).
  std::function<std::vector<RawChunk>(const dsl::Value& c0)> load_group;
  /// One chunk with its own scale bytes, for the exact redo.
  std::function<RawChunk(const dsl::Value& c)> load_exact;
  /// Decode chunk c's weights along `path` and multiply-accumulate them into `acc`.
  std::function<void(const dsl::Value& c, const RawChunk& raw, tile::Fp4Path path)> compute;
};

/// Runs chunks [first, end) (a multiple of `unroll` of them), `unroll` at a time: the next group
/// loads into `slots` before the current one is computed (the prefetch under an if_ so that LLVM
/// cannot fold it back into a load at the top of the loop). With `fast` (sm_90a's one-multiply
/// decode, exact only for scales up to 2^1) a warp that met a larger scale zeroes `acc` and redoes
/// its chunks one at a time with the exact decode; that wave-uniform branch sits after the loop, so
/// the loop stays one straight block for the scheduler.
void register_k_loop(const dsl::Value& first, const dsl::Value& end, int unroll, bool fast, WeightSlots& slots,
                     std::vector<std::unique_ptr<dsl::Var<>>>& acc, const RegisterKLoopSteps& steps);

/// register_k_loop without the prefetch, for weights already in shared memory (the warp-specialized
/// loop's stream): each iteration loads its own group (waiting for it) and computes it, so that a
/// warp never holds a second group while it waits.
void streamed_k_loop(const dsl::Value& first, const dsl::Value& end, int unroll, bool fast,
                     std::vector<std::unique_ptr<dsl::Var<>>>& acc, const RegisterKLoopSteps& steps);

}  // namespace tilejit::kernels::stage2_detail
