// Spectral normalisation's power iteration (core/ops/spectral_norm.h): argument checks, the CPU
// backend and, in a CUDA build, the hand-off of cuda layers to cuda/kernels/spectral_norm.cu on the
// device's current stream. CPU: per layer, t = Wᵀu (columns split over the threads, each column
// summed over the rows in order) and s = W v (rows split over the threads), both accumulated in
// double from the stored values, so the result does not depend on the thread count.
#include "core/ops/spectral_norm.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/spectral_norm.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

namespace {

constexpr const char* kOp = "spectral_norm_power_iteration_";

int64_t rows_of(const Tensor& w) { return w.size(0); }
int64_t cols_of(const Tensor& w) { return w.numel() / w.size(0); }

// Checks one layer (index l) against the dtype and device of layer 0.
void check_layer(const SpectralNormState& s, size_t l, const char* op, DType dtype, Device device) {
  EBM_CHECK(s.weight.defined(), ValueError, op, ": layer ", l, ": the weight is undefined");
  EBM_CHECK(s.weight.dtype() == DType::Float32 || s.weight.dtype() == DType::Float64, DTypeError,
            op, ": layer ", l, ": the weight must be float32 or float64, got ",
            s.weight.description());
  EBM_CHECK(s.weight.dim() >= 1 && s.weight.numel() > 0, ShapeError, op, ": layer ", l,
            ": the weight must have rank >= 1 and at least one element, got ",
            s.weight.description());
  const int64_t rows = rows_of(s.weight), cols = cols_of(s.weight);
  struct Buf {
    const Tensor& t;
    const char* name;
    int64_t size;
    const char* what;
  };
  for (const Buf& b : {Buf{s.u, "u", rows, "rows (size(0))"}, Buf{s.v, "v", cols, "columns (numel / size(0))"}}) {
    EBM_CHECK(b.t.defined(), ValueError, op, ": layer ", l, ": ", b.name, " is undefined");
    EBM_CHECK(b.t.dtype() == s.weight.dtype(), DTypeError, op, ": layer ", l, ": ", b.name, " is ",
              b.t.description(), " but the weight is ", s.weight.description());
    EBM_CHECK(b.t.device() == s.weight.device(), DeviceError, op, ": layer ", l, ": ", b.name,
              " is ", b.t.description(), " but the weight is ", s.weight.description());
    EBM_CHECK(b.t.dim() == 1 && b.t.size(0) == b.size, ShapeError, op, ": layer ", l, ": ", b.name,
              " must have shape [", b.size, "] (the ", b.what, " of the weight ",
              s.weight.description(), "), got ", b.t.description());
  }
  EBM_CHECK(s.weight.dtype() == dtype, DTypeError, op, ": layer ", l, " is ",
            dtype_name(s.weight.dtype()), " but layer 0 is ", dtype_name(dtype),
            " (one call takes one dtype)");
  EBM_CHECK(s.weight.device() == device, DeviceError, op, ": layer ", l, " is on ",
            s.weight.device(), " but layer 0 is on ", device, " (one call takes one device)");
}

// The in-place writes to u and v must not touch any other buffer of the call: sorts the byte
// ranges of all weights, u's and v's and sweeps once (O(L log L); runs on every call).
void check_overlaps(const std::vector<SpectralNormState>& layers, const char* op) {
  struct Range {
    uintptr_t begin, end;
    size_t layer;
    const char* name;
    bool written;
  };
  std::vector<Range> r;
  r.reserve(3 * layers.size());
  auto add = [&](const Tensor& t, size_t l, const char* name, bool written) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(t.data_ptr());
    r.push_back({b, b + t.nbytes(), l, name, written});
  };
  for (size_t l = 0; l < layers.size(); ++l) {
    add(layers[l].weight, l, "weight", false);
    add(layers[l].u, l, "u", true);
    add(layers[l].v, l, "v", true);
  }
  std::stable_sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  const Range* far_any = nullptr;      // of the ranges so far, the one reaching furthest
  const Range* far_written = nullptr;  // the same among u's and v's
  for (const Range& x : r) {
    const Range* hit = nullptr;
    if (x.written && far_any && far_any->end > x.begin) hit = far_any;
    else if (far_written && far_written->end > x.begin) hit = far_written;
    EBM_CHECK(hit == nullptr, ValueError, op, ": layer ", x.layer, "'s ", x.name,
              " overlaps layer ", hit->layer, "'s ", hit->name,
              " (u and v are written in place; give each layer its own buffers)");
    if (!far_any || x.end > far_any->end) far_any = &x;
    if (x.written && (!far_written || x.end > far_written->end)) far_written = &x;
  }
}

// t = Wᵀu: column blocks of kColBlock over the threads; each column summed over rows in order.
constexpr int64_t kColBlock = 64;

template <class T>
void matvec_t(const T* w, const T* u, int64_t rows, int64_t cols, double* t) {
  const int64_t blocks = (cols + kColBlock - 1) / kColBlock;
  cpu::parallel_for(blocks, rows * kColBlock, [&](int64_t b0, int64_t b1) {
    const int64_t c0 = b0 * kColBlock, c1 = std::min(b1 * kColBlock, cols);
    double* out = t + c0;
    const int64_t len = c1 - c0;
    std::fill(out, out + len, 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const double ur = static_cast<double>(u[r]);
      const T* row = w + r * cols + c0;
#pragma omp simd
      for (int64_t c = 0; c < len; ++c) out[c] += ur * static_cast<double>(row[c]);
    }
  });
}

// s = W v with v given in double: rows over the threads.
template <class T>
void matvec(const T* w, const double* v, int64_t rows, int64_t cols, double* s) {
  cpu::parallel_for(rows, cols, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* row = w + r * cols;
      double acc = 0.0;
#pragma omp simd reduction(+ : acc)
      for (int64_t c = 0; c < cols; ++c) acc += static_cast<double>(row[c]) * v[c];
      s[r] = acc;
    }
  });
}

double sum_sq(const std::vector<double>& x) {
  double s = 0.0;
  for (double e : x) s += e * e;
  return s;
}

// One layer: n_iter iterations in place, σ, and the copies of u and v (when not null).
template <class T>
void layer_cpu(const SpectralNormPtrs<T>& p, int n_iter, double eps, T* sigma, T* u_copy, T* v_copy) {
  const int64_t rows = p.rows, cols = p.cols;
  std::vector<double> t(cols), vd(cols), s(rows);
  for (int it = 0; it < n_iter; ++it) {
    matvec_t(p.weight, p.u, rows, cols, t.data());
    const double dt = spectral_norm_denom(sum_sq(t), eps);
    for (int64_t c = 0; c < cols; ++c) p.v[c] = static_cast<T>(t[c] / dt);
    for (int64_t c = 0; c < cols; ++c) vd[c] = static_cast<double>(p.v[c]);
    matvec(p.weight, vd.data(), rows, cols, s.data());
    const double ds = spectral_norm_denom(sum_sq(s), eps);
    for (int64_t r = 0; r < rows; ++r) p.u[r] = static_cast<T>(s[r] / ds);
  }
  if (n_iter == 0) {
    for (int64_t c = 0; c < cols; ++c) vd[c] = static_cast<double>(p.v[c]);
    matvec(p.weight, vd.data(), rows, cols, s.data());
  }
  double acc = 0.0;
  for (int64_t r = 0; r < rows; ++r) acc += static_cast<double>(p.u[r]) * s[r];
  *sigma = static_cast<T>(acc);
  if (u_copy) std::copy(p.u, p.u + rows, u_copy);
  if (v_copy) std::copy(p.v, p.v + cols, v_copy);
}

// All layers. A model's batch (at least two layers per thread) is one parallel region with the
// layers, largest first, handed out to the threads whole (each layer's matrix-vector products then
// run on one thread); fewer layers are split inside (columns / rows over the threads). Either way
// every sum has the same order, so the results do not depend on the thread count; and one region
// per call, not two per layer and iteration, keeps a busy machine's descheduled threads from
// stalling every product.
template <class T>
void run_cpu(const std::vector<SpectralNormPtrs<T>>& p, int n_iter, double eps, Tensor& sigma,
             Tensor& copies) {
  const int64_t n = static_cast<int64_t>(p.size());
  T* sig = sigma.data<T>();
  T* cp = copies.defined() ? copies.data<T>() : nullptr;
  std::vector<int64_t> copy_at(n, 0), order(n);
  for (int64_t l = 1; l < n; ++l) copy_at[l] = copy_at[l - 1] + p[l - 1].rows + p[l - 1].cols;
  for (int64_t l = 0; l < n; ++l) order[l] = l;
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return p[a].rows * p[a].cols > p[b].rows * p[b].cols;
  });
  auto one = [&](int64_t l) {
    layer_cpu<T>(p[l], n_iter, eps, sig + l, cp ? cp + copy_at[l] : nullptr,
                 cp ? cp + copy_at[l] + p[l].rows : nullptr);
  };
#if defined(_OPENMP)
  if (n >= 2 * omp_get_max_threads() && !omp_in_parallel()) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t i = 0; i < n; ++i) one(order[i]);
    return;
  }
#endif
  for (int64_t l = 0; l < n; ++l) one(l);
}

template <class T>
std::vector<SpectralNormPtrs<T>> pointers(const std::vector<SpectralNormState>& layers) {
  std::vector<SpectralNormPtrs<T>> p(layers.size());
  for (size_t l = 0; l < layers.size(); ++l) {
    p[l].weight = static_cast<const T*>(layers[l].weight.data_ptr());
    p[l].u = static_cast<T*>(layers[l].u.data_ptr());
    p[l].v = static_cast<T*>(layers[l].v.data_ptr());
    p[l].rows = rows_of(layers[l].weight);
    p[l].cols = cols_of(layers[l].weight);
  }
  return p;
}

Tensor run(std::vector<SpectralNormState>& layers, int n_iter, double eps, Tensor* uv_copies,
           const char* op) {
  EBM_CHECK(n_iter >= 0, ValueError, op, ": n_iter must be >= 0, got ", n_iter);
  EBM_CHECK(std::isfinite(eps) && eps >= 0, ValueError, op, ": eps must be finite and >= 0, got ",
            eps);
  if (layers.empty()) {
    if (uv_copies) *uv_copies = Tensor::empty({0});
    return Tensor::empty({0});
  }
  spectral_norm_check(layers, op);
  const DType dtype = layers[0].weight.dtype();
  const Device device = layers[0].weight.device();
  int64_t copy_elems = 0;
  for (const SpectralNormState& s : layers) copy_elems += s.u.numel() + s.v.numel();
  if (n_iter > 0) check_overlaps(layers, op);
  const int64_t n = static_cast<int64_t>(layers.size());
  Tensor sigma = Tensor::empty({n}, dtype, device);
  Tensor copies = uv_copies ? Tensor::empty({copy_elems}, dtype, device) : Tensor();
  if (device.is_cuda()) {
#if defined(EBM_WITH_CUDA)
    cuda::DeviceGuard guard(device.index);
    EBM_DISPATCH_FLOAT(dtype, op, [&] {
      const std::vector<SpectralNormPtrs<T>> p = pointers<T>(layers);
      const size_t bytes = cuda::spectral_norm_workspace_bytes(p.data(), n);
      // From the caching pool, stream-ordered: free again as soon as the kernels are queued.
      Tensor ws = Tensor::empty({static_cast<int64_t>((bytes + 7) / 8)}, DType::Float64, device);
      cuda::spectral_norm_power_iteration(
          p.data(), n, n_iter, eps, static_cast<T*>(sigma.data_ptr()),
          copies.defined() ? static_cast<T*>(copies.data_ptr()) : nullptr, ws.data_ptr(), bytes,
          cuda::current_stream(device.index));
    });
#else
    require_cpu(layers[0].weight, op);
#endif
  } else {
    EBM_DISPATCH_FLOAT(dtype, op, [&] { run_cpu<T>(pointers<T>(layers), n_iter, eps, sigma, copies); });
  }
  if (n_iter > 0)
    for (auto& s : layers) {
      s.u.bump_version();
      s.v.bump_version();
    }
  if (uv_copies) *uv_copies = copies;
  return sigma;
}

}  // namespace

void spectral_norm_check(const std::vector<SpectralNormState>& layers, const char* op) {
  if (layers.empty()) return;
  const Tensor& w0 = layers[0].weight;
  const DType dtype = w0.defined() ? w0.dtype() : DType::Float32;
  const Device device = w0.defined() ? w0.device() : Device::cpu();
  for (size_t l = 0; l < layers.size(); ++l) check_layer(layers[l], l, op, dtype, device);
}

Tensor spectral_norm_power_iteration_(std::vector<SpectralNormState>& layers, int n_iter, double eps) {
  return run(layers, n_iter, eps, nullptr, kOp);
}

Tensor spectral_norm_power_iteration_(std::vector<SpectralNormState>& layers, int n_iter,
                                      double eps, Tensor* uv_copies) {
  return run(layers, n_iter, eps, uv_copies, kOp);
}

Tensor spectral_norm_sigma(const Tensor& weight, const Tensor& u, const Tensor& v) {
  std::vector<SpectralNormState> one{{weight, u, v}};
  return run(one, 0, 0.0, nullptr, "spectral_norm_sigma").view(Shape{});
}

}  // namespace ebm::ops
