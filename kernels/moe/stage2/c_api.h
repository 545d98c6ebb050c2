/* The C ABI of the MoE stage-2 A16W4 kernel (with device memory, streams, MoE sorting and the
 * MXFP4 preshuffles), for engines written in other languages. Plain C: no C++ types cross it,
 * no function throws; every function returns a status (TILEJIT_OK on success) and a failing
 * call leaves its message in tilejit_last_error(). */
#ifndef TILEJIT_KERNELS_MOE_STAGE2_C_API_H
#define TILEJIT_KERNELS_MOE_STAGE2_C_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define TILEJIT_C_API
#else
#define TILEJIT_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes */
#define TILEJIT_OK 0
#define TILEJIT_ERROR_INVALID_ARGUMENT 1 /**< a bad argument, handle, config or shape */
#define TILEJIT_ERROR_RUNTIME 2          /**< a driver or device failure, or no such device */
#define TILEJIT_ERROR_OUT_OF_RESOURCES 3 /**< the kernel needs more than the device has */
#define TILEJIT_ERROR_FAULT 4            /**< the emulator found an out-of-bounds access or similar fault */
#define TILEJIT_ERROR_INTERNAL 5         /**< a bug inside tilejit, out of host memory, anything else */

/* ---- output element types (tilejit_moe_stage2_config.out_dtype) */
#define TILEJIT_DTYPE_BF16 0
#define TILEJIT_DTYPE_F32 1

/** A device: borrowed from a process-wide table, valid until the process exits (never freed). */
typedef struct tilejit_device tilejit_device;
/** One compiled MoE stage-2 variant (create, compile, launch, destroy). */
typedef struct tilejit_moe_stage2 tilejit_moe_stage2;

/** One stage-2 variant; the fields of tilejit::kernels::MoeStage2Config (booleans are 0 or 1). */
typedef struct tilejit_moe_stage2_config {
  int32_t model_dim;  /**< N: output columns, a positive multiple of 32 */
  int32_t inter_dim;  /**< K: contraction, a positive multiple of 256 */
  int32_t experts;    /**< E */
  int32_t topk;       /**< routed experts per token, 1..min(E, 127) */
  int32_t tile_m;     /**< 16, 32, 64 or (shared main loop) 96 or 128 rows per block (= the MoE sorting block size) */
  int32_t tile_n;     /**< 64, 128, 256 or 512 columns per block (tile_m * tile_n <= 8192); token_owner: 16..128 */
  int32_t k_batch;    /**< split-K slices; inter_dim / k_batch a multiple of 128 */
  int32_t out_dtype;  /**< TILEJIT_DTYPE_BF16 or TILEJIT_DTYPE_F32 */
  int32_t has_bias;   /**< add bias[e, n] (f32) once, before the routing weight */
  int32_t doweight;   /**< multiply by the routing weight */
  int32_t accumulate; /**< 1: atomically add into out[tokens, N] (zeroed by the caller); 0: store out[tokens*topk, N] */
  int32_t token_owner; /**< 1: a block owns tile_n (16, 32, 64 or 128) columns of one token's row: reads topk_ids /
                            topk_weights, no sorting, no zeroing, no atomics (tile_m 16, k_batch 1, accumulate 1) */
} tilejit_moe_stage2_config;

/** Device addresses (on the handle's device) and sizes of one stage-2 launch. */
typedef struct tilejit_moe_stage2_args {
  uint64_t out;               /**< bf16 or f32: [tokens, N] (accumulate) or [tokens*topk, N] */
  uint64_t a;                 /**< bf16 [tokens*topk, K], row t*topk + s, 16-byte aligned */
  uint64_t w;                 /**< preshuffled MXFP4 weights [E, N, K/2] (tilejit_mxfp4_preshuffle_weights), 16-byte aligned */
  uint64_t w_scale;           /**< preshuffled E8M0 scales [E*N, K/32] (tilejit_mxfp4_preshuffle_scales) */
  uint64_t sorted_token_ids;  /**< i32, from tilejit_moe_sorting with block_size = tile_m */
  uint64_t sorted_weights;    /**< f32, aligned with sorted_token_ids */
  uint64_t sorted_expert_ids; /**< i32, one per block of tile_m rows */
  uint64_t num_valid_ids;     /**< i32[2] */
  uint64_t bias;              /**< f32 [E, N]; required iff has_bias, else 0 */
  int32_t tokens;             /**< 1 .. 2^24-1 */
  int32_t sorted_blocks;      /**< blocks in the sorted buffers (max_blocks of tilejit_moe_sorting_capacity) */
  /* A token-owner handle (tilejit_moe_stage2_token_owner) reads the routing as the router wrote it
   * and ignores the four sorted buffers and sorted_blocks (others ignore these two): */
  uint64_t topk_ids;          /**< i32 [tokens, topk]; ids outside [0, E) route nothing */
  uint64_t topk_weights;      /**< f32 [tokens, topk] */
} tilejit_moe_stage2_args;

/* ---- errors */

/** The message of the most recent failed call on this thread ("" if none); successful calls do not
 *  clear it. The string stays valid until the next failing call on this thread. */
TILEJIT_C_API const char* tilejit_last_error(void);
/** A constant name for a status code ("TILEJIT_OK", ...; "unknown status" otherwise). */
TILEJIT_C_API const char* tilejit_status_string(int status);

/* ---- devices and memory */

/** The process-wide device named `name`: NULL, "" or "default" is the default device (the one
 *  TILEJIT_DEVICE selects, default "auto"); "auto", "cuda", "hip", "emulator" (target from
 *  TILEJIT_EMULATOR_TARGET), "emulator:gfx950" or "emulator:sm_90a" open that device on first use.
 *  The same name always gives the same device, so memory allocated through one handle can be
 *  used by every kernel compiled for that name. */
TILEJIT_C_API int tilejit_device_get(const char* name, tilejit_device** out);
/** A description of the device ("<kind> (<target>): <name>"), valid as long as the device. */
TILEJIT_C_API int tilejit_device_name(const tilejit_device* device, const char** out);
/** Allocates `bytes` (> 0) of device memory; *out receives its address. */
TILEJIT_C_API int tilejit_device_alloc(tilejit_device* device, size_t bytes, uint64_t* out);
/** Frees memory from tilejit_device_alloc (0 is accepted and ignored). */
TILEJIT_C_API int tilejit_device_free(tilejit_device* device, uint64_t ptr);
/** Copies `bytes` from host memory to device address `dst` (synchronous). */
TILEJIT_C_API int tilejit_device_copy_to_device(tilejit_device* device, uint64_t dst, const void* src, size_t bytes);
/** Copies `bytes` from device address `src` to host memory (synchronous). */
TILEJIT_C_API int tilejit_device_copy_to_host(tilejit_device* device, void* dst, uint64_t src, size_t bytes);
/** Sets `bytes` bytes at `dst` to `value` (0..255). */
TILEJIT_C_API int tilejit_device_memset(tilejit_device* device, uint64_t dst, int value, size_t bytes);
/** Waits for all work on the device. */
TILEJIT_C_API int tilejit_device_synchronize(tilejit_device* device);

/* ---- streams: `void* stream` arguments take a handle from tilejit_stream_create, or NULL for the
 * device's default stream. (A driver's own CUstream / hipStream_t cannot be passed yet.) */

/** Creates a stream on `device`; *out receives its handle. */
TILEJIT_C_API int tilejit_stream_create(tilejit_device* device, void** out);
/** Waits for the work queued on the stream. */
TILEJIT_C_API int tilejit_stream_synchronize(void* stream);
/** The driver's handle of the stream (CUstream / hipStream_t; NULL on the emulator), for interop. */
TILEJIT_C_API int tilejit_stream_native(void* stream, void** out);
/** Destroys a stream from tilejit_stream_create (NULL is accepted and ignored). */
TILEJIT_C_API int tilejit_stream_destroy(void* stream);

/* ---- MoE sorting (block_size = the stage-2 tile_m) */

/** Capacities of the sorting outputs: max_rows = tokens*topk + experts*block_size - topk entries of
 *  sorted_token_ids and sorted_weights, max_blocks = ceil(max_rows / block_size) of sorted_expert_ids. */
TILEJIT_C_API int tilejit_moe_sorting_capacity(int32_t tokens, int32_t topk, int32_t experts, int32_t block_size,
                                               int64_t* max_rows, int64_t* max_blocks);
/** MoE sorting on the device (tilejit::kernels::moe_sorting_gpu): topk_ids (i32) and topk_weights
 *  (f32) [tokens, topk] in; sorted_token_ids (`token | slot << 24`), sorted_weights,
 *  sorted_expert_ids and num_valid_ids (i32[2]) out, sized by tilejit_moe_sorting_capacity.
 *  Asynchronous on `stream`. */
TILEJIT_C_API int tilejit_moe_sorting(tilejit_device* device, uint64_t topk_ids, uint64_t topk_weights, int32_t tokens,
                                      int32_t topk, int32_t experts, int32_t block_size, uint64_t sorted_token_ids,
                                      uint64_t sorted_weights, uint64_t sorted_expert_ids, uint64_t num_valid_ids,
                                      void* stream);
/** tilejit_moe_sorting that also zeroes `zero_bytes` (a multiple of 16, at most 2^31) from `zero_out`
 *  (16-byte aligned) in the same launch: pass the stage-2 output and skip its memset. One workgroup
 *  writes it, so it suits decode-sized outputs. */
TILEJIT_C_API int tilejit_moe_sorting_zeroing(tilejit_device* device, uint64_t topk_ids, uint64_t topk_weights,
                                              int32_t tokens, int32_t topk, int32_t experts, int32_t block_size,
                                              uint64_t sorted_token_ids, uint64_t sorted_weights,
                                              uint64_t sorted_expert_ids, uint64_t num_valid_ids, uint64_t zero_out,
                                              int64_t zero_bytes, void* stream);

/* ---- MXFP4 preshuffles (host memory; the stage-2 layouts of the contract) */

/** Weights: `w` is [E, N, K/2] packed bytes (low nibble = even K), row-major; `out` receives the
 *  preshuffled E*N*K/2 bytes (it must not overlap `w`). N % 16 == 0, K % 128 == 0. */
TILEJIT_C_API int tilejit_mxfp4_preshuffle_weights(const uint8_t* w, uint8_t* out, int64_t E, int64_t N, int64_t K);
/** Scales: `s` is [E*N, K/32] E8M0 bytes, row-major; `out` receives the preshuffled E*N*K/32 bytes.
 *  N % 32 == 0, K % 256 == 0. */
TILEJIT_C_API int tilejit_mxfp4_preshuffle_scales(const uint8_t* s, uint8_t* out, int64_t E, int64_t N, int64_t K);

/* ---- the stage-2 kernel */

/** Fills `config` with defaults: shape fields 0, tile_m 16, tile_n 128, k_batch 1, bf16 output,
 *  no bias, doweight 1, accumulate 1, token_owner 0. */
TILEJIT_C_API int tilejit_moe_stage2_config_init(tilejit_moe_stage2_config* config);
/** Checks the config and creates a handle (not yet compiled). */
TILEJIT_C_API int tilejit_moe_stage2_create(const tilejit_moe_stage2_config* config, tilejit_moe_stage2** out);
/** Creates a handle whose tiles come from the config table for `tokens` tokens on the device named
 *  `device` (see tilejit_device_get; NULL = the default device): TILEJIT_MOE_CONFIGS or the built-in
 *  table tuned on the H100 / H200, else the heuristic (tilejit::kernels::choose_moe_stage2). The
 *  shape and epilogue fields of `config` are used; its tile_m, tile_n and k_batch are ignored. Not
 *  yet compiled. Sort with block_size = tilejit_moe_stage2_tile_m of the handle. */
TILEJIT_C_API int tilejit_moe_stage2_create_for_tokens(const tilejit_moe_stage2_config* config, int32_t tokens,
                                                       const char* device, tilejit_moe_stage2** out);
/** The handle's tile_m: the MoE sorting block size its launches need. */
TILEJIT_C_API int tilejit_moe_stage2_tile_m(const tilejit_moe_stage2* op, int32_t* out);
/** 1 when the handle's kernel is a token owner (the config table's pick for decode on the H100):
 *  it reads topk_ids / topk_weights of the args instead of a sorting's output, needs no zeroing
 *  before tilejit_moe_stage2_launch_zeroed and adds no atomics; else 0. */
TILEJIT_C_API int tilejit_moe_stage2_token_owner(const tilejit_moe_stage2* op, int32_t* out);
/** Compiles (or fetches from the caches) the kernel for the device named `device` (see
 *  tilejit_device_get; NULL = the default device). Compiling again switches the handle's device. */
TILEJIT_C_API int tilejit_moe_stage2_compile(tilejit_moe_stage2* op, const char* device);
/** The device the handle was compiled for. */
TILEJIT_C_API int tilejit_moe_stage2_device(const tilejit_moe_stage2* op, tilejit_device** out);
/** The kernel's name (identifies the variant), valid as long as the handle. */
TILEJIT_C_API int tilejit_moe_stage2_kernel_name(const tilejit_moe_stage2* op, const char** out);
/** Launches asynchronously on `stream` (NULL: the default stream of the handle's device). Checks the
 *  arguments first (null or misaligned pointers, tokens, sorted_blocks). With accumulate, the caller
 *  zeroes `out` first. */
TILEJIT_C_API int tilejit_moe_stage2_launch(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args,
                                            void* stream);
/** tilejit_moe_stage2_launch that may start while the kernel before it on `stream` still runs (CUDA
 *  programmatic dependent launch): its blocks wait for that kernel before reading or writing
 *  anything, so it is safe after any kernel and saves the gap between the launches (e.g. after
 *  tilejit_moe_sorting_zeroing, which lets it start at once). Elsewhere the same as launch. */
TILEJIT_C_API int tilejit_moe_stage2_launch_early(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args,
                                                  void* stream);
/** Zeroes `out` with a kernel and then launches the accumulating kernel early after it
 *  (tilejit_moe_stage2_launch_early), both on `stream` (accumulate only): cheaper than a memset
 *  before tilejit_moe_stage2_launch. `out` must be 16-byte aligned. Checks as launch. A token
 *  owner's kernel alone stores the sums over what `out` held (no zeroing launch). */
TILEJIT_C_API int tilejit_moe_stage2_launch_zeroed(const tilejit_moe_stage2* op, const tilejit_moe_stage2_args* args,
                                                   void* stream);
/** Destroys the handle (NULL is accepted and ignored). */
TILEJIT_C_API int tilejit_moe_stage2_destroy(tilejit_moe_stage2* op);

#ifdef __cplusplus
}
#endif

#endif /* TILEJIT_KERNELS_MOE_STAGE2_C_API_H */
