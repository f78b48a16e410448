// CPU backend of the indexing ops: concat/split and index_select as row copies (memcpy, so any
// dtype), index_add/gather/scatter as loops, and the cross-entropy pair calling the shared
// EBM_HD row functor. Index values are validated serially before any parallel loop runs, so no
// exception is ever thrown inside an OpenMP region.
#include "core/ops/index.h"

#include <cstring>
#include <vector>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

namespace ebm::ops {

namespace {

// Copies, for every outer index o, `bytes` bytes from src + o * src_stride to
// dst + o * dst_stride (strides in bytes): one piece of a concat or split.
void copy_strided_rows(char* dst, int64_t dst_stride, const char* src, int64_t src_stride,
                       int64_t bytes, int64_t outer) {
  if (bytes == 0) return;
  cpu::parallel_for(outer, bytes / 4 + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      std::memcpy(dst + o * dst_stride, src + o * src_stride, bytes);
  });
}

// Product of dims [begin, end) of s.
int64_t dims_product(const Shape& s, int begin, int end) {
  int64_t p = 1;
  for (int i = begin; i < end; ++i) p *= s[i];
  return p;
}

void check_index(const Tensor& index, int64_t bound, const Tensor& x, const char* op) {
  check_defined(index, op, "index");
  EBM_CHECK(index.dtype() == DType::Int64, DTypeError, op,
            ": argument 'index' must be int64, got ", index.description());
  check_dim(index, 1, op, "index");
  check_same_device(index, x, op);
  require_cpu(index, op);
  const int64_t* ip = index.data<int64_t>();
  for (int64_t k = 0; k < index.numel(); ++k)
    EBM_CHECK(ip[k] >= 0 && ip[k] < bound, ValueError, op, ": index ", ip[k], " at position ", k,
              " is out of range [0, ", bound, ") for dim 0 (", x.description(), ")");
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
  require_cpu(labels, op);
  const int64_t* lp = labels.data<int64_t>();
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
  require_cpu(first, "concat");
  Shape out_shape(out_dims);
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const int64_t es = static_cast<int64_t>(element_size(first.dtype()));
  int64_t outer = dims_product(out_shape, 0, d);
  int64_t inner = dims_product(out_shape, d + 1, out_shape.ndim());
  int64_t out_row = out_dims[d] * inner * es, at = 0;
  char* dst = static_cast<char*>(out.data_ptr());
  for (const Tensor& x : xs) {
    int64_t row = x.size(d) * inner * es;
    copy_strided_rows(dst + at, out_row, static_cast<const char*>(x.data_ptr()), row, row, outer);
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
  require_cpu(x, "split");
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
    copy_strided_rows(static_cast<char*>(piece.data_ptr()), row, src + at, in_row, row, outer);
    at += row;
    out.push_back(piece);
  }
  return out;
}

Tensor index_select(const Tensor& x, const Tensor& index) {
  check_defined(x, "index_select", "x");
  EBM_CHECK(x.dim() >= 1, ShapeError, "index_select: x needs at least one dimension, got ",
            x.description());
  require_cpu(x, "index_select");
  check_index(index, x.size(0), x, "index_select");
  std::vector<int64_t> dims = x.shape().vec();
  dims[0] = index.numel();
  Tensor out = Tensor::empty(Shape(dims), x.dtype(), x.device());
  const int64_t row =
      dims_product(x.shape(), 1, x.dim()) * static_cast<int64_t>(element_size(x.dtype()));
  const int64_t* ip = index.data<int64_t>();
  const char* src = static_cast<const char*>(x.data_ptr());
  char* dst = static_cast<char*>(out.data_ptr());
  if (row == 0) return out;
  cpu::parallel_for(index.numel(), row / 4 + 1, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) std::memcpy(dst + k * row, src + ip[k] * row, row);
  });
  return out;
}

Tensor index_add(const Tensor& src, const Tensor& index, int64_t rows) {
  check_defined(src, "index_add", "src");
  check_float(src, "index_add", "src");
  EBM_CHECK(src.dim() >= 1 && index.defined() && src.size(0) == index.numel(), ShapeError,
            "index_add: src ", src.description(), " needs one row per index entry (index ",
            index.description(), ")");
  EBM_CHECK(rows >= 0, ShapeError, "index_add: negative row count ", rows);
  require_cpu(src, "index_add");
  std::vector<int64_t> dims = src.shape().vec();
  dims[0] = rows;
  Tensor out = Tensor::zeros(Shape(dims), src.dtype(), src.device());
  check_index(index, rows, out, "index_add");
  const int64_t row = dims_product(src.shape(), 1, src.dim()), K = index.numel();
  const int64_t* ip = index.data<int64_t>();
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
  require_cpu(x, "gather");
  const int64_t N = x.size(0), C = x.size(1);
  check_labels(labels, N, C, x, "gather");
  Tensor out = Tensor::empty({N}, x.dtype(), x.device());
  const int64_t* lp = labels.data<int64_t>();
  EBM_DISPATCH_FLOAT(x.dtype(), "gather", [&] {
    const T* xp = x.data<T>();
    T* op = out.data<T>();
    for (int64_t i = 0; i < N; ++i) op[i] = xp[i * C + lp[i]];
  });
  return out;
}

Tensor scatter(const Tensor& src, const Tensor& labels, int64_t num_classes) {
  check_defined(src, "scatter", "src");
  check_float(src, "scatter", "src");
  check_dim(src, 1, "scatter", "src");
  require_cpu(src, "scatter");
  const int64_t N = src.size(0), C = num_classes;
  check_labels(labels, N, C, src, "scatter");
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
  const int64_t N = labels.size(0);
  check_labels(labels, N, num_classes, labels, "one_hot");
  Tensor out = Tensor::zeros({N, num_classes}, dtype, labels.device());
  const int64_t* lp = labels.data<int64_t>();
  EBM_DISPATCH_FLOAT(dtype, "one_hot", [&] {
    T* op = out.data<T>();
    for (int64_t i = 0; i < N; ++i) op[i * num_classes + lp[i]] = T(1);
  });
  return out;
}

namespace {

void check_cross_entropy_args(const Tensor& logits, const Tensor& labels, const char* op) {
  check_defined(logits, op, "logits");
  check_float(logits, op, "logits");
  check_dim(logits, 2, op, "logits");
  require_cpu(logits, op);
  EBM_CHECK(logits.size(0) >= 1 && logits.size(1) >= 1, ShapeError, op,
            ": logits need at least one row and one class, got ", logits.description());
  check_labels(labels, logits.size(0), logits.size(1), logits, op);
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  check_cross_entropy_args(logits, labels, "cross_entropy");
  const int64_t N = logits.size(0), C = logits.size(1);
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
  check_cross_entropy_args(logits, labels, "cross_entropy_backward");
  check_defined(grad, "cross_entropy_backward", "grad");
  EBM_CHECK(grad.numel() == 1, ShapeError,
            "cross_entropy_backward: grad must hold one value (the loss is a scalar), got ",
            grad.description());
  const int64_t N = logits.size(0), C = logits.size(1);
  const int64_t* lp = labels.data<int64_t>();
  const double scale = grad.item() / static_cast<double>(N);
  Tensor out = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
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
        for (int64_t c = 0; c < C; ++c) gr[c] = math::exp(xr[c] - lse) * s;
        gr[lp[i]] -= s;
      }
    });
  });
  return out;
}

}  // namespace ebm::ops
