// Launchers of the optimizer kernels (kernels/optim.cu; the arithmetic, the grid-stride body and
// the fixed split of the norm reductions are core/ops/optim.h): Adam, SGD, the EMA update, the
// gradient scale / clamp, and the per-tensor norm pieces of gradient clipping. Plain C++ (no
// CUDA headers), like cuda/langevin.h, so core/cpu/optim.cpp calls in with raw pointers and
// current_stream().
//
// Contract of every launcher: device memory of the current device, pointers non-null and aligned
// to their element type (checked; unless there is nothing to do), each output identical to its
// input (in place) or not overlapping any input. Asynchronous on `stream`; nothing is launched
// for n == 0. Throws ValueError for bad arguments, CudaError for a failed launch.
#pragma once

#include <cstdint>

#include "core/ops/optim.h"
#include "cuda/stream.h"

namespace ebm::cuda {

void adam_step(AdamEpsilon mode, const AdamArgs<float>& args, const AdamPtrs<float>& ptrs,
               StreamHandle stream);
void adam_step(AdamEpsilon mode, const AdamArgs<double>& args, const AdamPtrs<double>& ptrs,
               StreamHandle stream);

// ptrs.buf / buf_out are used only when `momentum` (buf read unless args.first).
void sgd_step(bool momentum, const SgdArgs<float>& args, const SgdPtrs<float>& ptrs,
              StreamHandle stream);
void sgd_step(bool momentum, const SgdArgs<double>& args, const SgdPtrs<double>& ptrs,
              StreamHandle stream);

void ema_update(EmaForm form, const EmaArgs<float>& args, const EmaPtrs<float>& ptrs,
                StreamHandle stream);
void ema_update(EmaForm form, const EmaArgs<double>& args, const EmaPtrs<double>& ptrs,
                StreamHandle stream);

void grad_map(GradMap op, const GradMapArgs<float>& args, const GradMapPtrs<float>& ptrs,
              StreamHandle stream);
void grad_map(GradMap op, const GradMapArgs<double>& args, const GradMapPtrs<double>& ptrs,
              StreamHandle stream);

// *out = the norm piece of x[0, n) (Σx² or max|x|, in double; 0 for n == 0) by the split of
// core/ops/optim.h, through `workspace`, which holds at least norm_chunks(n) doubles. Two
// launches, no atomics: the same bits as the CPU's norm_parts.
void norm_part(NormKind kind, const float* x, int64_t n, double* workspace, double* out,
               StreamHandle stream);
void norm_part(NormKind kind, const double* x, int64_t n, double* workspace, double* out,
               StreamHandle stream);

// The grid of the elementwise update kernels on `device` (shared with tests).
OptimLaunchDims optim_launch_dims_for(int device, int64_t n);

}  // namespace ebm::cuda
