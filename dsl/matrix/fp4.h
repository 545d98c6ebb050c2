// MXFP4 element decoding: E2M1 codes, E8M0 scales and the two ways of producing scaled bf16 (gfx950 cvt, sm_90 software).
#pragma once
#include <cstdint>

namespace tilejit::matrix {

/// Value of an E2M1 code (OCP MX v1.0 §5.3.3): s e1 e0 m; only the low 4 bits of `code` are read.
/// Codes 0..7 are 0, 0.5, 1, 1.5, 2, 3, 4, 6; codes 8..15 their negatives (code 8 is -0.0).
float e2m1_value(uint8_t code);

/// Value of an E8M0 scale (OCP MX v1.0 §5.4.1): 2^(x-127); x = 255 is NaN, x = 0 is 2^-127.
float e8m0_value(uint8_t x);

/// v_cvt_scalef32_pk_bf16_fp4 (gfx950, isa-semantics.md §2): converts byte `byte_sel` (0..3) of `src`.
/// The low nibble gives element 0 (result bits 15:0), the high nibble element 1 (bits 31:16).
/// Only the exponent field (bits 30:23) of `scale` is read, as an E8M0 value x; each element is
/// E2M1(code)·2^(x-127) rounded RNE to bf16 (exact in practice), ±Inf on overflow, and
/// 0x7FFF | sign for x = 255. Throws InternalError for byte_sel outside 0..3.
uint32_t cvt_scalef32_pk_bf16_fp4(uint32_t src, float scale, int byte_sel);

/// The sm_90 software conversion (isa-semantics.md §6, recipe A): the code's bits placed at bf16
/// bits 15 and 8:6, times 2^126, times the E8M0 scale (2^-127 for x = 0), rounded to bf16; 0x7FFF for
/// x = 255. Gives the same bits as cvt_scalef32_pk_bf16_fp4 for every x != 255.
uint16_t fp4_to_bf16_software(uint8_t code, uint8_t scale_e8m0);

}  // namespace tilejit::matrix
