// Checked calls into the CUDA runtime, cuBLAS, cuDNN and cuRAND (style.md practice 8).
// EBM_CUDA_CHECK(expr) and friends evaluate expr once and, when it fails, throw ebm::CudaError
// whose message names the expression text, the error's enum name and its description, and
// whose what() adds file:line. EBM_CUDA_CHECK_LOG is the destructor variant: it prints and never
// throws, and says nothing while the runtime is shutting down. EBM_CUDA_CHECK_LAUNCH() goes
// after every kernel launch.
//
// Only <cuda_runtime_api.h> is needed here: library status codes travel as int, and the name
// tables live in check.cpp, so a file using EBM_CUBLAS_CHECK does not pull in cuDNN's headers.
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "core/common.h"

namespace ebm::cuda {

// "cudaErrorMemoryAllocation: out of memory" (name and description of a runtime error).
std::string describe_cuda_error(cudaError_t err);
// Enum names and short descriptions of the libraries' status codes ("CUBLAS_STATUS_NOT_SUPPORTED:
// the functionality requested is not supported"); unknown codes come back as "<library> status N".
std::string describe_cublas_status(int status);
std::string describe_curand_status(int status);
std::string describe_cudnn_status(int status);  // adds cudnnGetLastErrorString when it has one

// The throwing halves of the macros (out of line so that each check costs one compare inline).
// throw_cuda_error also clears the runtime's non-sticky last error, so that a failed call that
// was caught does not resurface at the next EBM_CUDA_CHECK_LAUNCH.
[[noreturn]] void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line);
[[noreturn]] void throw_cublas_error(int status, const char* expr, const char* file, int line);
[[noreturn]] void throw_curand_error(int status, const char* expr, const char* file, int line);
[[noreturn]] void throw_cudnn_error(int status, const char* expr, const char* file, int line);
// Prints "ebm: CUDA error ... (file:line)" to stderr; silent for cudaErrorCudartUnloading and
// cudaErrorContextIsDestroyed, the codes every call returns while the process is exiting.
void log_cuda_error(cudaError_t err, const char* expr, const char* file, int line) noexcept;

}  // namespace ebm::cuda

#define EBM_CUDA_CHECK(expr)                                                      \
  do {                                                                            \
    const cudaError_t ebm_cuda_err_ = (expr);                                     \
    if (ebm_cuda_err_ != cudaSuccess)                                             \
      ::ebm::cuda::throw_cuda_error(ebm_cuda_err_, #expr, __FILE__, __LINE__);    \
  } while (0)

// For destructors and other noexcept paths: report, never throw.
#define EBM_CUDA_CHECK_LOG(expr)                                                  \
  do {                                                                            \
    const cudaError_t ebm_cuda_err_ = (expr);                                     \
    if (ebm_cuda_err_ != cudaSuccess)                                             \
      ::ebm::cuda::log_cuda_error(ebm_cuda_err_, #expr, __FILE__, __LINE__);      \
  } while (0)

// After a <<<...>>> launch: reports bad launch configurations (and earlier sticky errors) at the
// launcher's line. Errors inside the kernel surface at the next synchronising checked call.
#define EBM_CUDA_CHECK_LAUNCH()                                                   \
  do {                                                                            \
    const cudaError_t ebm_cuda_err_ = cudaGetLastError();                         \
    if (ebm_cuda_err_ != cudaSuccess)                                             \
      ::ebm::cuda::throw_cuda_error(ebm_cuda_err_, "kernel launch (cudaGetLastError)", \
                                    __FILE__, __LINE__);                          \
  } while (0)

#define EBM_CUBLAS_CHECK(expr)                                                    \
  do {                                                                            \
    const int ebm_status_ = static_cast<int>(expr);                               \
    if (ebm_status_ != 0)                                                         \
      ::ebm::cuda::throw_cublas_error(ebm_status_, #expr, __FILE__, __LINE__);    \
  } while (0)

#define EBM_CURAND_CHECK(expr)                                                    \
  do {                                                                            \
    const int ebm_status_ = static_cast<int>(expr);                               \
    if (ebm_status_ != 0)                                                         \
      ::ebm::cuda::throw_curand_error(ebm_status_, #expr, __FILE__, __LINE__);    \
  } while (0)

#define EBM_CUDNN_CHECK(expr)                                                     \
  do {                                                                            \
    const int ebm_status_ = static_cast<int>(expr);                               \
    if (ebm_status_ != 0)                                                         \
      ::ebm::cuda::throw_cudnn_error(ebm_status_, #expr, __FILE__, __LINE__);     \
  } while (0)
