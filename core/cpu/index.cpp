// CPU backend of the indexing ops: concat/split and index_select as row copies (memcpy, so any
// dtype), index_add/gather/scatter as loops, and the cross-entropy pair calling the shared
// EBM_HD row functors. Index values are validated serially before any parallel loop runs, so no
// exception is ever thrown inside an OpenMP region. In a CUDA build the entry points hand cuda
// tensors, after the same checks, to the launchers of cuda/index.h on the tensor's device and
// current stream. Index and label values of a cuda tensor are validated on the host (one copy
// and a wait for the stream): an op must raise its ValueError before it returns.
#include "core/ops/index.h"

#include <cstring>
#include <vector>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/index.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

namespace {

// True for a tensor the CUDA backend takes (a cuda tensor in a CUDA build); a CPU-only build
// refuses a cuda tensor here with a DeviceError naming the op.
bool on_cuda(const Tensor& t, const char* op) {
#if defined(EBM_WITH_CUDA)
  if (t.device().is_cuda()) return true;
#endif
  require_cpu(t, op);
  return false;
}

template <class T>
const T* cptr(const Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <class T>
T* mptr(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// The values of an int64 tensor, readable on the host: its own data on the CPU, a copy of a cuda
// tensor's (which waits for the device's stream).
class HostInt64 {
 public:
  explicit HostInt64(const Tensor& t) {
    if (t.device().is_cpu())
      cpu_ = t.data<int64_t>();
    else
      copy_ = t.to_vector<int64_t>();
  }
  const int64_t* get() const { return cpu_ ? cpu_ : copy_.data(); }

 private:
  const int64_t* cpu_ = nullptr;  // the tensor's own data (cpu), else null
  std::vector<int64_t> copy_;     // a cuda tensor's values
};

// For every outer index o, `bytes` bytes from src + r * src_stride, r = index[o] (o when index is
// null), to dst + o * dst_stride (strides in bytes), on `device`: one piece of a concat or split,
// or an index_select. A cuda copy reads the index from device memory, a CPU copy from the host.
void copy_rows(Device device, char* dst, int64_t dst_stride, const char* src, int64_t src_stride,
               int64_t bytes, int64_t outer, const int64_t* index) {
  if (bytes == 0 || outer == 0) return;
#if defined(EBM_WITH_CUDA)
  if (device.is_cuda()) {
    cuda::DeviceGuard guard(device.index);
    cuda::copy_rows(dst, dst_stride, src, src_stride, bytes, outer, index,
                    cuda::current_stream(device.index));
    return;
  }
#endif
  (void)device;
  cpu::parallel_for(outer, bytes / 4 + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      std::memcpy(dst + o * dst_stride, src + (index ? index[o] : o) * src_stride, bytes);
  });
}

// Product of dims [begin, end) of s.
int64_t dims_product(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s[i];
  return p;
}

// Checks an index tensor against dim 0 of x (bound rows) and returns its values on the host.
HostInt64 check_index(const Tensor& index, int64_t bound, const Tensor& x, const char* op) {
  check_defined(index, op, "index");
  EBM_CHECK(index.dtype() == DType::Int64, DTypeError, op,
            ": argument 'index' must be int64, got ", index.description());
  check_dim(index, 1, op, "index");
  check_same_device(index, x, op);
  HostInt64 values(index);
  const int64_t* ip = values.get();
  for (int64_t k = 0; k < index.numel(); ++k)
    EBM_CHECK(ip[k] >= 0 && ip[k] < bound, ValueError, op, ": index ", ip[k], " at position ", k,
              " is out of range [0, ", bound, ") for dim 0 (", x.description(), ")");
  return values;
}

}  // namespace

void check_labels(const Tensor& labels, int64_t n, int64_t num_classes, const Tensor& like,
                  const char* op, const char* arg) {
  check_defined(labels, op, arg);
  EBM_CHECK(labels.dtype() == DType::Int64, DTypeError, op, ": argument '", arg,
            "' must be int64, got ", labels.description());
  EBM_CHECK(labels.dim() == 1 && labels.size(0) == n, ShapeError, op, ": argument '", arg,
            "' must have shape [", n, "] to match ", like.description(), ", got ",
            labels.description());
  check_same_device(labels, like, op);
  HostInt64 values(labels);  // a cuda tensor's values are checked on the host
  const int64_t* lp = values.get();
  for (int64_t i = 0; i < n; ++i)
    EBM_CHECK(lp[i] >= 0 && lp[i] < num_classes, ValueError, op, ": label ", lp[i],
              " at position ", i, " is out of range for ", num_classes, " classes (valid: 0 to ",
              num_classes - 1, ")");
}

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  EBM_CHECK(!xs.empty(), ValueError, "concat: needs at least one tensor, got an empty list");
  for (const Tensor& x : xs) check_defined(x, "concat", "xs");
  const Tensor& first = xs[0];
  EBM_CHECK(first.dim() >= 1, ShapeError, "concat: tensors need at least one dimension, got ",
            first.description());
  int d = first.shape().axis(dim, "concat");
  std::vector<int64_t> out_dims = first.shape().vec();
  out_dims[d] = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    check_same_dtype(first, x, "concat");
    check_same_device(first, x, "concat");
    bool ok = x.dim() == first.dim();
    for (int i = 0; ok && i < x.dim(); ++i) ok = i == d || x.size(i) == first.size(i);
    EBM_CHECK(ok, ShapeError, "concat: along dim ", d, " every other dim must match, but tensor ",
              k, " is ", x.description(), " and tensor 0 is ", first.description());
    out_dims[d] += x.size(d);
  }
  on_cuda(first, "concat");
  Shape out_shape(out_dims);
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const int64_t es = static_cast<int64_t>(element_size(first.dtype()));
  int64_t outer = dims_product(out_shape, 0, d);
  int64_t inner = dims_product(out_shape, d + 1, out_shape.ndim());
  int64_t out_row = out_dims[d] * inner * es, at = 0;
  char* dst = static_cast<char*>(out.data_ptr());
  for (const Tensor& x : xs) {
    int64_t row = x.size(d) * inner * es;
    copy_rows(out.device(), dst + at, out_row, static_cast<const char*>(x.data_ptr()), row, row,
              outer, nullptr);
    at += row;
  }
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  check_defined(x, "split", "x");
  EBM_CHECK(x.dim() >= 1, ShapeError, "split: needs at least one dimension, got ", x.description());
  int d = x.shape().axis(dim, "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    EBM_CHECK(s >= 0, ShapeError, "split: negative piece size ", s, " for ", x.description());
    total += s;
  }
  EBM_CHECK(total == x.size(d), ShapeError, "split: piece sizes add up to ", total, " but dim ", d,
            " of ", x.description(), " has size ", x.size(d));
  on_cuda(x, "split");
  const int64_t es = static_cast<int64_t>(element_size(x.dtype()));
  int64_t outer = dims_product(x.shape(), 0, d), inner = dims_product(x.shape(), d + 1, x.dim());
  int64_t in_row = x.size(d) * inner * es, at = 0;
  const char* src = static_cast<const char*>(x.data_ptr());
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  for (int64_t s : sizes) {
    std::vector<int64_t> dims = x.shape().vec();
    dims[d] = s;
    Tensor piece = Tensor::empty(Shape(dims), x.dtype(), x.device());
    int64_t row = s * inner * es;
    copy_rows(x.device(), static_cast<char*>(piece.data_ptr()), row, src + at, in_row, row, outer,
              nullptr);
    at += row;
    out.push_back(piece);
  }
  return out;
}

Tensor index_select(const Tensor& x, const Tensor& index) {
  check_defined(x, "index_select", "x");
  EBM_CHECK(x.dim() >= 1, ShapeError, "index_select: x needs at least one dimension, got ",
            x.description());
  const bool cuda = on_cuda(x, "index_select");
  HostInt64 host_index = check_index(index, x.size(0), x, "index_select");
  std::vector<int64_t> dims = x.shape().vec();
  dims[0] = index.numel();
  Tensor out = Tensor::empty(Shape(dims), x.dtype(), x.device());
  const int64_t row =
      dims_product(x.shape(), 1, x.dim()) * static_cast<int64_t>(element_size(x.dtype()));
  // The copy reads the index where it runs: device memory for a cuda tensor, else the host.
  copy_rows(x.device(), static_cast<char*>(out.data_ptr()), row,
            static_cast<const char*>(x.data_ptr()), row, row, index.numel(),
            cuda ? cptr<int64_t>(index) : host_index.get());
  return out;
}

Tensor index_add(const Tensor& src, const Tensor& index, int64_t rows) {
  check_defined(src, "index_add", "src");
  check_float(src, "index_add", "src");
  EBM_CHECK(src.dim() >= 1 && index.defined() && src.size(0) == index.numel(), ShapeError,
            "index_add: src ", src.description(), " needs one row per index entry (index ",
            index.description(), ")");
  EBM_CHECK(rows >= 0, ShapeError, "index_add: negative row count ", rows);
  const bool cuda = on_cuda(src, "index_add");
  std::vector<int64_t> dims = src.shape().vec();
  dims[0] = rows;
  // The CUDA kernel writes every output (0 where no index entry points), so no zero fill there.
  Tensor out = cuda ? Tensor::empty(Shape(dims), src.dtype(), src.device())
                    : Tensor::zeros(Shape(dims), src.dtype(), src.device());
  HostInt64 host_index = check_index(index, rows, out, "index_add");
  const int64_t row = dims_product(src.shape(), 1, src.dim()), K = index.numel();
  const int64_t* ip = host_index.get();
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    if (rows == 0 || row == 0) return out;
    // Group the positions by target row, stably (a counting sort on the host, where the values
    // already are): offsets [rows + 1] then order [K], one upload. Each output then adds its
    // entries in index order, as the CPU loop does: the same bits, no atomics.
    Tensor plan = Tensor::from_vector(cuda::index_add_plan(ip, K, rows), Shape{rows + 1 + K},
                                      src.device());
    const int dev = src.device().index;
    cuda::DeviceGuard guard(dev);
    const int64_t* plan_p = cptr<int64_t>(plan);
    EBM_DISPATCH_FLOAT(src.dtype(), "index_add", [&] {
      cuda::index_add(K ? cptr<T>(src) : nullptr, plan_p, plan_p + rows + 1, mptr<T>(out), rows,
                      row, cuda::current_stream(dev));
    });
    return out;
  }
#endif
  EBM_DISPATCH_FLOAT(src.dtype(), "index_add", [&] {
    const T* s = src.data<T>();
    T* o = out.data<T>();
    // Threads own column ranges and walk all K rows in order: no races, and repeated indices
    // accumulate in the same order on every run.
    cpu::parallel_for(row, K, [&](int64_t c0, int64_t c1) {
      for (int64_t k = 0; k < K; ++k) {
        const T* sr = s + k * row;
        T* orow = o + ip[k] * row;
        for (int64_t c = c0; c < c1; ++c) orow[c] += sr[c];
      }
    });
  });
  return out;
}

Tensor gather(const Tensor& x, const Tensor& labels) {
  check_defined(x, "gather", "x");
  check_float(x, "gather", "x");
  check_dim(x, 2, "gather", "x");
  const bool cuda = on_cuda(x, "gather");
  const int64_t N = x.size(0), C = x.size(1);
  check_labels(labels, N, C, x, "gather");
  Tensor out = Tensor::empty({N}, x.dtype(), x.device());
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    const int dev = x.device().index;
    cuda::DeviceGuard guard(dev);
    EBM_DISPATCH_FLOAT(x.dtype(), "gather", [&] {
      cuda::gather(cptr<T>(x), cptr<int64_t>(labels), mptr<T>(out), N, C,
                   cuda::current_stream(dev));
    });
    return out;
  }
#endif
  (void)cuda;
  const int64_t* lp = labels.data<int64_t>();
  EBM_DISPATCH_FLOAT(x.dtype(), "gather", [&] {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for (int64_t i = 0; i < N; ++i) op[i] = xp[i * C + lp[i]];
  });
  return out;
}

namespace {

// scatter (src defined) and one_hot (src undefined: ones) on the CUDA backend: one pass that
// writes every element of out [N, C].
#if defined(EBM_WITH_CUDA)
void scatter_cuda(const Tensor& src, const Tensor& labels, Tensor& out, const char* op) {
  const int dev = out.device().index;
  cuda::DeviceGuard guard(dev);
  EBM_DISPATCH_FLOAT(out.dtype(), op, [&] {
    cuda::scatter(src.defined() ? cptr<T>(src) : nullptr, cptr<int64_t>(labels), mptr<T>(out),
                  out.size(0), out.size(1), cuda::current_stream(dev));
  });
}
#endif

}  // namespace

Tensor scatter(const Tensor& src, const Tensor& labels, int64_t num_classes) {
  check_defined(src, "scatter", "src");
  check_float(src, "scatter", "src");
  check_dim(src, 1, "scatter", "src");
  const bool cuda = on_cuda(src, "scatter");
  const int64_t N = src.size(0), C = num_classes;
  check_labels(labels, N, C, src, "scatter");
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    Tensor out = Tensor::empty({N, C}, src.dtype(), src.device());
    scatter_cuda(src, labels, out, "scatter");
    return out;
  }
#endif
  (void)cuda;
  Tensor out = Tensor::zeros({N, C}, src.dtype(), src.device());
  const int64_t* lp = labels.data<int64_t>();
  EBM_DISPATCH_FLOAT(src.dtype(), "scatter", [&] {
    const T* sp = src.data<T>();
    T* op = out.data<T>();
    for (int64_t i = 0; i < N; ++i) op[i * C + lp[i]] = sp[i];
  });
  return out;
}

Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype) {
  check_defined(labels, "one_hot", "labels");
  EBM_CHECK(labels.dim() == 1, ShapeError, "one_hot: labels must be 1-D, got ",
            labels.description());
  const bool cuda = on_cuda(labels, "one_hot");
  const int64_t N = labels.size(0);
  check_labels(labels, N, num_classes, labels, "one_hot");
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    EBM_CHECK(dtype == DType::Float32 || dtype == DType::Float64, DTypeError,
              "one_hot: dtype ", dtype_name(dtype),
              " is not supported on this backend (expected float32 or float64)");
    Tensor out = Tensor::empty({N, num_classes}, dtype, labels.device());
    scatter_cuda(Tensor(), labels, out, "one_hot");
    return out;
  }
#endif
  (void)cuda;
  Tensor out = Tensor::zeros({N, num_classes}, dtype, labels.device());
  const int64_t* lp = labels.data<int64_t>();
  EBM_DISPATCH_FLOAT(dtype, "one_hot", [&] {
    T* op = out.data<T>();
    for (int64_t i = 0; i < N; ++i) op[i * num_classes + lp[i]] = T(1);
  });
  return out;
}

namespace {

// Checks the pair's arguments; true when they go to the CUDA backend.
bool check_cross_entropy_args(const Tensor& logits, const Tensor& labels, const char* op) {
  check_defined(logits, op, "logits");
  check_float(logits, op, "logits");
  check_dim(logits, 2, op, "logits");
  const bool cuda = on_cuda(logits, op);
  EBM_CHECK(logits.size(0) >= 1 && logits.size(1) >= 1, ShapeError, op,
            ": logits need at least one row and one class, got ", logits.description());
  check_labels(labels, logits.size(0), logits.size(1), logits, op);
  return cuda;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  const bool cuda = check_cross_entropy_args(logits, labels, "cross_entropy");
  const int64_t N = logits.size(0), C = logits.size(1);
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    // Row losses in a device workspace (pooled), then a fixed-order sum in double.
    Tensor row_loss = Tensor::empty({N}, DType::Float64, logits.device());
    Tensor out = Tensor::empty(Shape{}, logits.dtype(), logits.device());
    const int dev = logits.device().index;
    cuda::DeviceGuard guard(dev);
    EBM_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
      cuda::cross_entropy(cptr<T>(logits), cptr<int64_t>(labels), N, C, mptr<double>(row_loss),
                          mptr<T>(out), cuda::current_stream(dev));
    });
    return out;
  }
#endif
  (void)cuda;
  const int64_t* lp = labels.data<int64_t>();
  std::vector<double> row_loss(N);
  EBM_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    const T* x = logits.data<T>();
    cpu::parallel_for(N, 4 * C, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        T lse;
        row_loss[i] = static_cast<double>(cross_entropy_row<T>(x + i * C, C, lp[i], lse));
      }
    });
  });
  double total = 0;  // summed serially: the same value whatever the thread count
  for (double l : row_loss) total += l;
  return Tensor::scalar(total / static_cast<double>(N), logits.dtype(), logits.device());
}

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad) {
  const bool cuda = check_cross_entropy_args(logits, labels, "cross_entropy_backward");
  check_defined(grad, "cross_entropy_backward", "grad");
  EBM_CHECK(grad.numel() == 1, ShapeError,
            "cross_entropy_backward: grad must hold one value (the loss is a scalar), got ",
            grad.description());
  const int64_t N = logits.size(0), C = logits.size(1);
  Tensor out = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
#if defined(EBM_WITH_CUDA)
  if (cuda) {
    // A gradient beside the logits is read by the kernel (no wait for the stream); any other is
    // read here.
    const bool grad_on_device = grad.device() == logits.device() && grad.dtype() == logits.dtype();
    const double grad_value = grad_on_device ? 0.0 : grad.item();
    Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
    const int dev = logits.device().index;
    cuda::DeviceGuard guard(dev);
    EBM_DISPATCH_FLOAT(logits.dtype(), "cross_entropy_backward", [&] {
      cuda::cross_entropy_backward(cptr<T>(logits), cptr<int64_t>(labels), N, C,
                                   grad_on_device ? cptr<T>(grad) : nullptr, grad_value,
                                   mptr<T>(lse), mptr<T>(out), cuda::current_stream(dev));
    });
    return out;
  }
#endif
  (void)cuda;
  const int64_t* lp = labels.data<int64_t>();
  const double scale = grad.item() / static_cast<double>(N);
  EBM_DISPATCH_FLOAT(logits.dtype(), "cross_entropy_backward", [&] {
    const T* x = logits.data<T>();
    T* g = out.data<T>();
    const T s = static_cast<T>(scale);
    cpu::parallel_for(N, 4 * C, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T* xr = x + i * C;
        T* gr = g + i * C;
        T lse;
        cross_entropy_row<T>(xr, C, lp[i], lse);
        for (int64_t c = 0; c < C; ++c) gr[c] = cross_entropy_grad<T>(xr[c], lse, s, c == lp[i]);
      }
    });
  });
  return out;
}

}  // namespace ebm::ops
