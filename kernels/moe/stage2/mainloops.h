// The stage-2 kernel's parameters and the shared-memory main loops kernel.cpp dispatches to.
#pragma once
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// moe_stage2_kernel's parameters, in order.
template <class OutT>
struct Stage2Params {
  dsl::Ptr<OutT> out;
  dsl::Ptr<bf16> a;
  dsl::Ptr<int32_t> w;
  dsl::Ptr<uint8_t> w_scale;
  dsl::Ptr<int32_t> sorted_ids;
  dsl::Ptr<float> sorted_weights;
  dsl::Ptr<int32_t> sorted_experts, num_valid;
  dsl::Ptr<float> bias;
  dsl::Int tokens;
};

/// With shared_mainloop: operands staged in shared memory, mma.sync / MFMA (shared_mainloop.cpp).
template <class OutT>
void stage2_shared_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params);
/// With wgmma on sm_90a: the same staging, multiplied by the two warpgroups (wgmma_mainloop.cpp).
template <class OutT>
void stage2_wgmma_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params);

/// With wgmma_rs on sm_90a: the weights decoded into wgmma's A registers, the activation rows its B
/// operand (wgmma_rs_mainloop.cpp).
template <class OutT>
void stage2_wgmma_rs_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params);
/// wgmma_rs with warp_specialized: a producer warpgroup copies, two consumer warpgroups decode and
/// multiply (wgmma_rs_ws_mainloop.cpp).
template <class OutT>
void stage2_wgmma_rs_ws_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params);

}  // namespace tilejit::kernels::stage2_detail
