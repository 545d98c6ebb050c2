// The HIP runtime API as a function table loaded from libamdhip64 (no HIP headers needed).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace tilejit::hip {

// Runtime types, ABI-compatible with hip_runtime_api.h (enums are ints).
using hipError_t = int;
struct ihipStream_t;
struct ihipEvent_t;
struct ihipModule_t;
struct ihipModuleSymbol_t;
using hipStream_t = ihipStream_t*;
using hipEvent_t = ihipEvent_t*;
using hipModule_t = ihipModule_t*;
using hipFunction_t = ihipModuleSymbol_t*;

// The values of hip_runtime_api.h this driver uses (unchanged from ROCm 5 to 7).
inline constexpr hipError_t hipSuccess = 0;
inline constexpr hipError_t hipErrorNoDevice = 100;
inline constexpr int hipMemcpyHostToDevice = 1;
inline constexpr int hipMemcpyDeviceToHost = 2;
inline constexpr int hipMemcpyDeviceToDevice = 3;
inline constexpr int hipDeviceAttributeComputeCapabilityMajor = 23;
inline constexpr int hipDeviceAttributeMaxThreadsPerBlock = 56;
inline constexpr int hipDeviceAttributeComputeCapabilityMinor = 61;
inline constexpr int hipDeviceAttributeMultiprocessorCount = 63;

// The one symbol list: X(return type, name, parameter list). It generates the
// function table and its loader (which names any missing symbol).
#define TILEJIT_HIP_SYMBOLS(X)                                                                  \
  X(hipError_t, hipInit, (unsigned int flags))                                                  \
  X(hipError_t, hipGetDeviceCount, (int* count))                                                \
  X(hipError_t, hipSetDevice, (int device))                                                     \
  X(hipError_t, hipDeviceGetName, (char* name, int len, int device))                            \
  X(hipError_t, hipDeviceGetAttribute, (int* value, int attr, int device))                      \
  X(hipError_t, hipMalloc, (void** ptr, size_t bytes))                                          \
  X(hipError_t, hipFree, (void* ptr))                                                           \
  X(hipError_t, hipMemcpy, (void* dst, const void* src, size_t bytes, int kind))                \
  X(hipError_t, hipMemset, (void* dst, int value, size_t bytes))                                \
  X(hipError_t, hipStreamCreate, (hipStream_t * stream))                                        \
  X(hipError_t, hipStreamDestroy, (hipStream_t stream))                                         \
  X(hipError_t, hipStreamSynchronize, (hipStream_t stream))                                     \
  X(hipError_t, hipDeviceSynchronize, ())                                                       \
  X(hipError_t, hipEventCreate, (hipEvent_t * event))                                           \
  X(hipError_t, hipEventRecord, (hipEvent_t event, hipStream_t stream))                         \
  X(hipError_t, hipEventSynchronize, (hipEvent_t event))                                        \
  X(hipError_t, hipEventElapsedTime, (float* ms, hipEvent_t start, hipEvent_t stop))            \
  X(hipError_t, hipEventDestroy, (hipEvent_t event))                                            \
  X(hipError_t, hipModuleLoadData, (hipModule_t * module, const void* image))                   \
  X(hipError_t, hipModuleGetFunction, (hipFunction_t * fn, hipModule_t module, const char* name)) \
  X(hipError_t, hipModuleUnload, (hipModule_t module))                                          \
  X(hipError_t, hipModuleLaunchKernel,                                                          \
    (hipFunction_t fn, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,           \
     unsigned int block_x, unsigned int block_y, unsigned int block_z, unsigned int shared_bytes, \
     hipStream_t stream, void** kernel_params, void** extra))                                   \
  X(const char*, hipGetErrorName, (hipError_t error))                                           \
  X(const char*, hipGetErrorString, (hipError_t error))                                         \
  X(hipError_t, hipGetLastError, ())

/// The runtime's entry points, resolved from one library.
struct Api {
#define TILEJIT_HIP_MEMBER(ret, name, params) ret(*name) params = nullptr;
  TILEJIT_HIP_SYMBOLS(TILEJIT_HIP_MEMBER)
#undef TILEJIT_HIP_MEMBER
  std::string library;  ///< the name or path it was loaded from
};

/// How the HIP library is named in messages.
inline constexpr std::string_view kLibhipName = "libamdhip64";

/// The process-wide table, loaded on first use: a libamdhip64 already in the
/// process, else $TILEJIT_LIBAMDHIP64, else libamdhip64.so.7, .so.6, .so.5,
/// .so. A successful load is kept for the life of the process; a failed one is
/// retried on the next call. Throws NoDeviceError when no library loads or one
/// lacks a symbol.
const Api& api();

/// Resolves every symbol of the list from the library at `path` (not cached,
/// for tests and tools). Throws NoDeviceError naming the first missing symbol.
Api load_api_from(const std::string& path);

/// "hipErrorX (runtime's description)" for `r`.
std::string describe(const Api& api, hipError_t r);

/// Throws RuntimeError "<call> failed: <name> (<description>)<suffix>" when
/// `r` is not success (clearing the runtime's last error first).
void check(const Api& api, hipError_t r, std::string_view call, std::string_view suffix = {});

}  // namespace tilejit::hip
