// Umbrella header of the GEMM kernels: the BF16 GEMM and the dense A16W4 (bf16 x MXFP4) GEMM.
#pragma once
#include "kernels/gemm/a16w4_api.h"
#include "kernels/gemm/bf16_api.h"
#include "kernels/gemm/config.h"
