// The MoE stage-2 C ABI end to end on the emulator (device memory, sorting, preshuffles, launch), and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <thread>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/moe_host.h"
#include "backend/emulator/emulator.h"
#include "kernels/moe/stage2/c_api.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/mxfp4/preshuffle.h"
#include "tests/common/seeded_rng.h"

extern "C" int tilejit_c_abi_smoke(int32_t model_dim, char* message, size_t size);

namespace tilejit {
namespace {

using testing_support::SeededRng;

#define ASSERT_C_OK(call) ASSERT_EQ((call), TILEJIT_OK) << #call << ": " << tilejit_last_error()

bool contains(const char* s, const std::string& part) { return std::string(s).find(part) != std::string::npos; }

/// Device memory through the C ABI, freed at the end of the scope.
struct DeviceMem {
  tilejit_device* dev;
  uint64_t ptr = 0;
  DeviceMem(tilejit_device* d, size_t bytes) : dev(d) {
    EXPECT_EQ(tilejit_device_alloc(d, bytes, &ptr), TILEJIT_OK) << tilejit_last_error();
  }
  template <class T>
  DeviceMem(tilejit_device* d, const std::vector<T>& v) : DeviceMem(d, v.size() * sizeof(T)) {
    EXPECT_EQ(tilejit_device_copy_to_device(d, ptr, v.data(), v.size() * sizeof(T)), TILEJIT_OK) << tilejit_last_error();
  }
  ~DeviceMem() { EXPECT_EQ(tilejit_device_free(dev, ptr), TILEJIT_OK) << tilejit_last_error(); }
  template <class T>
  std::vector<T> download(size_t count) const {
    std::vector<T> v(count);
    EXPECT_EQ(tilejit_device_copy_to_host(dev, v.data(), ptr, count * sizeof(T)), TILEJIT_OK) << tilejit_last_error();
    return v;
  }
};

/// The defaults of tilejit_moe_stage2_config_init with this shape, tile_n, output type and bias on.
tilejit_moe_stage2_config shape_config(int N, int K, int E, int topk, int tile_n, int out_dtype) {
  tilejit_moe_stage2_config cfg;
  EXPECT_EQ(tilejit_moe_stage2_config_init(&cfg), TILEJIT_OK) << tilejit_last_error();
  cfg.model_dim = N;
  cfg.inter_dim = K;
  cfg.experts = E;
  cfg.topk = topk;
  cfg.tile_n = tile_n;
  cfg.out_dtype = out_dtype;
  cfg.has_bias = 1;
  return cfg;
}

/// The first `n` outputs (f32, or bf16 widened exactly) of a device buffer.
std::vector<double> download_output(const DeviceMem& out, size_t n, bool f32) {
  std::vector<double> got(n);
  if (f32) {
    auto v = out.download<float>(n);
    std::copy(v.begin(), v.end(), got.begin());
  } else {
    auto v = out.download<uint16_t>(n);
    for (size_t i = 0; i < n; ++i) got[i] = ir::bf16_to_f32(v[i]);
  }
  return got;
}

struct CApiRun : ::testing::TestWithParam<std::tuple<const char*, int>> {};

// Sorting on the device, preshuffles on the host, the kernel on a stream: all through the C ABI.
TEST_P(CApiRun, EndToEndMatchesReference) {
  const auto& [device_name, out_dtype] = GetParam();
  SeededRng rng;
  const int tokens = 6, topk = 2, E = 8, N = 128, K = 256;
  const bool f32 = out_dtype == TILEJIT_DTYPE_F32;
  moe::Routing routing = moe::random_routing(*rng, tokens, topk, E, {2, 1.0});
  auto a = moe::random_bf16_normal(*rng, size_t(tokens) * topk * K);
  auto w = moe::random_mxfp4_weights(*rng, E, N, K);
  auto bias = moe::random_f32_normal(*rng, size_t(E) * N);

  tilejit_device* dev = nullptr;
  ASSERT_C_OK(tilejit_device_get(device_name, &dev));
  const char* desc = nullptr;
  ASSERT_C_OK(tilejit_device_name(dev, &desc));
  EXPECT_TRUE(contains(desc, std::string(device_name).substr(9))) << desc;  // "emulator:<target>"
  tilejit_device* again = nullptr;
  ASSERT_C_OK(tilejit_device_get(device_name, &again));
  EXPECT_EQ(again, dev) << "the same name must give the same device";

  const tilejit_moe_stage2_config cfg = shape_config(N, K, E, topk, 64, out_dtype);
  tilejit_moe_stage2* op = nullptr;
  ASSERT_C_OK(tilejit_moe_stage2_create(&cfg, &op));
  ASSERT_C_OK(tilejit_moe_stage2_compile(op, device_name));
  tilejit_device* op_dev = nullptr;
  ASSERT_C_OK(tilejit_moe_stage2_device(op, &op_dev));
  EXPECT_EQ(op_dev, dev);

  std::vector<uint8_t> w_shuf(w.packed.size()), s_shuf(w.scales.size());
  ASSERT_C_OK(tilejit_mxfp4_preshuffle_weights(w.packed.data(), w_shuf.data(), E, N, K));
  ASSERT_C_OK(tilejit_mxfp4_preshuffle_scales(w.scales.data(), s_shuf.data(), E, N, K));
  EXPECT_EQ(w_shuf, mxfp4::preshuffle_weights(w.packed, E, N, K));
  EXPECT_EQ(s_shuf, mxfp4::preshuffle_scales(w.scales, E, N, K));

  int64_t max_rows = 0, max_blocks = 0;
  ASSERT_C_OK(tilejit_moe_sorting_capacity(tokens, topk, E, cfg.tile_m, &max_rows, &max_blocks));
  EXPECT_EQ(max_rows, moe::moe_sorting_max_rows(tokens, topk, E, cfg.tile_m));
  EXPECT_EQ(max_blocks, moe::moe_sorting_max_blocks(tokens, topk, E, cfg.tile_m));

  const size_t out_bytes = size_t(tokens) * N * (f32 ? 4 : 2);
  {
    DeviceMem d_a(dev, a), d_w(dev, w_shuf), d_s(dev, s_shuf), d_bias(dev, bias);
    DeviceMem d_ids(dev, routing.topk_ids), d_wts(dev, routing.topk_weights);
    DeviceMem d_sorted(dev, size_t(max_rows) * 4), d_sorted_w(dev, size_t(max_rows) * 4),
        d_experts(dev, size_t(max_blocks) * 4), d_valid(dev, 8), d_out(dev, out_bytes);
    ASSERT_C_OK(tilejit_device_memset(dev, d_sorted.ptr, 0xA5, size_t(max_rows) * 4));
    ASSERT_C_OK(tilejit_device_memset(dev, d_valid.ptr, 0xA5, 8));
    // The output starts poisoned. bf16: the sorting launch zeroes it (the kernel launched early
    // after it); f32: launch_zeroed does.
    ASSERT_C_OK(tilejit_device_memset(dev, d_out.ptr, 0xFF, out_bytes));

    void* stream = nullptr;
    ASSERT_C_OK(tilejit_stream_create(dev, &stream));
    void* native = reinterpret_cast<void*>(1);
    ASSERT_C_OK(tilejit_stream_native(stream, &native));
    EXPECT_EQ(native, nullptr) << "the emulator has no driver stream";
    if (f32)
      ASSERT_C_OK(tilejit_moe_sorting(dev, d_ids.ptr, d_wts.ptr, tokens, topk, E, cfg.tile_m, d_sorted.ptr,
                                      d_sorted_w.ptr, d_experts.ptr, d_valid.ptr, stream));
    else
      ASSERT_C_OK(tilejit_moe_sorting_zeroing(dev, d_ids.ptr, d_wts.ptr, tokens, topk, E, cfg.tile_m, d_sorted.ptr,
                                              d_sorted_w.ptr, d_experts.ptr, d_valid.ptr, d_out.ptr,
                                              int64_t(out_bytes), stream));
    tilejit_moe_stage2_args args{};
    args.out = d_out.ptr;
    args.a = d_a.ptr;
    args.w = d_w.ptr;
    args.w_scale = d_s.ptr;
    args.sorted_token_ids = d_sorted.ptr;
    args.sorted_weights = d_sorted_w.ptr;
    args.sorted_expert_ids = d_experts.ptr;
    args.num_valid_ids = d_valid.ptr;
    args.bias = d_bias.ptr;
    args.tokens = tokens;
    args.sorted_blocks = int32_t(max_blocks);
    if (f32) ASSERT_C_OK(tilejit_moe_stage2_launch_zeroed(op, &args, stream));
    else ASSERT_C_OK(tilejit_moe_stage2_launch_early(op, &args, stream));
    ASSERT_C_OK(tilejit_stream_synchronize(stream));
    ASSERT_C_OK(tilejit_stream_destroy(stream));

    // The device sorting agrees with the host sorting on the valid prefix.
    const moe::SortedRouting want = moe::moe_sorting(routing.topk_ids, routing.topk_weights, tokens, topk, E, cfg.tile_m);
    auto valid = d_valid.download<int32_t>(2);
    ASSERT_EQ(valid[0], want.num_valid_ids[0]);
    ASSERT_EQ(valid[1], tokens);
    auto sorted = d_sorted.download<int32_t>(size_t(max_rows));
    for (int i = 0; i < valid[0]; ++i) ASSERT_EQ(sorted[size_t(i)], want.sorted_token_ids[size_t(i)]) << i;

    moe::Stage2Inputs in{a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights};
    moe::Stage2Result ref = moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {true, true, moe::OutputType::f32});
    const std::vector<double> got = download_output(d_out, size_t(tokens) * N, f32);
    double num = 0, den = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_TRUE(std::isfinite(got[i])) << i;
      num += (got[i] - ref.exact[i]) * (got[i] - ref.exact[i]);
      den += ref.exact[i] * ref.exact[i];
    }
    ASSERT_GT(den, 0.0);
    EXPECT_LT(std::sqrt(num / den), f32 ? 1e-4 : 1e-2) << "relative L2 error";
  }
  ASSERT_C_OK(tilejit_moe_stage2_destroy(op));
}

void expect_error(int status, int want, std::initializer_list<std::string> parts);

// A token-owner handle through the C ABI: it reads topk_ids / topk_weights (no sorting) and its
// zeroed launch overwrites a poisoned output by itself.
TEST_P(CApiRun, TokenOwnerReadsTheRoutingAsWritten) {
  const auto& [device_name, out_dtype] = GetParam();
  SeededRng rng;
  const int tokens = 3, topk = 4, E = 8, N = 96, K = 512;
  const bool f32 = out_dtype == TILEJIT_DTYPE_F32;
  moe::Routing routing = moe::random_routing(*rng, tokens, topk, E);
  auto a = moe::random_bf16_normal(*rng, size_t(tokens) * topk * K);
  auto w = moe::random_mxfp4_weights(*rng, E, N, K);
  auto bias = moe::random_f32_normal(*rng, size_t(E) * N);
  tilejit_device* dev = nullptr;
  ASSERT_C_OK(tilejit_device_get(device_name, &dev));
  tilejit_moe_stage2_config cfg = shape_config(N, K, E, topk, 32, out_dtype);
  EXPECT_EQ(cfg.token_owner, 0);
  cfg.token_owner = 1;
  tilejit_moe_stage2* op = nullptr;
  ASSERT_C_OK(tilejit_moe_stage2_create(&cfg, &op));
  int32_t owner = 0;
  ASSERT_C_OK(tilejit_moe_stage2_token_owner(op, &owner));
  EXPECT_EQ(owner, 1);
  ASSERT_C_OK(tilejit_moe_stage2_compile(op, device_name));
  std::vector<uint8_t> w_shuf(w.packed.size()), s_shuf(w.scales.size());
  ASSERT_C_OK(tilejit_mxfp4_preshuffle_weights(w.packed.data(), w_shuf.data(), E, N, K));
  ASSERT_C_OK(tilejit_mxfp4_preshuffle_scales(w.scales.data(), s_shuf.data(), E, N, K));
  const size_t out_bytes = size_t(tokens) * N * (f32 ? 4 : 2);
  DeviceMem d_a(dev, a), d_w(dev, w_shuf), d_s(dev, s_shuf), d_bias(dev, bias);
  DeviceMem d_ids(dev, routing.topk_ids), d_wts(dev, routing.topk_weights), d_out(dev, out_bytes);
  ASSERT_C_OK(tilejit_device_memset(dev, d_out.ptr, 0xFF, out_bytes));
  tilejit_moe_stage2_args args{};
  args.out = d_out.ptr;
  args.a = d_a.ptr;
  args.w = d_w.ptr;
  args.w_scale = d_s.ptr;
  args.bias = d_bias.ptr;
  args.tokens = tokens;
  args.topk_ids = d_ids.ptr;
  args.topk_weights = d_wts.ptr;
  ASSERT_C_OK(tilejit_moe_stage2_launch_zeroed(op, &args, nullptr));
  ASSERT_C_OK(tilejit_device_synchronize(dev));
  moe::Stage2Inputs in{a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights};
  moe::Stage2Result ref = moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {true, true, moe::OutputType::f32});
  const std::vector<double> out = download_output(d_out, ref.exact.size(), f32);
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.exact.size(); ++i) {
    const double got = out[i];
    ASSERT_TRUE(std::isfinite(got)) << i;
    num += (got - ref.exact[i]) * (got - ref.exact[i]);
    den += ref.exact[i] * ref.exact[i];
  }
  EXPECT_LT(std::sqrt(num / den), f32 ? 1e-5 : 1e-2) << "relative L2 error";
  args.topk_ids = 0;
  expect_error(tilejit_moe_stage2_launch(op, &args, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"topk_ids is null"});
  ASSERT_C_OK(tilejit_moe_stage2_destroy(op));
}

INSTANTIATE_TEST_SUITE_P(Devices, CApiRun,
                         ::testing::Combine(::testing::Values("emulator:gfx950", "emulator:sm_90a"),
                                            ::testing::Values(TILEJIT_DTYPE_BF16, TILEJIT_DTYPE_F32)),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param);
                           return n.substr(9) + (std::get<1>(info.param) == TILEJIT_DTYPE_F32 ? "_f32" : "_bf16");
                         });

/// Expects `status` and a last error naming every part.
void expect_error(int status, int want, std::initializer_list<std::string> parts) {
  EXPECT_EQ(status, want) << tilejit_status_string(status) << ": " << tilejit_last_error();
  for (const auto& p : parts) EXPECT_TRUE(contains(tilejit_last_error(), p)) << "'" << p << "' not in: " << tilejit_last_error();
}

TEST(CApiErrors, ConfigAndHandles) {
  tilejit_moe_stage2_config cfg;
  ASSERT_C_OK(tilejit_moe_stage2_config_init(&cfg));
  EXPECT_EQ(cfg.tile_m, 16);
  EXPECT_EQ(cfg.accumulate, 1);
  cfg.model_dim = 100;
  cfg.inter_dim = 256;
  cfg.experts = 4;
  cfg.topk = 2;
  tilejit_moe_stage2* op = nullptr;
  expect_error(tilejit_moe_stage2_create(&cfg, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"tilejit_moe_stage2_create", "model_dim"});
  EXPECT_EQ(op, nullptr);
  cfg.model_dim = 64;
  cfg.out_dtype = 7;
  expect_error(tilejit_moe_stage2_create(&cfg, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"out_dtype"});
  cfg.out_dtype = TILEJIT_DTYPE_F32;
  cfg.doweight = 2;
  expect_error(tilejit_moe_stage2_create(&cfg, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"doweight"});
  cfg.doweight = 1;
  // Zero split-K slices: an error naming the field, not a division by zero.
  cfg.k_batch = 0;
  expect_error(tilejit_moe_stage2_create(&cfg, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"k_batch 0"});
  cfg.k_batch = 1;
  expect_error(tilejit_moe_stage2_create(nullptr, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"config is null"});
  expect_error(tilejit_moe_stage2_create(&cfg, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"out is null"});

  ASSERT_C_OK(tilejit_moe_stage2_create(&cfg, &op));
  const char* name = nullptr;
  ASSERT_C_OK(tilejit_moe_stage2_kernel_name(op, &name));
  EXPECT_TRUE(contains(name, "moe_stage2_a16w4_n64_k256_e4_t2")) << name;
  tilejit_moe_stage2_args args{};
  expect_error(tilejit_moe_stage2_launch(op, &args, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"not compiled"});
  tilejit_device* dev = nullptr;
  expect_error(tilejit_moe_stage2_device(op, &dev), TILEJIT_ERROR_INVALID_ARGUMENT, {"not compiled"});
  expect_error(tilejit_moe_stage2_compile(op, "tpu"), TILEJIT_ERROR_INVALID_ARGUMENT, {"unknown device 'tpu'"});
  ASSERT_C_OK(tilejit_moe_stage2_compile(op, "emulator:gfx950"));
  expect_error(tilejit_moe_stage2_launch(op, &args, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"out is null"});
  int not_a_stream = 0;
  args.out = args.a = args.w = args.w_scale = args.sorted_token_ids = args.sorted_weights = 4096;
  args.sorted_expert_ids = args.num_valid_ids = 4096;
  args.sorted_blocks = 1;
  // 32-bit row offsets: tokens x topk x max(N, K) must stay below 2^31 (here 2^22 x 2 x 256 = 2^31).
  args.tokens = 1 << 22;
  expect_error(tilejit_moe_stage2_launch(op, &args, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"exceed 32-bit offsets", "at most 4194303 tokens"});
  args.tokens = 1;
  expect_error(tilejit_moe_stage2_launch(op, &args, &not_a_stream), TILEJIT_ERROR_INVALID_ARGUMENT, {"tilejit_stream_create"});
  // A stream of another device is refused.
  tilejit_device* other = nullptr;
  ASSERT_C_OK(tilejit_device_get("emulator:sm_90a", &other));
  void* stream = nullptr;
  ASSERT_C_OK(tilejit_stream_create(other, &stream));
  expect_error(tilejit_moe_stage2_launch(op, &args, stream), TILEJIT_ERROR_INVALID_ARGUMENT, {"stream belongs to device"});
  ASSERT_C_OK(tilejit_stream_destroy(stream));
  expect_error(tilejit_stream_synchronize(stream), TILEJIT_ERROR_INVALID_ARGUMENT, {"not a live handle"});
  // launch_zeroed needs an accumulating config.
  cfg.accumulate = 0;
  tilejit_moe_stage2* plain = nullptr;
  ASSERT_C_OK(tilejit_moe_stage2_create(&cfg, &plain));
  ASSERT_C_OK(tilejit_moe_stage2_compile(plain, "emulator:gfx950"));
  expect_error(tilejit_moe_stage2_launch_zeroed(plain, &args, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"tilejit_moe_stage2_launch_zeroed", "does not accumulate"});
  ASSERT_C_OK(tilejit_moe_stage2_destroy(plain));
  cfg.accumulate = 1;
  ASSERT_C_OK(tilejit_moe_stage2_destroy(op));
  ASSERT_C_OK(tilejit_moe_stage2_destroy(nullptr));
  ASSERT_C_OK(tilejit_stream_destroy(nullptr));
  uint32_t garbage[4] = {1, 2, 3, 4};
  expect_error(tilejit_moe_stage2_kernel_name(reinterpret_cast<tilejit_moe_stage2*>(garbage), &name),
               TILEJIT_ERROR_INVALID_ARGUMENT, {"not a live handle"});
  expect_error(tilejit_device_alloc(reinterpret_cast<tilejit_device*>(garbage), 16, &args.out),
               TILEJIT_ERROR_INVALID_ARGUMENT, {"tilejit_device_get"});
}

// tilejit_moe_stage2_create_for_tokens takes the tiles from the chooser (the built-in table has no
// emulator rows: the heuristic), the shape and epilogue from the config.
TEST(CApiChoose, CreateForTokensUsesTheChooser) {
  tilejit_moe_stage2_config cfg;
  ASSERT_C_OK(tilejit_moe_stage2_config_init(&cfg));
  cfg.model_dim = 3072;
  cfg.inter_dim = 3072;
  cfg.experts = 128;
  cfg.topk = 4;
  cfg.has_bias = 1;
  cfg.tile_n = 96;  // ignored: not a valid tile_n, and no error
  auto emu = tilejit::emulator::make_emulator_device({.target = tilejit::Target::Sm90a});
  for (int tokens : {1, 7, 1024}) {
    SCOPED_TRACE(tokens);
    tilejit_moe_stage2* op = nullptr;
    ASSERT_C_OK(tilejit_moe_stage2_create_for_tokens(&cfg, tokens, "emulator:sm_90a", &op));
    tilejit::kernels::MoeStage2Epilogue epi;
    epi.has_bias = true;
    const tilejit::kernels::MoeStage2Choice want = tilejit::kernels::choose_moe_stage2(
        tilejit::kernels::default_config_table(), {3072, 3072, 128, 4}, tokens, emu->name(), emu->compute_units(), epi);
    const char* name = nullptr;
    ASSERT_C_OK(tilejit_moe_stage2_kernel_name(op, &name));
    EXPECT_EQ(std::string(name), want.config.kernel_name());
    int32_t tile_m = 0;
    ASSERT_C_OK(tilejit_moe_stage2_tile_m(op, &tile_m));
    EXPECT_EQ(tile_m, want.config.tile_m);
    EXPECT_EQ(tile_m, tokens == 1024 ? 32 : 16);  // the heuristic: many rows per expert at 1024 tokens
    ASSERT_C_OK(tilejit_moe_stage2_destroy(op));
  }
  tilejit_moe_stage2* op = nullptr;
  expect_error(tilejit_moe_stage2_create_for_tokens(&cfg, 0, nullptr, &op), TILEJIT_ERROR_INVALID_ARGUMENT, {"tokens"});
  expect_error(tilejit_moe_stage2_create_for_tokens(nullptr, 1, nullptr, &op), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"config is null"});
  cfg.inter_dim = 100;
  expect_error(tilejit_moe_stage2_create_for_tokens(&cfg, 1, nullptr, &op), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"inter_dim"});
  expect_error(tilejit_moe_stage2_tile_m(nullptr, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"out is null"});
  EXPECT_EQ(op, nullptr);
}

TEST(CApiErrors, DevicesMemoryAndSorting) {
  tilejit_device* dev = nullptr;
  expect_error(tilejit_device_get("tpu", &dev), TILEJIT_ERROR_INVALID_ARGUMENT, {"tilejit_device_get", "unknown device"});
  ASSERT_C_OK(tilejit_device_get("emulator:sm_90a", &dev));
  uint64_t p = 0;
  expect_error(tilejit_device_alloc(dev, 0, &p), TILEJIT_ERROR_INVALID_ARGUMENT, {"bytes"});
  expect_error(tilejit_device_alloc(dev, 16, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT, {"out is null"});
  expect_error(tilejit_device_memset(dev, 4096, 300, 4), TILEJIT_ERROR_INVALID_ARGUMENT, {"value"});
  expect_error(tilejit_device_copy_to_device(dev, 0, &p, 8), TILEJIT_ERROR_INVALID_ARGUMENT, {"dst is null"});
  int64_t rows = 0, blocks = 0;
  expect_error(tilejit_moe_sorting_capacity(1, 1, 4, 0, &rows, &blocks), TILEJIT_ERROR_INVALID_ARGUMENT, {"block_size"});
  ASSERT_C_OK(tilejit_device_alloc(dev, 256, &p));
  expect_error(tilejit_moe_sorting(dev, p, p, 4, 9, 8, 16, p, p, p, p, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"tilejit_moe_sorting", "topk"});
  expect_error(tilejit_moe_sorting(dev, p, p, 4, 2, 8, 16, 0, p, p, p, nullptr), TILEJIT_ERROR_INVALID_ARGUMENT,
               {"sorted_token_ids", "null"});
  expect_error(tilejit_moe_sorting_zeroing(dev, p, p, 4, 2, 8, 16, p, p, p, p, p, 24, nullptr),
               TILEJIT_ERROR_INVALID_ARGUMENT, {"tilejit_moe_sorting_zeroing", "multiple of 16"});
  ASSERT_C_OK(tilejit_device_free(dev, p));
  std::vector<uint8_t> in(64 * 128), out(in.size());
  expect_error(tilejit_mxfp4_preshuffle_weights(in.data(), out.data(), 1, 60, 256), TILEJIT_ERROR_INVALID_ARGUMENT, {"N (= 60)"});
  expect_error(tilejit_mxfp4_preshuffle_weights(in.data(), in.data(), 1, 64, 256), TILEJIT_ERROR_INVALID_ARGUMENT, {"overlaps"});
  expect_error(tilejit_mxfp4_preshuffle_scales(nullptr, out.data(), 1, 64, 256), TILEJIT_ERROR_INVALID_ARGUMENT, {"null"});
  EXPECT_STREQ(tilejit_status_string(TILEJIT_ERROR_FAULT), "TILEJIT_ERROR_FAULT");
  EXPECT_STREQ(tilejit_status_string(42), "unknown status");
}

// The last error is per thread: a failure on another thread leaves this thread's message alone.
TEST(CApiErrors, LastErrorIsThreadLocal) {
  tilejit_device* dev = nullptr;
  expect_error(tilejit_device_get("first-thread-device", &dev), TILEJIT_ERROR_INVALID_ARGUMENT, {"first-thread-device"});
  std::string other;
  std::thread([&] {
    other = tilejit_last_error();  // empty on a fresh thread
    tilejit_device* d = nullptr;
    tilejit_device_get("second-thread-device", &d);
    other += "|" + std::string(tilejit_last_error());
  }).join();
  EXPECT_TRUE(other.rfind("|", 0) == 0) << other;
  EXPECT_TRUE(contains(other.c_str(), "second-thread-device")) << other;
  EXPECT_TRUE(contains(tilejit_last_error(), "first-thread-device")) << tilejit_last_error();
}

// The header is plain C: a C translation unit creates, names and destroys a handle.
TEST(CApiFromC, PlainCCaller) {
  char message[256] = {0};
  EXPECT_EQ(tilejit_c_abi_smoke(128, message, sizeof message), 0) << message;
  EXPECT_TRUE(contains(message, "moe_stage2_a16w4_n128_k256_e4_t2")) << message;
}

}  // namespace
}  // namespace tilejit
