// MXFP4 decoding in kernels: FP4 (E2M1) codes with an E8M0 scale -> bf16 MMA operands.
#pragma once
#include "dsl/value.h"

namespace tilejit::tile {

/// How FP4 is decoded: the gfx950 instruction v_cvt_scalef32_pk_bf16_fp4, or bit manipulation
/// (isa-semantics.md §6 recipe A; any target). Auto picks the instruction where it exists.
/// SoftwareSmallScale is the bit manipulation with one bf16x2 multiply per pair instead of two,
/// valid only for scales up to kFp4SmallScaleMax (2^1): the caller must guarantee that, e.g. by
/// taking it only when wave_umax of the wave's scales is at most that and Software otherwise;
/// larger scales give wrong (finite, not NaN) values.
enum class Fp4Path { Auto, Hardware, Software, SoftwareSmallScale };

/// The largest E8M0 scale Fp4Path::SoftwareSmallScale decodes exactly: 2^(x-1) is a normal bf16
/// for x in 0..128, so one multiply takes the placed code (E2M1 * 2^-126) to E2M1 * 2^(x-127).
inline constexpr int kFp4SmallScaleMax = 128;

/// The order of the decoded values. Natural: element e = code e. Split: element 2j = code j and
/// element 2j+1 = code j+4, i.e. bf16 pair j holds codes (j, j+4): the software path needs 2
/// shifts per pair in this order instead of 4, so kernels that can permute K the same way for
/// the other MMA operand should ask for it (see split_pairs()).
enum class Fp4Order { Natural, Split };

/// Decodes the eight FP4 codes of `word` (i32; code e in bits 4e+3..4e, the low nibble first)
/// times 2^(scale - 127), `scale` being the E8M0 byte as i32, into <8 x bf16> in `order`.
/// Scale 255 gives NaN; scale 0 means 2^-127; overflow gives +-Inf. Every finite result is exact
/// (with SoftwareSmallScale: for scales 0..kFp4SmallScaleMax, the only ones it accepts).
dsl::Value decode_fp4x8(const dsl::Value& word, const dsl::Value& scale, Fp4Path path = Fp4Path::Auto,
                        Fp4Order order = Fp4Order::Natural, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// Reorders <8 x T> (T 16-bit) from the natural order to Fp4Order::Split: elements
/// (0, 4, 1, 5, 2, 6, 3, 7). Applied to the other MMA operand's K vector, it keeps the dot
/// products of a Split-decoded operand unchanged.
dsl::Value split_pairs(const dsl::Value& v8, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// The cheaper decode order on the target being traced: Natural with the hardware conversion,
/// Split for the software path.
Fp4Order preferred_fp4_order();
/// `v8` (<8 x T>, natural K order) in `order`: itself, or split_pairs(v8). Kernels pass the other
/// MMA operand's K vectors through it so they match operands decoded in `order`.
dsl::Value in_fp4_order(const dsl::Value& v8, Fp4Order order, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// Byte offset (i32) of row `n`, 32-K block `kb` (16 bytes) in the preshuffled (kpack 16) weights
/// of one [N, K] MXFP4 matrix (moe-stage2.md).
dsl::Value mxfp4_weight_offset(const dsl::Arg& n, const dsl::Arg& kb, const dsl::Arg& K,
                               const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Byte offset (i32) of the E8M0 scale of row `n`, 32-K block `kb` in the preshuffled scales of
/// one [N, K] matrix (moe-stage2.md).
dsl::Value mxfp4_scale_offset(const dsl::Arg& n, const dsl::Arg& kb, const dsl::Arg& K,
                              const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// One lane's MXFP4 operand: `words` (i32, or <4 x i32>) holds consecutive FP4 codes of one
/// weight row along K (code e of word q is K = 32 kb + 8 (first_word + q) + e), `scale` the E8M0
/// byte of that 32-K block as i32.
struct Mxfp4Fragment {
  dsl::Value words, scale;
};

/// Loads row `n`, 32-K block `kb` of an MXFP4 matrix [N, K] in the preshuffled (kpack 16) layout
/// of moe-stage2.md: `w` its bytes as ptr<global, i32> (16-byte aligned), `scales` its
/// preshuffled E8M0 bytes as ptr<global, u8>. `words` 4 reads the whole block with one 16-byte
/// load (first_word 0); `words` 1 reads 4 bytes, word `first_word` (0..3). K must be a multiple
/// of 256 and N of 32. With `rows_checked`, rows n >= N read zero codes (a range-checked load)
/// and the scale of row N-1, so a partial tile needs no branch (the caller masks those columns);
/// without it the caller guarantees n < N and plain loads are used. `policy` applies to the
/// weight codes (ir::CachePolicy::Stream when each byte is read once), `scale_policy` to the
/// scale byte (Stream makes it a non-coherent read-only load too: on sm_90a a proxy fence
/// (fence.proxy.async, a MEMBAR) then need not wait for it).
Mxfp4Fragment load_b_mxfp4(const dsl::Value& w, const dsl::Value& scales, const dsl::Arg& n, const dsl::Arg& kb,
                           const dsl::Arg& N, const dsl::Arg& K, int words = 4, int first_word = 0,
                           bool rows_checked = true, ir::CachePolicy policy = ir::CachePolicy::Normal,
                           ir::CachePolicy scale_policy = ir::CachePolicy::Normal,
                           const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// load_b_mxfp4() without the scale: only the codes (i32, or <4 x i32>), for callers that read the
/// scales another way (load_mxfp4_scale_word()).
dsl::Value load_mxfp4_codes(const dsl::Value& w, const dsl::Arg& n, const dsl::Arg& kb, const dsl::Arg& N,
                            const dsl::Arg& K, int words = 4, int first_word = 0, bool rows_checked = true,
                            ir::CachePolicy policy = ir::CachePolicy::Normal,
                            const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// The 4-byte word of the preshuffled scales that holds rows {n, n ^ 16} x blocks {kb, kb ^ 4}
/// (moe-stage2.md: the scale layout's innermost pair of pairs), i.e. the scales of two rows 16
/// apart for two consecutive 128-K chunks: one read instead of four byte reads. With
/// `rows_checked` rows n >= N read the word of row N-1 (the scales of rows N-17 and N-1; the
/// caller masks those columns). Pick a scale out of it with mxfp4_scale_in_word().
dsl::Value load_mxfp4_scale_word(const dsl::Value& scales, const dsl::Arg& n, const dsl::Arg& kb, const dsl::Arg& N,
                                 const dsl::Arg& K, bool rows_checked = true,
                                 const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// The E8M0 scale (i32) of row `n`, block `kb` from the word load_mxfp4_scale_word() read for a
/// row and block of the same pair of pairs: byte 2 ((kb / 4) % 2) + (n / 16) % 2.
dsl::Value mxfp4_scale_in_word(const dsl::Value& word, const dsl::Arg& n, const dsl::Arg& kb,
                               const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
