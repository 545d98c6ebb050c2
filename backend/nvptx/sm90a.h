// Factory of the sm_90a (NVPTX) target backend; internal to backend/llvm.
#pragma once
#include <memory>

namespace tilejit::backend {

class TargetBackend;

/// The sm_90a backend: nvptx64-nvidia-cuda, PTX ISA 8.0 text.
std::unique_ptr<TargetBackend> make_sm90a_backend(int opt_level);

}  // namespace tilejit::backend
