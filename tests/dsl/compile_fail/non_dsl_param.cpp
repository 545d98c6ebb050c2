// Must not compile: a kernel parameter that is not a DSL type (checked by tests/dsl/CMakeLists.txt).
#include "dsl/tilejit.h"

static auto bad = tilejit::kernel("non_dsl_param", [](float* p) { (void)p; });
