// The stage-2 main loop for many rows per expert on sm_90a: operands staged in shared memory in
// wgmma's core-matrix layout, multiplied by the two warpgroups with wgmma.
#pragma once
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// The body of the stage-2 kernel with wgmma on sm_90a (parameters as moe_stage2_kernel's).
template <class OutT>
void stage2_wgmma_body(const MoeStage2Config& cfg, dsl::Ptr<OutT> out, dsl::Ptr<bf16> a, dsl::Ptr<int32_t> w,
                       dsl::Ptr<uint8_t> w_scale, dsl::Ptr<int32_t> sorted_ids, dsl::Ptr<float> sorted_weights,
                       dsl::Ptr<int32_t> sorted_experts, dsl::Ptr<int32_t> num_valid, dsl::Ptr<float> bias,
                       dsl::Int tokens);

}  // namespace tilejit::kernels::stage2_detail
