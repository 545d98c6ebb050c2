// The GEMM kernel names are their trace keys (KernelOptions::trace_key) and define_once keys: every
// config field must change the name, or a warm start would load the code of another config.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "kernels/gemm/a16w4_kernel.h"
#include "kernels/gemm/bf16_kernel.h"
#include "kernels/gemm/config.h"

namespace tilejit::kernels {
namespace {

// A new field must be added to the mutations below (and to kernel_name()).
static_assert(sizeof(BF16GemmConfig) == 20, "BF16GemmConfig changed: cover the new field in this test");
static_assert(sizeof(A16W4GemmConfig) == 20, "A16W4GemmConfig changed: cover the new field in this test");

template <class Config>
void expect_every_field_named(const Config& base, const std::vector<std::pair<const char*, std::function<void(Config&)>>>& mutations,
                              const std::function<KernelDef(const Config&)>& define) {
  base.validate();
  for (const auto& [field, apply] : mutations) {
    Config c = base;
    apply(c);
    c.validate();
    EXPECT_NE(c.kernel_name(), base.kernel_name()) << field;
    EXPECT_EQ(define(c).options().trace_key, c.kernel_name()) << field;
  }
}

TEST(GemmName, EveryBf16FieldChangesTheName) {
  BF16GemmConfig base;  // 128 x 128 x 32, f32 out, stages per target
  expect_every_field_named<BF16GemmConfig>(base,
                                           {{"tile_m", [](BF16GemmConfig& c) { c.tile_m = 64; }},
                                            {"tile_n", [](BF16GemmConfig& c) { c.tile_n = 256; }},
                                            {"tile_k", [](BF16GemmConfig& c) { c.tile_k = 64; }},
                                            {"out", [](BF16GemmConfig& c) { c.out = GemmOut::BF16; }},
                                            {"stages", [](BF16GemmConfig& c) { c.stages = 3; }}},
                                           bf16_gemm_kernel);
}

TEST(GemmName, EveryA16W4FieldChangesTheName) {
  A16W4GemmConfig base;  // 16 x 128, bf16 out
  expect_every_field_named<A16W4GemmConfig>(base,
                                            {{"tile_m", [](A16W4GemmConfig& c) { c.tile_m = 32; }},
                                             {"tile_n", [](A16W4GemmConfig& c) { c.tile_n = 64; }},
                                             {"out", [](A16W4GemmConfig& c) { c.out = GemmOut::F32; }},
                                             {"k_split", [](A16W4GemmConfig& c) { c.k_split = 2; }},
                                             {"unroll", [](A16W4GemmConfig& c) { c.unroll = 2; }}},
                                            a16w4_gemm_kernel);
}

}  // namespace
}  // namespace tilejit::kernels
