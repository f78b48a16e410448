// cuBLAS GEMM for matmul/linear (see blas.h): the per-device handle, the row-major -> column-major
// mapping, and the TF32 math mode.
#include "cuda/blas.h"

#include <cublas_v2.h>

#include <array>
#include <mutex>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/pool.h"

namespace ebm::cuda {

namespace {

constexpr int kMaxDevices = 64;

// A device's handle and the lock that serialises its use: the handle's stream and math mode are
// set per call, and two threads must not interleave those settings with each other's GEMM.
struct BlasState {
  std::mutex mutex;
  cublasHandle_t handle = nullptr;
};

BlasState& blas_state(int device) {
  EBM_CHECK(device >= 0 && device < kMaxDevices, DeviceError, "cuBLAS: device index ", device,
            " out of range");
  // Never destroyed: cublasDestroy from a static destructor would race the runtime's shutdown.
  static std::array<BlasState, kMaxDevices>* states = new std::array<BlasState, kMaxDevices>();
  return (*states)[device];
}

// Locks the device's state, creating the handle on first use, and points it at the stream and
// math mode of this call.
class BlasCall {
 public:
  BlasCall(int device, StreamHandle stream, bool allow_tf32)
      : guard_(device), state_(blas_state(device)), lock_(state_.mutex) {
    if (!state_.handle) EBM_CUBLAS_CHECK(cublasCreate(&state_.handle));
    EBM_CUBLAS_CHECK(cublasSetStream(state_.handle, stream));
    EBM_CUBLAS_CHECK(cublasSetMathMode(
        state_.handle, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  }
  cublasHandle_t handle() const { return state_.handle; }

 private:
  DeviceGuard guard_;
  BlasState& state_;
  std::lock_guard<std::mutex> lock_;
};

cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                         int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                         int64_t ldb, float* c, int64_t ldc) {
  const float one = 1.0f, zero = 0.0f;
  return cublasSgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &zero, c, ldc);
}
cublasStatus_t gemm_call(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int64_t m,
                         int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                         int64_t ldb, double* c, int64_t ldc) {
  const double one = 1.0, zero = 0.0;
  return cublasDgemm_64(h, ta, tb, m, n, k, &one, a, lda, b, ldb, &zero, c, ldc);
}

template <class T>
void gemm_impl(const T* a, int64_t a_rows, int64_t a_cols, bool trans_a, const T* b,
               int64_t b_rows, int64_t b_cols, bool trans_b, T* c, int64_t m, int64_t n,
               bool allow_tf32, int device, StreamHandle stream) {
  const int64_t k = trans_a ? a_rows : a_cols;
  EBM_CHECK(m >= 0 && n >= 0 && k >= 0 && (trans_a ? a_cols : a_rows) == m &&
                (trans_b ? b_cols : b_rows) == k && (trans_b ? b_rows : b_cols) == n,
            ShapeError, "gemm (cuda): a [", a_rows, ", ", a_cols, "]", trans_a ? "ᵀ" : "", " · b [",
            b_rows, ", ", b_cols, "]", trans_b ? "ᵀ" : "", " does not give [", m, ", ", n, "]");
  if (m == 0 || n == 0) return;
  EBM_CHECK(c != nullptr, ValueError, "gemm (cuda): null output");
  if (k == 0) {  // an empty sum; cuBLAS's handling of k = 0 is not something to rely on
    DeviceGuard guard(device);
    EBM_CUDA_CHECK(cudaMemsetAsync(c, 0, static_cast<size_t>(m * n) * sizeof(T), stream));
    return;
  }
  EBM_CHECK(a != nullptr && b != nullptr, ValueError, "gemm (cuda): null input");
  BlasCall call(device, stream, allow_tf32);
  // Column-major Cᵀ [n, m] = op(B)ᵀ [n, k] · op(A)ᵀ [k, m]. The column-major view of row-major B
  // is Bᵀ, so op(B)ᵀ is that view, transposed exactly when trans_b; same for A. Leading
  // dimensions are the stored row lengths.
  EBM_CUBLAS_CHECK(gemm_call(call.handle(), trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, b, b_cols, a, a_cols,
                             c, n));
}

template <class T>
void linear_impl(const T* x, const T* w, const T* b, T* y, int64_t n, int64_t in, int64_t out,
                 bool allow_tf32, int device, StreamHandle stream) {
  // y = x · wᵀ, then the bias on each of the n rows (channels = out, inner = 1).
  gemm_impl<T>(x, n, in, false, w, out, in, true, y, n, out, allow_tf32, device, stream);
  if (b) add_channel_bias<T>(y, b, n, out, 1, device, stream);
}

}  // namespace

void gemm(const float* a, int64_t a_rows, int64_t a_cols, bool trans_a, const float* b,
          int64_t b_rows, int64_t b_cols, bool trans_b, float* c, int64_t m, int64_t n,
          bool allow_tf32, int device, StreamHandle stream) {
  gemm_impl(a, a_rows, a_cols, trans_a, b, b_rows, b_cols, trans_b, c, m, n, allow_tf32, device,
            stream);
}

void gemm(const double* a, int64_t a_rows, int64_t a_cols, bool trans_a, const double* b,
          int64_t b_rows, int64_t b_cols, bool trans_b, double* c, int64_t m, int64_t n,
          bool allow_tf32, int device, StreamHandle stream) {
  gemm_impl(a, a_rows, a_cols, trans_a, b, b_rows, b_cols, trans_b, c, m, n, allow_tf32, device,
            stream);
}

void linear(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in,
            int64_t out, bool allow_tf32, int device, StreamHandle stream) {
  linear_impl(x, w, b, y, n, in, out, allow_tf32, device, stream);
}

void linear(const double* x, const double* w, const double* b, double* y, int64_t n, int64_t in,
            int64_t out, bool allow_tf32, int device, StreamHandle stream) {
  linear_impl(x, w, b, y, n, in, out, allow_tf32, device, stream);
}

}  // namespace ebm::cuda
