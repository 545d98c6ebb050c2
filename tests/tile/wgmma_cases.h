// wgmma from core-matrix tiles (dsl/tile/core_matrix_tile.h): a kernel where two warpgroups
// multiply one 64 x k A tile by their halves of a 2n x k B tile, its inputs and the double reference.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "backend/launch/kernel.h"
#include "backend/runtime/device.h"

namespace tilejit::tile_test {

struct WgmmaCase {
  int n, k;           ///< wgmma N per warpgroup (8..128) and the K of the tiles (a multiple of 16)
  bool exact_values;  ///< small integers times powers of two: every sum exact in f32
  bool swizzled = false;  ///< 64-column SharedTiles (128-byte swizzle; k 64) instead of core-matrix tiles
  bool a_in_registers = false;  ///< A as each lane's fragment (the RS form), loaded from global memory
  /// The wgmmas of the second half of K behind a branch (on a loaded value; always taken) between
  /// wgmma.fence and the commit: the same sums, but the CUDA JIT injects waits (C7519).
  bool branch_between = false;
};

struct WgmmaRun {
  std::vector<uint16_t> a, b;  ///< 64 x k and 2n x k, row-major bf16 bits
  std::vector<float> c;        ///< 256 threads x n / 2 accumulator inputs, in lane order
  std::vector<float> out;      ///< the kernel's accumulators
};

/// Random inputs for `c`.
WgmmaRun make_wgmma_inputs(const WgmmaCase& c, std::mt19937& rng);
/// Runs the kernel (256 threads) on `device` (sm_90a), filling run.out (poisoned first); returns
/// the compile's CompileInfo (its load log and performance advisories).
CompileInfo run_wgmma(Device& device, const WgmmaCase& c, WgmmaRun& run);
/// The reference of thread t, element i: c + sum over K of A[row] B[g n + col] in double, with
/// (row, col) from the wgmma accumulator layout (ops.def); `abs_sum` gets |c| + sum of |terms|.
double wgmma_reference(const WgmmaCase& c, const WgmmaRun& run, int thread, int i, double* abs_sum);

}  // namespace tilejit::tile_test
