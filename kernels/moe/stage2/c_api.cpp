// The C ABI of the MoE stage-2 kernel: handles over the C++ API, every exception turned into a status.
#include "kernels/moe/stage2/c_api.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <set>
#include <stdexcept>
#include <string>

#include "backend/emulator/emulator.h"
#include "backend/runtime/select.h"
#include "dsl/error.h"
#include "kernels/moe/host/sorting.h"
#include "kernels/moe/sorting/api.h"
#include "kernels/moe/stage2/api.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/mxfp4/preshuffle.h"

namespace {

constexpr uint32_t kDeviceMagic = 0x7D3E1CE5u;
constexpr uint32_t kStreamMagic = 0x57AEA3E5u;
constexpr uint32_t kStage2Magic = 0x3E2A16F4u;

thread_local std::string last_error;

}  // namespace

struct tilejit_device {
  uint32_t magic = kDeviceMagic;
  tilejit::Device* device = nullptr;
  std::string description;
};

struct tilejit_moe_stage2 {
  explicit tilejit_moe_stage2(const tilejit::kernels::MoeStage2Config& config) : op(config), name(config.kernel_name()) {}
  uint32_t magic = kStage2Magic;
  tilejit::kernels::MoeStage2A16W4 op;
  std::string name;
  tilejit_device* device = nullptr;  // set by a successful compile
};

namespace {

using tilejit::Device;

struct StreamHandle {
  uint32_t magic = kStreamMagic;
  tilejit_device* device = nullptr;
  std::unique_ptr<tilejit::Stream> stream;
};

/// Process-wide state; allocated once and never destroyed (no driver call during static destruction).
struct Registry {
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<tilejit_device>> devices;  // by canonical name
  std::set<const void*> streams;                                    // live stream handles
};
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

[[noreturn]] void invalid(const std::string& message) { throw std::invalid_argument(message); }

int fail(const char* fn, int status, const char* what) noexcept {
  try {
    last_error = fmt::format("{}: {}", fn, what);
  } catch (...) {
    // Out of memory while formatting: keep whatever message was there.
  }
  return status;
}

/// Runs `f`, mapping every exception to a status and the thread's last error.
template <class F>
int guarded(const char* fn, F&& f) noexcept {
  try {
    f();
    return TILEJIT_OK;
  } catch (const tilejit::EmulatorFault& e) {
    return fail(fn, TILEJIT_ERROR_FAULT, e.what());
  } catch (const tilejit::OutOfResources& e) {
    return fail(fn, TILEJIT_ERROR_OUT_OF_RESOURCES, e.what());
  } catch (const tilejit::RuntimeError& e) {
    return fail(fn, TILEJIT_ERROR_RUNTIME, e.what());
  } catch (const tilejit::UserError& e) {
    return fail(fn, TILEJIT_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const tilejit::Error& e) {
    return fail(fn, TILEJIT_ERROR_INTERNAL, e.what());
  } catch (const std::invalid_argument& e) {
    return fail(fn, TILEJIT_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::out_of_range& e) {
    return fail(fn, TILEJIT_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(fn, TILEJIT_ERROR_INTERNAL, "out of host memory");
  } catch (const std::exception& e) {
    return fail(fn, TILEJIT_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(fn, TILEJIT_ERROR_INTERNAL, "unknown exception");
  }
}

template <class T>
void need_out(T* out, const char* name) {
  if (!out) invalid(fmt::format("{} is null", name));
}

tilejit_device* check_device(const tilejit_device* d) {
  if (!d || d->magic != kDeviceMagic) invalid("device is not a handle from tilejit_device_get");
  return const_cast<tilejit_device*>(d);
}

tilejit_moe_stage2* check_op(const tilejit_moe_stage2* op) {
  if (!op || op->magic != kStage2Magic) invalid("op is not a live handle from tilejit_moe_stage2_create");
  return const_cast<tilejit_moe_stage2*>(op);
}

/// The stream behind a `void*` (null stays null); it must be a live handle of `device`.
tilejit::Stream* check_stream(void* stream, const tilejit_device* device) {
  if (!stream) return nullptr;
  {
    std::lock_guard lock(registry().mutex);
    if (!registry().streams.count(stream))
      invalid("stream is not a live handle from tilejit_stream_create (driver streams cannot be passed directly)");
  }
  auto* s = static_cast<StreamHandle*>(stream);
  if (device && s->device != device)
    invalid(fmt::format("stream belongs to device '{}', not '{}'", s->device->description, device->description));
  return s->stream.get();
}

/// The canonical table key of a device name; "default" also covers the name TILEJIT_DEVICE selects.
std::string canonical_device_name(const char* name) {
  std::string n = name ? name : "";
  if (n.empty() || n == "default") return "default";
  static const std::set<std::string> known{"auto", "cuda", "hip", "emulator", "emulator:gfx950", "emulator:sm_90a"};
  if (!known.count(n))
    invalid(fmt::format("unknown device '{}' (expected default, auto, cuda, hip, emulator, emulator:gfx950 or "
                        "emulator:sm_90a)", n));
  const char* env = std::getenv("TILEJIT_DEVICE");
  std::string selected = env && *env ? env : "auto";
  return n == selected ? "default" : n;
}

tilejit_device* get_device(const char* name) {
  const std::string key = canonical_device_name(name);
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.devices.find(key);
  if (it != r.devices.end()) return it->second.get();
  Device* dev = nullptr;
  if (key == "default") {
    dev = &tilejit::default_device();
  } else if (key == "emulator:gfx950" || key == "emulator:sm_90a") {
    tilejit::emulator::Options o;
    o.target = key == "emulator:gfx950" ? tilejit::Target::Gfx950 : tilejit::Target::Sm90a;
    dev = tilejit::emulator::make_emulator_device(o).release();  // lives until the process exits
  } else {
    dev = tilejit::open_device(key).release();  // lives until the process exits
  }
  auto handle = std::make_unique<tilejit_device>();
  handle->device = dev;
  handle->description = fmt::format("{} ({}): {}", tilejit::device_kind_name(dev->kind()),
                                    tilejit::target_info(dev->target()).name, dev->name());
  return r.devices.emplace(key, std::move(handle)).first->second.get();
}

tilejit::kernels::MoeStage2Config to_cpp(const tilejit_moe_stage2_config& c) {
  auto flag = [](int32_t v, const char* name) {
    if (v != 0 && v != 1) invalid(fmt::format("config.{} must be 0 or 1, got {}", name, v));
    return v != 0;
  };
  if (c.out_dtype != TILEJIT_DTYPE_BF16 && c.out_dtype != TILEJIT_DTYPE_F32)
    invalid(fmt::format("config.out_dtype must be TILEJIT_DTYPE_BF16 ({}) or TILEJIT_DTYPE_F32 ({}), got {}",
                        TILEJIT_DTYPE_BF16, TILEJIT_DTYPE_F32, c.out_dtype));
  tilejit::kernels::MoeStage2Config cfg;
  cfg.model_dim = c.model_dim;
  cfg.inter_dim = c.inter_dim;
  cfg.experts = c.experts;
  cfg.topk = c.topk;
  cfg.tile_m = c.tile_m;
  cfg.tile_n = c.tile_n;
  cfg.k_batch = c.k_batch;
  cfg.out_dtype = c.out_dtype == TILEJIT_DTYPE_F32 ? tilejit::kernels::OutDtype::F32 : tilejit::kernels::OutDtype::BF16;
  cfg.has_bias = flag(c.has_bias, "has_bias");
  cfg.doweight = flag(c.doweight, "doweight");
  cfg.accumulate = flag(c.accumulate, "accumulate");
  cfg.token_owner = flag(c.token_owner, "token_owner");
  cfg.validate();
  return cfg;
}

void check_preshuffle_args(const uint8_t* in, uint8_t* out, int64_t E, int64_t N, int64_t K, int64_t bytes) {
  if (!in) invalid("input is null");
  if (!out) invalid("out is null");
  if (E <= 0) invalid(fmt::format("E (= {}) must be positive", E));
  const auto* lo = reinterpret_cast<const uint8_t*>(out);
  if (lo < in + bytes && in < lo + bytes) invalid("out overlaps the input");
}


tilejit::kernels::MoeStage2Args launch_args(const tilejit_moe_stage2* h, const tilejit_moe_stage2_args* args) {
  need_out(args, "args");
  if (!h->device) invalid("the handle is not compiled yet (call tilejit_moe_stage2_compile)");
  tilejit::kernels::MoeStage2Args a;
  a.out = args->out;
  a.a = args->a;
  a.w = args->w;
  a.w_scale = args->w_scale;
  a.sorted_token_ids = args->sorted_token_ids;
  a.sorted_weights = args->sorted_weights;
  a.sorted_expert_ids = args->sorted_expert_ids;
  a.num_valid_ids = args->num_valid_ids;
  a.bias = args->bias;
  a.tokens = args->tokens;
  a.sorted_blocks = args->sorted_blocks;
  a.topk_ids = args->topk_ids;
  a.topk_weights = args->topk_weights;
  return a;
}

/// The C launch entry points: the handle, the args (and for a zeroed launch the config) and the
/// stream checked in that order, then `launch(op, args, stream)`.
template <class Launch>
int launch_through(const char* fn, const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args, void* stream,
                   bool zeroed, Launch launch) {
  return guarded(fn, [&] {
    tilejit_moe_stage2* h = check_op(op);
    const tilejit::kernels::MoeStage2Args a = launch_args(h, args);
    if (zeroed && !h->op.config().accumulate)
      invalid("the config does not accumulate (tilejit_moe_stage2_launch writes every output)");
    launch(h->op, a, check_stream(stream, h->device));
  });
}
}  // namespace

extern "C" {

const char* tilejit_last_error(void) { return last_error.c_str(); }

const char* tilejit_status_string(int status) {
  switch (status) {
    case TILEJIT_OK: return "TILEJIT_OK";
    case TILEJIT_ERROR_INVALID_ARGUMENT: return "TILEJIT_ERROR_INVALID_ARGUMENT";
    case TILEJIT_ERROR_RUNTIME: return "TILEJIT_ERROR_RUNTIME";
    case TILEJIT_ERROR_OUT_OF_RESOURCES: return "TILEJIT_ERROR_OUT_OF_RESOURCES";
    case TILEJIT_ERROR_FAULT: return "TILEJIT_ERROR_FAULT";
    case TILEJIT_ERROR_INTERNAL: return "TILEJIT_ERROR_INTERNAL";
    default: return "unknown status";
  }
}

int tilejit_device_get(const char* name, tilejit_device** out) {
  return guarded("tilejit_device_get", [&] {
    need_out(out, "out");
    *out = get_device(name);
  });
}

int tilejit_device_name(const tilejit_device* device, const char** out) {
  return guarded("tilejit_device_name", [&] {
    need_out(out, "out");
    *out = check_device(device)->description.c_str();
  });
}

int tilejit_device_alloc(tilejit_device* device, size_t bytes, uint64_t* out) {
  return guarded("tilejit_device_alloc", [&] {
    need_out(out, "out");
    tilejit_device* d = check_device(device);
    if (bytes == 0) invalid("bytes must be positive");
    *out = d->device->alloc(bytes);
  });
}

int tilejit_device_free(tilejit_device* device, uint64_t ptr) {
  return guarded("tilejit_device_free", [&] {
    tilejit_device* d = check_device(device);
    if (ptr) d->device->free(ptr);
  });
}

int tilejit_device_copy_to_device(tilejit_device* device, uint64_t dst, const void* src, size_t bytes) {
  return guarded("tilejit_device_copy_to_device", [&] {
    tilejit_device* d = check_device(device);
    if (bytes == 0) return;
    if (!src) invalid("src is null");
    if (!dst) invalid("dst is null");
    d->device->copy_to_device(dst, src, bytes);
  });
}

int tilejit_device_copy_to_host(tilejit_device* device, void* dst, uint64_t src, size_t bytes) {
  return guarded("tilejit_device_copy_to_host", [&] {
    tilejit_device* d = check_device(device);
    if (bytes == 0) return;
    if (!dst) invalid("dst is null");
    if (!src) invalid("src is null");
    d->device->copy_to_host(dst, src, bytes);
  });
}

int tilejit_device_memset(tilejit_device* device, uint64_t dst, int value, size_t bytes) {
  return guarded("tilejit_device_memset", [&] {
    tilejit_device* d = check_device(device);
    if (value < 0 || value > 255) invalid(fmt::format("value (= {}) must be in [0, 255]", value));
    if (bytes == 0) return;
    if (!dst) invalid("dst is null");
    d->device->memset(dst, uint8_t(value), bytes);
  });
}

int tilejit_device_synchronize(tilejit_device* device) {
  return guarded("tilejit_device_synchronize", [&] { check_device(device)->device->synchronize(); });
}

int tilejit_stream_create(tilejit_device* device, void** out) {
  return guarded("tilejit_stream_create", [&] {
    need_out(out, "out");
    tilejit_device* d = check_device(device);
    auto s = std::make_unique<StreamHandle>();
    s->device = d;
    s->stream = d->device->create_stream();
    std::lock_guard lock(registry().mutex);
    registry().streams.insert(s.get());
    *out = s.release();
  });
}

int tilejit_stream_synchronize(void* stream) {
  return guarded("tilejit_stream_synchronize", [&] {
    if (!stream) invalid("stream is null");
    check_stream(stream, nullptr)->synchronize();
  });
}

int tilejit_stream_native(void* stream, void** out) {
  return guarded("tilejit_stream_native", [&] {
    need_out(out, "out");
    if (!stream) invalid("stream is null");
    *out = check_stream(stream, nullptr)->native();
  });
}

int tilejit_stream_destroy(void* stream) {
  return guarded("tilejit_stream_destroy", [&] {
    if (!stream) return;
    check_stream(stream, nullptr);
    {
      std::lock_guard lock(registry().mutex);
      registry().streams.erase(stream);
    }
    auto* s = static_cast<StreamHandle*>(stream);
    s->magic = 0;
    delete s;
  });
}

int tilejit_moe_sorting_capacity(int32_t tokens, int32_t topk, int32_t experts, int32_t block_size, int64_t* max_rows,
                                 int64_t* max_blocks) {
  return guarded("tilejit_moe_sorting_capacity", [&] {
    need_out(max_rows, "max_rows");
    need_out(max_blocks, "max_blocks");
    if (tokens < 0) invalid(fmt::format("tokens (= {}) must not be negative", tokens));
    if (topk < 1) invalid(fmt::format("topk (= {}) must be positive", topk));
    if (experts < 1) invalid(fmt::format("experts (= {}) must be positive", experts));
    if (block_size < 1) invalid(fmt::format("block_size (= {}) must be positive", block_size));
    *max_rows = tilejit::moe::moe_sorting_max_rows(tokens, topk, experts, block_size);
    *max_blocks = tilejit::moe::moe_sorting_max_blocks(tokens, topk, experts, block_size);
  });
}

int tilejit_moe_sorting(tilejit_device* device, uint64_t topk_ids, uint64_t topk_weights, int32_t tokens, int32_t topk,
                        int32_t experts, int32_t block_size, uint64_t sorted_token_ids, uint64_t sorted_weights,
                        uint64_t sorted_expert_ids, uint64_t num_valid_ids, void* stream) {
  return guarded("tilejit_moe_sorting", [&] {
    tilejit_device* d = check_device(device);
    tilejit::kernels::moe_sorting_gpu(*d->device, topk_ids, topk_weights, tokens, topk, experts, block_size,
                                      sorted_token_ids, sorted_weights, sorted_expert_ids, num_valid_ids,
                                      check_stream(stream, d));
  });
}

int tilejit_moe_sorting_zeroing(tilejit_device* device, uint64_t topk_ids, uint64_t topk_weights, int32_t tokens,
                                int32_t topk, int32_t experts, int32_t block_size, uint64_t sorted_token_ids,
                                uint64_t sorted_weights, uint64_t sorted_expert_ids, uint64_t num_valid_ids,
                                uint64_t zero_out, int64_t zero_bytes, void* stream) {
  return guarded("tilejit_moe_sorting_zeroing", [&] {
    tilejit_device* d = check_device(device);
    tilejit::kernels::moe_sorting_gpu(*d->device, topk_ids, topk_weights, tokens, topk, experts, block_size,
                                      sorted_token_ids, sorted_weights, sorted_expert_ids, num_valid_ids,
                                      check_stream(stream, d), {zero_out, zero_bytes});
  });
}

int tilejit_mxfp4_preshuffle_weights(const uint8_t* w, uint8_t* out, int64_t E, int64_t N, int64_t K) {
  return guarded("tilejit_mxfp4_preshuffle_weights", [&] {
    if (N <= 0 || N % 16 || K <= 0 || K % 128)
      invalid(fmt::format("N (= {}) must be a positive multiple of 16 and K (= {}) of 128", N, K));
    const int64_t bytes = E * N * (K / 2);
    check_preshuffle_args(w, out, E, N, K, bytes);
    std::vector<uint8_t> r = tilejit::mxfp4::preshuffle_weights(std::span<const uint8_t>(w, size_t(bytes)), E, N, K);
    std::memcpy(out, r.data(), r.size());
  });
}

int tilejit_mxfp4_preshuffle_scales(const uint8_t* s, uint8_t* out, int64_t E, int64_t N, int64_t K) {
  return guarded("tilejit_mxfp4_preshuffle_scales", [&] {
    if (N <= 0 || N % 32 || K <= 0 || K % 256)
      invalid(fmt::format("N (= {}) must be a positive multiple of 32 and K (= {}) of 256", N, K));
    const int64_t bytes = E * N * (K / 32);
    check_preshuffle_args(s, out, E, N, K, bytes);
    std::vector<uint8_t> r = tilejit::mxfp4::preshuffle_scales(std::span<const uint8_t>(s, size_t(bytes)), E, N, K);
    std::memcpy(out, r.data(), r.size());
  });
}

int tilejit_moe_stage2_config_init(tilejit_moe_stage2_config* config) {
  return guarded("tilejit_moe_stage2_config_init", [&] {
    need_out(config, "config");
    *config = tilejit_moe_stage2_config{};
    config->tile_m = 16;
    config->tile_n = 128;
    config->k_batch = 1;
    config->out_dtype = TILEJIT_DTYPE_BF16;
    config->has_bias = 0;
    config->doweight = 1;
    config->accumulate = 1;
  });
}

int tilejit_moe_stage2_create(const tilejit_moe_stage2_config* config, tilejit_moe_stage2** out) {
  return guarded("tilejit_moe_stage2_create", [&] {
    need_out(out, "out");
    need_out(config, "config");
    *out = new tilejit_moe_stage2(to_cpp(*config));
  });
}

int tilejit_moe_stage2_create_for_tokens(const tilejit_moe_stage2_config* config, int32_t tokens, const char* device,
                                         tilejit_moe_stage2** out) {
  return guarded("tilejit_moe_stage2_create_for_tokens", [&] {
    need_out(out, "out");
    need_out(config, "config");
    if (tokens < 1) invalid(fmt::format("tokens (= {}) must be positive", tokens));
    tilejit_moe_stage2_config shape_only = *config;  // the tiles are chosen: any valid ones for the checks
    shape_only.tile_m = 16;
    shape_only.tile_n = 64;
    shape_only.k_batch = 1;
    shape_only.token_owner = 0;
    const tilejit::kernels::MoeStage2Config c = to_cpp(shape_only);
    tilejit_device* d = get_device(device);
    const tilejit::kernels::MoeStage2Choice choice = tilejit::kernels::choose_moe_stage2(
        tilejit::kernels::default_config_table(), {c.model_dim, c.inter_dim, c.experts, c.topk}, tokens,
        d->device->name(), d->device->compute_units(), {c.out_dtype, c.has_bias, c.doweight, c.accumulate});
    *out = new tilejit_moe_stage2(choice.config);
  });
}

int tilejit_moe_stage2_tile_m(const tilejit_moe_stage2* op, int32_t* out) {
  return guarded("tilejit_moe_stage2_tile_m", [&] {
    need_out(out, "out");
    *out = check_op(op)->op.config().tile_m;
  });
}

int tilejit_moe_stage2_token_owner(const tilejit_moe_stage2* op, int32_t* out) {
  return guarded("tilejit_moe_stage2_token_owner", [&] {
    need_out(out, "out");
    *out = check_op(op)->op.config().token_owner ? 1 : 0;
  });
}

int tilejit_moe_stage2_compile(tilejit_moe_stage2* op, const char* device) {
  return guarded("tilejit_moe_stage2_compile", [&] {
    tilejit_moe_stage2* h = check_op(op);
    tilejit_device* d = get_device(device);
    h->op.compile(*d->device);
    h->device = d;
  });
}

int tilejit_moe_stage2_device(const tilejit_moe_stage2* op, tilejit_device** out) {
  return guarded("tilejit_moe_stage2_device", [&] {
    need_out(out, "out");
    tilejit_moe_stage2* h = check_op(op);
    if (!h->device) invalid("the handle is not compiled yet (call tilejit_moe_stage2_compile)");
    *out = h->device;
  });
}

int tilejit_moe_stage2_kernel_name(const tilejit_moe_stage2* op, const char** out) {
  return guarded("tilejit_moe_stage2_kernel_name", [&] {
    need_out(out, "out");
    *out = check_op(op)->name.c_str();
  });
}



int tilejit_moe_stage2_launch(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args, void* stream) {
  return launch_through("tilejit_moe_stage2_launch", op, args, stream, false,
                        [](const auto& k, const auto& a, auto* s) { k.launch(a, s); });
}

int tilejit_moe_stage2_launch_early(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args, void* stream) {
  return launch_through("tilejit_moe_stage2_launch_early", op, args, stream, false,
                        [](const auto& k, const auto& a, auto* s) { k.launch_early(a, s); });
}

int tilejit_moe_stage2_launch_zeroed(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args, void* stream) {
  return launch_through("tilejit_moe_stage2_launch_zeroed", op, args, stream, true,
                        [](const auto& k, const auto& a, auto* s) { k.launch_zeroed(a, s); });
}

int tilejit_moe_stage2_destroy(tilejit_moe_stage2* op) {
  return guarded("tilejit_moe_stage2_destroy", [&] {
    if (!op) return;
    tilejit_moe_stage2* h = check_op(op);
    h->magic = 0;
    delete h;
  });
}

}  // extern "C"
