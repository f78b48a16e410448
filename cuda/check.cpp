// Error names and messages for the checked-call macros of check.h. cuBLAS and cuRAND status
// codes are named by the tables below (cuRAND has no string function; cuBLAS's own
// cublasGetStatusString is avoided so that the text is the same whatever cuBLAS is loaded).
#include "cuda/check.h"

#include <cublas_api.h>
#include <cudnn.h>
#include <curand.h>

#include <cstdio>

namespace ebm::cuda {

static_assert(CUBLAS_STATUS_SUCCESS == 0 && CURAND_STATUS_SUCCESS == 0 && CUDNN_STATUS_SUCCESS == 0,
              "the EBM_*_CHECK macros compare library status codes with 0");

std::string describe_cuda_error(cudaError_t err) {
  return str(cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

std::string describe_cublas_status(int status) {
  const char* name = nullptr;
  const char* text = nullptr;
  switch (static_cast<cublasStatus_t>(status)) {
    case CUBLAS_STATUS_SUCCESS: name = "CUBLAS_STATUS_SUCCESS"; text = "success"; break;
    case CUBLAS_STATUS_NOT_INITIALIZED:
      name = "CUBLAS_STATUS_NOT_INITIALIZED";
      text = "the library was not initialized (no usable GPU, or cublasCreate failed)";
      break;
    case CUBLAS_STATUS_ALLOC_FAILED:
      name = "CUBLAS_STATUS_ALLOC_FAILED"; text = "resource allocation failed"; break;
    case CUBLAS_STATUS_INVALID_VALUE:
      name = "CUBLAS_STATUS_INVALID_VALUE"; text = "an unsupported value or parameter was passed"; break;
    case CUBLAS_STATUS_ARCH_MISMATCH:
      name = "CUBLAS_STATUS_ARCH_MISMATCH"; text = "the GPU lacks a feature the call needs"; break;
    case CUBLAS_STATUS_MAPPING_ERROR:
      name = "CUBLAS_STATUS_MAPPING_ERROR"; text = "access to GPU memory space failed"; break;
    case CUBLAS_STATUS_EXECUTION_FAILED:
      name = "CUBLAS_STATUS_EXECUTION_FAILED"; text = "the GPU program failed to execute"; break;
    case CUBLAS_STATUS_INTERNAL_ERROR:
      name = "CUBLAS_STATUS_INTERNAL_ERROR"; text = "an internal cuBLAS operation failed"; break;
    case CUBLAS_STATUS_NOT_SUPPORTED:
      name = "CUBLAS_STATUS_NOT_SUPPORTED"; text = "the requested functionality is not supported"; break;
    case CUBLAS_STATUS_LICENSE_ERROR:
      name = "CUBLAS_STATUS_LICENSE_ERROR"; text = "licence check failed"; break;
  }
  if (!name) return str("cuBLAS status ", status, " (unknown to this build)");
  return str(name, ": ", text);
}

std::string describe_curand_status(int status) {
  const char* name = nullptr;
  const char* text = nullptr;
  switch (static_cast<curandStatus_t>(status)) {
    case CURAND_STATUS_SUCCESS: name = "CURAND_STATUS_SUCCESS"; text = "success"; break;
    case CURAND_STATUS_VERSION_MISMATCH:
      name = "CURAND_STATUS_VERSION_MISMATCH";
      text = "header file and linked library version do not match";
      break;
    case CURAND_STATUS_NOT_INITIALIZED:
      name = "CURAND_STATUS_NOT_INITIALIZED"; text = "generator not initialized"; break;
    case CURAND_STATUS_ALLOCATION_FAILED:
      name = "CURAND_STATUS_ALLOCATION_FAILED"; text = "memory allocation failed"; break;
    case CURAND_STATUS_TYPE_ERROR:
      name = "CURAND_STATUS_TYPE_ERROR"; text = "generator is of the wrong type"; break;
    case CURAND_STATUS_OUT_OF_RANGE:
      name = "CURAND_STATUS_OUT_OF_RANGE"; text = "argument out of range"; break;
    case CURAND_STATUS_LENGTH_NOT_MULTIPLE:
      name = "CURAND_STATUS_LENGTH_NOT_MULTIPLE";
      text = "length requested is not a multiple of the dimension (normals need an even count)";
      break;
    case CURAND_STATUS_DOUBLE_PRECISION_REQUIRED:
      name = "CURAND_STATUS_DOUBLE_PRECISION_REQUIRED";
      text = "the GPU lacks the double precision the generator needs";
      break;
    case CURAND_STATUS_LAUNCH_FAILURE:
      name = "CURAND_STATUS_LAUNCH_FAILURE"; text = "kernel launch failure"; break;
    case CURAND_STATUS_PREEXISTING_FAILURE:
      name = "CURAND_STATUS_PREEXISTING_FAILURE"; text = "an earlier error was pending on entry"; break;
    case CURAND_STATUS_INITIALIZATION_FAILED:
      name = "CURAND_STATUS_INITIALIZATION_FAILED"; text = "initialization of CUDA failed"; break;
    case CURAND_STATUS_ARCH_MISMATCH:
      name = "CURAND_STATUS_ARCH_MISMATCH"; text = "the GPU lacks a feature the call needs"; break;
    case CURAND_STATUS_INTERNAL_ERROR:
      name = "CURAND_STATUS_INTERNAL_ERROR"; text = "internal cuRAND error"; break;
  }
  if (!name) return str("cuRAND status ", status, " (unknown to this build)");
  return str(name, ": ", text);
}

std::string describe_cudnn_status(int status) {
  // cuDNN 9 names its status codes itself and keeps a per-thread detail message of the last
  // failure, which usually says which argument was wrong.
  std::string out = cudnnGetErrorString(static_cast<cudnnStatus_t>(status));
  char detail[512] = {0};
  cudnnGetLastErrorString(detail, sizeof detail);
  if (detail[0]) out += str(" (", detail, ")");
  return out;
}

void throw_cuda_error(cudaError_t err, const char* expr, const char* file, int line) {
  cudaGetLastError();  // reset a non-sticky error so later launch checks do not report it again
  throw CudaError(str("CUDA error in `", expr, "`: ", describe_cuda_error(err)), file, line);
}

void throw_cublas_error(int status, const char* expr, const char* file, int line) {
  throw CudaError(str("cuBLAS error in `", expr, "`: ", describe_cublas_status(status)), file, line);
}

void throw_curand_error(int status, const char* expr, const char* file, int line) {
  throw CudaError(str("cuRAND error in `", expr, "`: ", describe_curand_status(status)), file, line);
}

void throw_cudnn_error(int status, const char* expr, const char* file, int line) {
  throw CudaError(str("cuDNN error in `", expr, "`: ", describe_cudnn_status(status)), file, line);
}

void log_cuda_error(cudaError_t err, const char* expr, const char* file, int line) noexcept {
  cudaGetLastError();
  if (err == cudaErrorCudartUnloading || err == cudaErrorContextIsDestroyed) return;
  std::fprintf(stderr, "ebm: CUDA error in `%s`: %s: %s (%s:%d)\n", expr, cudaGetErrorName(err),
               cudaGetErrorString(err), file, line);
}

}  // namespace ebm::cuda
