// cuDNN behind the op API's conv2d and its adjoints (core/cpu/conv.cpp dispatches cuda tensors
// here): NCHW, weight [C_out, C_in, kH, kW], symmetric stride and zero padding, cross-correlation
// as PyTorch; float32 and float64 (cuDNN's DOUBLE_CONFIG; should a cuDNN build offer no float64
// algorithm for a shape, the call throws DTypeError naming it). Plain C++ (no CUDA or cuDNN
// types): raw device pointers, a plain geometry struct and the opaque stream of
// cuda/stream.h.
//
// Algorithm choice: cudnnFind*AlgorithmEx, once per (direction, shape, stride, padding, dtype,
// math mode, 16-byte alignment of the pointers) and device, cached for the process. Find times
// the candidates on the real buffers, which costs milliseconds once per shape but picks the
// fastest kernel for the shapes a training run then repeats tens of thousands of times (a
// Langevin chain runs the same convs 60 times per step); the heuristic Get*_v7 is cheaper to ask
// but only guesses. Among the timed candidates the fastest *deterministic* one that respects
// the math mode wins (a run must be reproducible on one device); a non-deterministic one only
// when no deterministic algorithm exists. The search needs a workspace as large as the greediest
// candidate (capped at kSearchWorkspaceCap and half the free memory); it is allocated for the
// search only and handed back to the allocator, so afterwards the per-stream workspace holds only
// what the chosen algorithms need. The 16-byte alignment of the pointers is part of the key
// because some algorithms require it (a view into the middle of a tensor may lack it).
// Find runs kernels and synchronises: make the first call of each shape before any CUDA-graph
// capture (a training step's warm-up does).
//
// TF32 (allow_tf32, from ebm::allow_tf32()): float32 convolutions run with CUDNN_FMA_MATH when
// it is off (no tensor-core rounding of inputs) and CUDNN_DEFAULT_MATH when on (cuDNN may use
// TF32 tensor cores), as PyTorch's torch.backends.cudnn.allow_tf32 does.
//
// Workspace: one device buffer per (device, stream), from device_hooks::cuda_alloc (the caching
// pool once it is in), grown to the largest need seen and kept; per stream so that work queued on
// two streams never shares scratch memory.
//
// Each device has one cuDNN handle, created on first use; a per-device lock serialises calls
// (handle stream, workspace and cache are shared). All calls are asynchronous on `stream`
// except the first of each cache key (the search).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// x [n, c, h, w] * w [co, c, kh, kw] -> y [n, co, ho, wo] with ho = (h + 2p - kh) / s + 1 (and wo
// likewise), as ops::conv2d_output_shape computes. Every size must fit cuDNN's int and each
// tensor hold fewer than 2^31 elements.
struct ConvGeom2d {
  int64_t n = 0, c = 0, h = 0, w = 0;
  int64_t co = 0, kh = 0, kw = 0;
  int64_t ho = 0, wo = 0;
  int stride = 1, padding = 0;
};

// y = conv(x, w) (+ b[co] broadcast when b is not null; b goes through add_channel_bias of
// cuda/pool.h). y is overwritten, never read.
void conv2d_forward(DType dtype, const ConvGeom2d& g, const void* x, const void* w, const void* b,
                    void* y, bool allow_tf32, int device, StreamHandle stream);
// dx [n, c, h, w] = the adjoint in x applied to dy [n, co, ho, wo].
void conv2d_backward_data(DType dtype, const ConvGeom2d& g, const void* dy, const void* w,
                          void* dx, bool allow_tf32, int device, StreamHandle stream);
// dw [co, c, kh, kw] = sum over the batch of dy ⊗ patches of x.
void conv2d_backward_filter(DType dtype, const ConvGeom2d& g, const void* dy, const void* x,
                            void* dw, bool allow_tf32, int device, StreamHandle stream);
// db [co] = sum of dy over n, ho, wo (cudnnConvolutionBackwardBias).
void conv2d_backward_bias(DType dtype, const ConvGeom2d& g, const void* dy, void* db, int device,
                          StreamHandle stream);

// Counters of the algorithm cache of one device (all zero before its first convolution).
struct ConvAlgoCacheStats {
  int64_t searches = 0;        // cudnnFind*AlgorithmEx calls made (one per new key and direction)
  int64_t entries = 0;         // cached (key, direction) choices
  size_t workspace_bytes = 0;  // held in the per-stream workspaces
};
ConvAlgoCacheStats conv_algo_cache_stats(int device);
// One line per cached choice, e.g. "float32 x[8,3,32,32] w[64,3,3,3] s1 p1 fma forward:
// IMPLICIT_PRECOMP_GEMM (FMA, deterministic, 4.1 KiB)", for logs and benchmark reports.
std::vector<std::string> conv_algo_cache_entries(int device);

// Upper bound of the temporary workspace a search may use (1 GiB).
constexpr size_t kSearchWorkspaceCap = size_t(1) << 30;

}  // namespace ebm::cuda
