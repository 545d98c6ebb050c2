// The FP4 decode test kernels, every (code, scale, position) case, and an independent reference.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "backend/launch/kernel.h"
#include "dsl/tile/mxfp4.h"

namespace tilejit::fp4_decode_test {

/// A kernel that decodes words[i] with scales[i] (one per thread) through `path` in `order`
/// into 4 words of bf16 pairs at out[4i..4i+3].
const KernelDef& decode_kernel(tile::Fp4Path path, tile::Fp4Order order);

/// Words that hold every code at every position for every E8M0 scale 0..max_scale (16 words per
/// scale, in a random order), and the scale of each word.
struct Cases {
  std::vector<int32_t> words, scales;
};
Cases every_case(std::mt19937& rng, int max_scale = 255);

/// The bf16 bits of E2M1(code) * 2^(scale - 127), rounded to nearest even with overflow to
/// +-Inf, computed in double from the OCP table; scale 255 gives 0x7FFF.
uint16_t reference_bits(int code, int scale);

/// Runs the kernel on `device` and returns the 4 output words per case (poisoned first).
std::vector<int32_t> run_decode(Device& device, tile::Fp4Path path, tile::Fp4Order order, const Cases& cases);

/// Compares the outputs with the reference; returns how many bf16 elements differ and fills
/// `first` with a description of the first difference. With `any_nan`, scale 255 may give any
/// NaN (the gfx950 instruction's NaN pattern is unconfirmed, isa-semantics.md §7).
size_t count_mismatches(const Cases& cases, const std::vector<int32_t>& out, tile::Fp4Order order, std::string& first,
                        bool any_nan = false);

}  // namespace tilejit::fp4_decode_test
