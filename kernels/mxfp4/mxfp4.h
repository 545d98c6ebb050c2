// Umbrella header of the MXFP4 host library (E2M1, E8M0, block quantisation, preshuffles).
#pragma once
#include "kernels/mxfp4/e2m1.h"
#include "kernels/mxfp4/e8m0.h"
#include "kernels/mxfp4/preshuffle.h"
#include "kernels/mxfp4/quantize.h"
