// Umbrella header of the MoE stage-2 host library (sorting, reference, test inputs).
#pragma once
#include "kernels/moe/host/bf16_round.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/host/reference.h"
#include "kernels/moe/host/sorting.h"
