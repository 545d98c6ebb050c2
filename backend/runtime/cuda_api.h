// The CUDA driver API as a function table loaded from libcuda.so.1 (no CUDA headers needed).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tilejit::cuda {

// Driver types, ABI-compatible with cuda.h (enums are ints, handles opaque pointers).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUjit_option = int;
using CUdevice_attribute = int;
using CUfunction_attribute = int;
struct CUctx_st;
struct CUmod_st;
struct CUfunc_st;
struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using CUcontext = CUctx_st*;
using CUmodule = CUmod_st*;
using CUfunction = CUfunc_st*;
using CUstream = CUstream_st*;
using CUevent = CUevent_st*;
using CUgraph = CUgraph_st*;
using CUgraphExec = CUgraphExec_st*;
using CUstreamCaptureMode = int;

/// cuLaunchKernelEx's configuration (cuda.h layout: the attribute value is a 64-byte union).
using CUlaunchAttributeID = int;
struct CUlaunchAttribute {
  CUlaunchAttributeID id;
  char pad[8 - sizeof(CUlaunchAttributeID)];
  union {
    char bytes[64];
    int programmatic_stream_serialization_allowed;
  } value;
};
struct CUlaunchConfig {
  unsigned int grid_x, grid_y, grid_z, block_x, block_y, block_z, shared_bytes;
  CUstream stream;
  CUlaunchAttribute* attrs;
  unsigned int num_attrs;
};
static_assert(sizeof(CUlaunchAttribute) == 72 && sizeof(CUlaunchConfig) == 56);

// The values of cuda.h this driver uses.
inline constexpr CUlaunchAttributeID CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6;
inline constexpr CUresult CUDA_SUCCESS = 0;
inline constexpr CUresult CUDA_ERROR_NO_DEVICE = 100;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76;
inline constexpr CUdevice_attribute CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97;
inline constexpr CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0;
inline constexpr CUfunction_attribute CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
inline constexpr CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1;
inline constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER = 3;
inline constexpr CUjit_option CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER = 5;
inline constexpr CUjit_option CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6;
inline constexpr CUjit_option CU_JIT_LOG_VERBOSE = 12;

// The one symbol list: X(return type, name, parameter list). It generates the
// function table and its loader (which names any missing symbol).
#define TILEJIT_CUDA_SYMBOLS(X)                                                                 \
  X(CUresult, cuInit, (unsigned int flags))                                                     \
  X(CUresult, cuDeviceGet, (CUdevice * device, int ordinal))                                    \
  X(CUresult, cuDeviceGetCount, (int* count))                                                   \
  X(CUresult, cuDeviceGetName, (char* name, int len, CUdevice dev))                             \
  X(CUresult, cuDeviceGetAttribute, (int* value, CUdevice_attribute attrib, CUdevice dev))      \
  X(CUresult, cuDevicePrimaryCtxRetain, (CUcontext * ctx, CUdevice dev))                        \
  X(CUresult, cuDevicePrimaryCtxRelease_v2, (CUdevice dev))                                     \
  X(CUresult, cuCtxSetCurrent, (CUcontext ctx))                                                 \
  X(CUresult, cuCtxSynchronize, ())                                                             \
  X(CUresult, cuMemAlloc_v2, (CUdeviceptr * dptr, size_t bytes))                                \
  X(CUresult, cuMemFree_v2, (CUdeviceptr dptr))                                                 \
  X(CUresult, cuMemcpyHtoD_v2, (CUdeviceptr dst, const void* src, size_t bytes))                \
  X(CUresult, cuMemcpyDtoH_v2, (void* dst, CUdeviceptr src, size_t bytes))                      \
  X(CUresult, cuMemcpyDtoD_v2, (CUdeviceptr dst, CUdeviceptr src, size_t bytes))                \
  X(CUresult, cuMemsetD8_v2, (CUdeviceptr dst, unsigned char value, size_t count))              \
  X(CUresult, cuMemsetD8Async, (CUdeviceptr dst, unsigned char value, size_t count, CUstream s)) \
  X(CUresult, cuStreamBeginCapture_v2, (CUstream stream, CUstreamCaptureMode mode))             \
  X(CUresult, cuStreamEndCapture, (CUstream stream, CUgraph * graph))                           \
  X(CUresult, cuGraphInstantiateWithFlags, (CUgraphExec * exec, CUgraph graph, unsigned long long flags)) \
  X(CUresult, cuGraphLaunch, (CUgraphExec exec, CUstream stream))                               \
  X(CUresult, cuGraphExecDestroy, (CUgraphExec exec))                                           \
  X(CUresult, cuGraphDestroy, (CUgraph graph))                                                  \
  X(CUresult, cuStreamCreate, (CUstream * stream, unsigned int flags))                          \
  X(CUresult, cuStreamDestroy_v2, (CUstream stream))                                            \
  X(CUresult, cuStreamSynchronize, (CUstream stream))                                           \
  X(CUresult, cuEventCreate, (CUevent * event, unsigned int flags))                             \
  X(CUresult, cuEventRecord, (CUevent event, CUstream stream))                                  \
  X(CUresult, cuEventSynchronize, (CUevent event))                                              \
  X(CUresult, cuEventElapsedTime, (float* ms, CUevent start, CUevent end))                      \
  X(CUresult, cuEventDestroy_v2, (CUevent event))                                               \
  X(CUresult, cuModuleLoadDataEx,                                                               \
    (CUmodule * module, const void* image, unsigned int num_options, CUjit_option* options,      \
     void** option_values))                                                                     \
  X(CUresult, cuModuleGetFunction, (CUfunction * fn, CUmodule module, const char* name))        \
  X(CUresult, cuModuleUnload, (CUmodule module))                                                \
  X(CUresult, cuFuncSetAttribute, (CUfunction fn, CUfunction_attribute attrib, int value))      \
  X(CUresult, cuFuncGetAttribute, (int* value, CUfunction_attribute attrib, CUfunction fn))     \
  X(CUresult, cuLaunchKernel,                                                                   \
    (CUfunction fn, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,              \
     unsigned int block_x, unsigned int block_y, unsigned int block_z, unsigned int shared_bytes, \
     CUstream stream, void** kernel_params, void** extra))                                      \
  X(CUresult, cuLaunchKernelEx,                                                                 \
    (const CUlaunchConfig* config, CUfunction fn, void** kernel_params, void** extra))          \
  X(CUresult, cuGetErrorName, (CUresult error, const char** name))                              \
  X(CUresult, cuGetErrorString, (CUresult error, const char** text))

/// The driver's entry points, resolved from one library.
struct Api {
#define TILEJIT_CUDA_MEMBER(ret, name, params) ret(*name) params = nullptr;
  TILEJIT_CUDA_SYMBOLS(TILEJIT_CUDA_MEMBER)
#undef TILEJIT_CUDA_MEMBER
  std::string library;  ///< the name or path it was loaded from
};

/// The default soname of the CUDA driver.
inline constexpr std::string_view kLibcudaName = "libcuda.so.1";

/// The process-wide table, loaded on first use: a libcuda already in the
/// process, else $TILEJIT_LIBCUDA, else libcuda.so.1. A successful load is kept
/// for the life of the process; a failed one is retried on the next call.
/// Throws NoDeviceError when the library cannot be loaded or lacks a symbol.
const Api& api();

/// Resolves every symbol of the list from the library at `path` (not cached,
/// for tests and tools). Throws NoDeviceError naming the first missing symbol.
Api load_api_from(const std::string& path);

/// "CUDA_ERROR_X (driver's description)" for `r`.
std::string describe(const Api& api, CUresult r);

/// Throws RuntimeError "<call> failed: <name> (<description>)<suffix>" when `r` is not success.
void check(const Api& api, CUresult r, std::string_view call, std::string_view suffix = {});

}  // namespace tilejit::cuda
