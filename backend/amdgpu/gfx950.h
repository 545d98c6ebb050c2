// Factory of the gfx950 (AMDGPU) target backend; internal to backend/llvm.
#pragma once
#include <memory>

namespace tilejit::backend {

class TargetBackend;

/// The gfx950 backend: amdgcn-amd-amdhsa, code object v5, HSACO linked with lld.
std::unique_ptr<TargetBackend> make_gfx950_backend(int opt_level);

}  // namespace tilejit::backend
