// MXFP4 decoding in kernels: FP4 (E2M1) codes with an E8M0 scale -> bf16 MMA operands.
#pragma once
#include "dsl/value.h"

namespace tilejit::tile {

/// How FP4 is decoded: the gfx950 instruction v_cvt_scalef32_pk_bf16_fp4, or bit manipulation
/// (isa-semantics.md §6 recipe A; any target). Auto picks the instruction where it exists.
enum class Fp4Path { Auto, Hardware, Software };

/// Decodes the eight FP4 codes of `word` (i32; code e in bits 4e+3..4e, the low nibble first)
/// times 2^(scale - 127), `scale` being the E8M0 byte as i32, into <8 x bf16> (element e = code e).
/// Scale 255 gives NaN; scale 0 means 2^-127; overflow gives +-Inf.
dsl::Value decode_fp4x8(const dsl::Value& word, const dsl::Value& scale, Fp4Path path = Fp4Path::Auto,
                        const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
