// The fused Langevin update (core/ops/langevin.h): parameter factories, argument checks, the CPU
// backend (a parallel loop over the shared EBM_HD normals and element functions, so the CPU
// computes the GPU's arithmetic bit for bit) and, in a CUDA build, the hand-off of cuda tensors to
// the launcher of cuda/kernels/langevin.cu on the tensor's current stream (inside a CUDA graph
// capture, with a Generator's draw made relative to the graph's device-side state: cuda/graph.h).
#include "core/ops/langevin.h"

#include <cmath>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"
#if defined(EBM_WITH_CUDA)
#include "cuda/graph.h"  // philox_draw: a Generator's draw inside a graph capture
#include "cuda/langevin.h"
#include "cuda/stream.h"
#endif

namespace ebm {

LangevinParams LangevinParams::noise_only(double noise_std) {
  LangevinParams p;
  p.mode = LangevinMode::Noise;
  p.add_noise = true;
  p.noise_std = noise_std;
  return p;
}

LangevinParams LangevinParams::igebm(double step, double grad_clip, double next_noise_std,
                                     double lo, double hi) {
  LangevinParams p;
  p.mode = LangevinMode::Igebm;
  p.step = step;
  p.clamp_grad = true;
  p.grad_min = -grad_clip;
  p.grad_max = grad_clip;
  p.clamp_value = true;
  p.value_min = lo;
  p.value_max = hi;
  p.add_noise = next_noise_std > 0;
  p.noise_std = next_noise_std;
  return p;
}

LangevinParams LangevinParams::sgld(double step, double noise_std) {
  LangevinParams p;
  p.mode = LangevinMode::Sgld;
  p.step = step;
  p.add_noise = noise_std > 0;
  p.noise_std = noise_std;
  return p;
}

LangevinParams LangevinParams::mebm(double step, double noise_std, double grad_clip, double lo,
                                    double hi) {
  LangevinParams p = sgld(step, noise_std);
  p.clamp_grad = true;
  p.grad_min = -grad_clip;
  p.grad_max = grad_clip;
  p.clamp_value = true;
  p.value_min = lo;
  p.value_max = hi;
  return p;
}

LangevinParams LangevinParams::drl(bool add_noise) {
  LangevinParams p;
  p.mode = LangevinMode::Drl;
  p.add_noise = add_noise;
  return p;
}

namespace ops {

namespace {

constexpr const char* kOp = "langevin_step_";

// Work of one group in "elementwise op" units: a Philox block and two Box–Muller pairs dominate.
constexpr int64_t kGroupCostNoise = 64, kGroupCost = 8;

void check_params(const LangevinParams& p) {
  EBM_CHECK(std::isfinite(p.step), ValueError, kOp, ": step must be finite, got ", p.step);
  EBM_CHECK(std::isfinite(p.noise_std) && p.noise_std >= 0, ValueError, kOp,
            ": noise_std must be finite and >= 0, got ", p.noise_std);
  EBM_CHECK(!p.clamp_grad || p.grad_min <= p.grad_max, ValueError, kOp,
            ": gradient clamp needs grad_min <= grad_max, got [", p.grad_min, ", ", p.grad_max, "]");
  EBM_CHECK(!p.clamp_value || p.value_min <= p.value_max, ValueError, kOp,
            ": value clamp needs value_min <= value_max, got [", p.value_min, ", ", p.value_max,
            "]");
  const bool clamps = p.clamp_grad || p.clamp_value;
  EBM_CHECK(!clamps || p.mode == LangevinMode::Igebm || p.mode == LangevinMode::Sgld, ValueError,
            kOp, ": mode ", langevin_mode_name(p.mode), " has no clamps (only igebm and sgld do)");
}

// The checks of every argument; returns P (elements per sample) for Drl, 1 otherwise.
int64_t check_args(const Tensor& x, const Tensor& grad, const LangevinParams& p,
                   const LangevinDrlInputs& drl) {
  check_defined(x, kOp, "x");
  check_float(x, kOp, "x");
  check_params(p);
  if (p.mode != LangevinMode::Noise) {
    check_defined(grad, kOp, "grad");
    check_same_device(x, grad, kOp);
    check_same_dtype(x, grad, kOp);
    check_same_shape(x, grad, kOp);
    EBM_CHECK(!grad.shares_storage_with(x), ValueError, kOp,
              ": grad must not share storage with x (the update writes x in place): x ",
              x.description(), ", grad ", grad.description());
  }
  const bool any_drl = drl.x_tilde.defined() || drl.level.defined() || drl.table.defined();
  if (p.mode != LangevinMode::Drl) {
    EBM_CHECK(!any_drl, ValueError, kOp, ": DRL inputs (x_tilde, level, table) given for mode ",
              langevin_mode_name(p.mode));
    return 1;
  }
  check_defined(drl.x_tilde, kOp, "x_tilde");
  check_defined(drl.level, kOp, "level");
  check_defined(drl.table, kOp, "table");
  check_same_device(x, drl.x_tilde, kOp);
  check_same_dtype(x, drl.x_tilde, kOp);
  check_same_shape(x, drl.x_tilde, kOp);
  EBM_CHECK(!drl.x_tilde.shares_storage_with(x), ValueError, kOp,
            ": x_tilde must not share storage with x (the update writes x in place)");
  EBM_CHECK(x.dim() >= 1, ShapeError, kOp, ": drl needs x with a batch dimension, got ",
            x.description());
  const int64_t samples = x.size(0);
  check_same_device(x, drl.level, kOp);
  EBM_CHECK(drl.level.dtype() == DType::Int64, DTypeError, kOp,
            ": level must be int64 (one level per sample), got ", drl.level.description());
  EBM_CHECK(drl.level.dim() == 1 && drl.level.size(0) == samples, ShapeError, kOp,
            ": level must have shape [", samples, "] (one per sample of x ", x.description(),
            "), got ", drl.level.description());
  check_same_device(x, drl.table, kOp);
  check_same_dtype(x, drl.table, kOp);
  EBM_CHECK(drl.table.dim() == 2 && drl.table.size(1) == 3 && drl.table.size(0) >= 1, ShapeError,
            kOp, ": table must have shape [T, 3] (rows {grad, tether, noise} per level), got ",
            drl.table.description());
  return samples > 0 ? x.numel() / samples : 1;
}

// The CPU loop works on chunks of kChunk elements (whole groups): first the chunk's normals (per
// group the Philox block and Box–Muller pairs of the CUDA body), then the updates by
// langevin_element in a loop the compiler vectorises (the group functor langevin_group, run
// element by element here, would branch on every clamp: 20x slower without noise). Same EBM_HD
// functions, so the same bits as the kernel body (tests/cpu/test_langevin.cpp checks both against
// one formula).
constexpr int64_t kChunk = 1024;

template <LangevinMode M, bool Noise, class T>
void update_range(const LangevinArgs<T> a, const LangevinPtrs<T>& m, const float* z, int64_t lo,
                  int64_t hi, DrlCoeffs<T> c) {
  const T* x = m.x + lo;
  T* out = m.out + lo;  // may equal x: each element reads only its own inputs
  const int64_t len = hi - lo;
  if constexpr (M == LangevinMode::Noise) {
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) out[i] = langevin_element<M, Noise, T>(a, x[i], T(0), T(0), z[i], c);
  } else if constexpr (M == LangevinMode::Drl) {
    const T* g = m.grad + lo;
    const T* xt = m.x_tilde + lo;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) out[i] = langevin_element<M, Noise, T>(a, x[i], g[i], xt[i], z[i], c);
  } else {
    const T* g = m.grad + lo;
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) out[i] = langevin_element<M, Noise, T>(a, x[i], g[i], T(0), z[i], c);
  }
}

// z[i - lo] = philox::normal(seed, offset, i) for i in [lo, hi), lo a multiple of 4. For the
// usual offset % 4 == 0 (Generator::reserve) group j is Philox block offset/4 + lo/4 + j, with no
// branch in the loop body (langevin_normals4 without its unaligned-offset path; same bits).
template <class T>
void normals(const LangevinArgs<T>& a, int64_t lo, int64_t hi, float* z) {
  const int64_t groups = (hi - lo + 3) / 4;
  if ((a.offset & 3u) == 0) {
    const uint64_t q0 = (a.offset >> 2) + static_cast<uint64_t>(lo >> 2);
    const uint64_t seed = a.seed;
#pragma omp simd
    for (int64_t j = 0; j < groups; ++j) {
      const philox::U32x4 w = philox::block_at(seed, q0 + static_cast<uint64_t>(j));
      philox::box_muller(w.v[0], w.v[1], z[4 * j], z[4 * j + 1]);
      philox::box_muller(w.v[2], w.v[3], z[4 * j + 2], z[4 * j + 3]);
    }
  } else {
    for (int64_t j = 0; j < groups; ++j) langevin_normals4(a.seed, a.offset, lo + 4 * j, z + 4 * j);
  }
}

template <LangevinMode M, bool Noise, class T>
void run_cpu(const LangevinArgs<T>& args, const LangevinPtrs<T>& m) {
  const int64_t chunks = (args.n + kChunk - 1) / kChunk;
  cpu::parallel_for(chunks, (kChunk / 4) * (Noise ? kGroupCostNoise : kGroupCost),
                    [&](int64_t c_lo, int64_t c_hi) {
    const LangevinArgs<T> a = args;  // a local copy: the stores cannot alias it
    float z[kChunk] = {};
    for (int64_t ch = c_lo; ch < c_hi; ++ch) {
      const int64_t lo = ch * kChunk, hi = lo + kChunk < a.n ? lo + kChunk : a.n;
      if constexpr (Noise) normals(a, lo, hi, z);
      if constexpr (M == LangevinMode::Drl) {
        // One run per sample inside the chunk: the coefficients are constant along it.
        for (int64_t s_lo = lo; s_lo < hi;) {
          const int64_t sample = s_lo / a.per_sample;
          const int64_t s_hi = (sample + 1) * a.per_sample < hi ? (sample + 1) * a.per_sample : hi;
          update_range<M, Noise, T>(a, m, z + (s_lo - lo), s_lo, s_hi, langevin_drl_row(a, m, sample));
          s_lo = s_hi;
        }
      } else {
        update_range<M, Noise, T>(a, m, z, lo, hi, DrlCoeffs<T>{});
      }
    }
  });
}

template <class T>
void dispatch_cpu(LangevinMode mode, bool noise, const LangevinArgs<T>& a, const LangevinPtrs<T>& m) {
  switch (mode) {
#define EBM_CASE(MODE)                                                         \
  case LangevinMode::MODE:                                                     \
    return noise ? run_cpu<LangevinMode::MODE, true, T>(a, m)                  \
                 : run_cpu<LangevinMode::MODE, false, T>(a, m);
    EBM_CASE(Noise) EBM_CASE(Igebm) EBM_CASE(Sgld) EBM_CASE(Drl)
#undef EBM_CASE
  }
}

// The op; philox_state is a captured CUDA graph's {seed, base offset} (cuda only; see
// LangevinArgs), null for absolute (p.seed, p.offset).
void step(Tensor& x, const Tensor& grad, const LangevinParams& p, const LangevinDrlInputs& drl,
          const uint64_t* philox_state) {
  const int64_t per_sample = check_args(x, grad, p, drl);
  const bool is_drl = p.mode == LangevinMode::Drl;
  const int64_t n = x.numel(), levels = is_drl ? drl.table.size(0) : 0;
  const bool reads_grad = p.mode != LangevinMode::Noise;
  if (x.device().is_cuda()) {
#if defined(EBM_WITH_CUDA)
    EBM_CHECK(x.dtype() == DType::Float32, DTypeError, kOp,
              ": the CUDA backend supports float32 only, got ", x.description());
    x.bump_version();
    if (n == 0) return;
    LangevinPtrs<float> m;
    m.x = static_cast<const float*>(x.data_ptr());
    m.out = static_cast<float*>(x.data_ptr());
    if (reads_grad) m.grad = static_cast<const float*>(grad.data_ptr());
    if (is_drl) {
      m.x_tilde = static_cast<const float*>(drl.x_tilde.data_ptr());
      m.level = static_cast<const int64_t*>(drl.level.data_ptr());
      m.table = static_cast<const float*>(drl.table.data_ptr());
    }
    LangevinArgs<float> a = langevin_args<float>(p, n, per_sample, levels);
    a.philox_state = philox_state;
    cuda::DeviceGuard guard(x.device().index);
    cuda::langevin_step(p.mode, p.add_noise, a, m, cuda::current_stream(x.device().index));
    return;
#else
    require_cpu(x, kOp);
#endif
  }
  if (is_drl) {  // a level outside the table is an error here (the GPU can only poison it)
    const int64_t* t = drl.level.data<int64_t>();
    for (int64_t b = 0; b < drl.level.numel(); ++b)
      EBM_CHECK(t[b] >= 0 && t[b] < levels, ValueError, kOp, ": level[", b, "] = ", t[b],
                " is outside the table's ", levels, " levels");
  }
  x.bump_version();
  if (n == 0) return;
  EBM_DISPATCH_FLOAT(x.dtype(), kOp, [&] {
    LangevinPtrs<T> m;
    m.x = x.data<T>();
    m.out = x.data<T>();
    if (reads_grad) m.grad = grad.data<T>();
    if (is_drl) {
      m.x_tilde = drl.x_tilde.data<T>();
      m.level = drl.level.data<int64_t>();
      m.table = drl.table.data<T>();
    }
    dispatch_cpu<T>(p.mode, p.add_noise, langevin_args<T>(p, n, per_sample, levels), m);
  });
}

}  // namespace

void langevin_step_(Tensor& x, const Tensor& grad, const LangevinParams& p,
                    const LangevinDrlInputs& drl) {
  step(x, grad, p, drl, nullptr);
}

void langevin_step_(Tensor& x, const Tensor& grad, LangevinParams p, Generator& gen,
                    const LangevinDrlInputs& drl) {
  check_defined(x, kOp, "x");
  const uint64_t* philox_state = nullptr;
  if (p.add_noise) {
#if defined(EBM_WITH_CUDA)
    if (x.device().is_cuda()) {
      // Inside a graph capture on x's device the draw is relative to the graph's state.
      const cuda::PhiloxDraw d = cuda::philox_draw(gen, normal_words(x.numel()), x.device().index);
      p.seed = d.seed;
      p.offset = d.offset;
      philox_state = d.state;
    } else
#endif
    {
      p.seed = gen.seed();
      p.offset = gen.reserve(normal_words(x.numel()));
    }
  }
  step(x, grad, p, drl, philox_state);
}

Tensor drl_langevin_table(const std::vector<double>& s_sq, const std::vector<double>& sigma_next_sq,
                          const std::vector<double>& recovery, double noise_scale, DType dtype,
                          Device device) {
  const char* op = "drl_langevin_table";
  const size_t levels = s_sq.size();
  EBM_CHECK(levels >= 1 && sigma_next_sq.size() == levels && recovery.size() == levels,
            ShapeError, op, ": need one s_t^2, sigma_{t+1}^2 and r_{t+1} per level, got ",
            s_sq.size(), ", ", sigma_next_sq.size(), " and ", recovery.size());
  EBM_CHECK(std::isfinite(noise_scale) && noise_scale >= 0, ValueError, op,
            ": noise_scale must be finite and >= 0, got ", noise_scale);
  std::vector<double> rows(3 * levels);
  for (size_t t = 0; t < levels; ++t) {
    EBM_CHECK(std::isfinite(s_sq[t]) && s_sq[t] >= 0 && std::isfinite(sigma_next_sq[t]) &&
                  sigma_next_sq[t] > 0 && std::isfinite(recovery[t]),
              ValueError, op, ": level ", t, " needs s_t^2 >= 0, sigma_{t+1}^2 > 0, finite r; got ",
              s_sq[t], ", ", sigma_next_sq[t], ", ", recovery[t]);
    rows[3 * t + 0] = 0.5;
    rows[3 * t + 1] = recovery[t] * s_sq[t] / (2.0 * sigma_next_sq[t]);
    rows[3 * t + 2] = noise_scale * std::sqrt(s_sq[t]);
  }
  Tensor table = Tensor::from_vector(rows, {static_cast<int64_t>(levels), 3}).to(dtype);
  return table.to(device);
}

}  // namespace ops
}  // namespace ebm
