// The stage-2 main loop for many rows per expert: operands staged in shared memory.
#pragma once
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// The body of the stage-2 kernel with shared_mainloop (parameters as moe_stage2_kernel's).
template <class OutT>
void stage2_shared_body(const MoeStage2Config& cfg, dsl::Ptr<OutT> out, dsl::Ptr<bf16> a, dsl::Ptr<int32_t> w,
                        dsl::Ptr<uint8_t> w_scale, dsl::Ptr<int32_t> sorted_ids, dsl::Ptr<float> sorted_weights,
                        dsl::Ptr<int32_t> sorted_experts, dsl::Ptr<int32_t> num_valid, dsl::Ptr<float> bias,
                        dsl::Int tokens);

}  // namespace tilejit::kernels::stage2_detail
