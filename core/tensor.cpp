#include "core/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/device_hooks.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/elementwise.h"  // the fill kernel
#include "cuda/stream.h"
#endif

namespace ebm {

namespace {

template <class Dst, class Src>
void convert(Dst* dst, const Src* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<Dst>(src[i]);
}

// Converts n host elements between the dtypes the CPU knows (float32, float64, int64).
void convert_host(void* dst, DType dt, const void* src, DType st, int64_t n) {
  auto with_src = [&](auto* d) {
    switch (st) {
      case DType::Float32: convert(d, static_cast<const float*>(src), n); return;
      case DType::Float64: convert(d, static_cast<const double*>(src), n); return;
      case DType::Int64: convert(d, static_cast<const int64_t*>(src), n); return;
      default: EBM_THROW(DTypeError, "copy_: conversion from ", dtype_name(st), " is not supported on the CPU");
    }
  };
  switch (dt) {
    case DType::Float32: with_src(static_cast<float*>(dst)); return;
    case DType::Float64: with_src(static_cast<double*>(dst)); return;
    case DType::Int64: with_src(static_cast<int64_t*>(dst)); return;
    default: EBM_THROW(DTypeError, "copy_: conversion to ", dtype_name(dt), " is not supported on the CPU");
  }
}

}  // namespace

const TensorImpl& Tensor::impl() const {
  EBM_CHECK(impl_, Error, "use of an undefined (empty) Tensor");
  return *impl_;
}
const Shape& Tensor::shape() const { return impl().shape; }
DType Tensor::dtype() const { return impl().dtype; }
Device Tensor::device() const { return impl().storage->device(); }
Storage& Tensor::storage() const { return *impl().storage; }

void* Tensor::data_ptr() const {
  const TensorImpl& i = impl();
  return static_cast<char*>(i.storage->data()) + i.offset * element_size(i.dtype);
}

template <class T>
T* Tensor::data() {
  return const_cast<T*>(static_cast<const Tensor*>(this)->data<T>());
}
template <class T>
const T* Tensor::data() const {
  EBM_CHECK(dtype() == dtype_of<T>::value, DTypeError, "Tensor::data: tensor is ",
            dtype_name(dtype()), ", requested ", dtype_name(dtype_of<T>::value));
  EBM_CHECK(device().is_cpu(), DeviceError, "Tensor::data: tensor is on ", device(),
            "; host access needs a cpu tensor (use .to(Device::cpu()))");
  return static_cast<const T*>(data_ptr());
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int64_t* Tensor::data<int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int64_t* Tensor::data<int64_t>() const;

std::string Tensor::description() const {
  if (!defined()) return "undefined tensor";
  return str(dtype_name(dtype()), shape(), " on ", device());
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(shape.numel() * element_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  return empty(shape, dtype, device).fill_(0.0);
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return empty(shape, dtype, device).fill_(1.0);
}
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  return empty(shape, dtype, device).fill_(value);
}
Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

namespace {
template <class T>
Tensor from_host(const std::vector<T>& values, const Shape& shape, Device device) {
  EBM_CHECK(static_cast<int64_t>(values.size()) == shape.numel(), ShapeError,
            "Tensor::from_vector: ", values.size(), " values do not fill shape ", shape, " (",
            shape.numel(), " elements)");
  Tensor host = Tensor::empty(shape, dtype_of<T>::value, Device::cpu());
  std::copy(values.begin(), values.end(), host.data<T>());
  return host.to(device);
}
}  // namespace

Tensor Tensor::from_vector(const std::vector<float>& v, const Shape& s, Device d) { return from_host(v, s, d); }
Tensor Tensor::from_vector(const std::vector<double>& v, const Shape& s, Device d) { return from_host(v, s, d); }
Tensor Tensor::from_vector(const std::vector<int64_t>& v, const Shape& s, Device d) { return from_host(v, s, d); }

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = to(Device::cpu()).to(dtype_of<T>::value);
  const T* p = host.data<T>();
  return std::vector<T>(p, p + host.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

double Tensor::item() const {
  EBM_CHECK(numel() == 1, ShapeError, "Tensor::item: tensor has shape ", shape(),
            "; item() needs exactly one element");
  return to_vector<double>()[0];
}

Tensor Tensor::view(const Shape& s) const {
  EBM_CHECK(s.numel() == numel(), ShapeError, "view: cannot view ", description(), " as shape ", s,
            " (", s.numel(), " elements vs ", numel(), ")");
  auto v = std::make_shared<TensorImpl>(impl());
  v->shape = s;
  v->meta = nullptr;
  return Tensor(std::move(v));
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  EBM_CHECK(dim() >= 1, ShapeError, "slice: needs at least one dimension, got ", description());
  int64_t n = shape()[0];
  EBM_CHECK(0 <= begin && begin <= end && end <= n, ShapeError, "slice: range [", begin, ", ", end,
            ") is outside dim 0 of ", description());
  auto v = std::make_shared<TensorImpl>(impl());
  v->shape[0] = end - begin;
  v->offset += begin * (n ? numel() / n : 0);
  v->meta = nullptr;
  return Tensor(std::move(v));
}

Tensor Tensor::select(int64_t i) const {
  Tensor row = slice(i, i + 1);
  std::vector<int64_t> dims = shape().vec();
  dims.erase(dims.begin());
  return row.view(Shape(dims));
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(Device d) const {
  if (device() == d) return *this;
  Tensor out = empty(shape(), dtype(), d);
  out.copy_(*this);
  return out;
}

Tensor Tensor::to(DType t) const {
  if (dtype() == t) return *this;
  Tensor out = empty(shape(), t, device());
  out.copy_(*this);
  return out;
}

Tensor Tensor::detach() const {
  auto v = std::make_shared<TensorImpl>(impl());
  v->meta = nullptr;
  return Tensor(std::move(v));
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined(src, "copy_", "src");
  EBM_CHECK(src.shape() == shape(), ShapeError, "copy_: source ", src.description(),
            " does not match destination ", description());
  bump_version();
  size_t bytes = nbytes();
  if (bytes == 0) return *this;
  if (device().is_cpu() && src.device().is_cpu()) {
    if (dtype() == src.dtype())
      std::memcpy(data_ptr(), src.data_ptr(), bytes);
    else
      convert_host(data_ptr(), dtype(), src.data_ptr(), src.dtype(), numel());
    return *this;
  }
  EBM_CHECK(dtype() == src.dtype(), DTypeError, "copy_: converting ", src.description(), " to ",
            description(), " across devices is not supported; convert on the CPU first");
  int dev = device().is_cuda() ? device().index : src.device().index;
  device_hooks::cuda_copy(data_ptr(), device().is_cuda(), src.data_ptr(), src.device().is_cuda(),
                          bytes, dev);
  return *this;
}

Tensor& Tensor::fill_(double value) {
  bump_version();
  int64_t n = numel();
  if (device().is_cuda()) {
    // The value's bits in the tensor's dtype: all-zero bits (not -0.0) are a memset, anything
    // else the fill kernel of cuda/elementwise.h.
    uint64_t bits = 0;
    switch (dtype()) {
      case DType::Float32: {
        float v = static_cast<float>(value);
        uint32_t u;
        std::memcpy(&u, &v, 4);
        bits = u;
        break;
      }
      case DType::Float64: std::memcpy(&bits, &value, 8); break;
      case DType::Int64: {
        int64_t v = static_cast<int64_t>(value);
        std::memcpy(&bits, &v, 8);
        break;
      }
      default:
        EBM_CHECK(value == 0.0 && !std::signbit(value), DTypeError, "fill_: a non-zero fill of ",
                  description(), " is not supported (float32, float64 and int64 are)");
    }
    if (bits == 0) {
      device_hooks::cuda_memset_zero(data_ptr(), nbytes(), device().index);
      return *this;
    }
#if defined(EBM_WITH_CUDA)
    cuda::DeviceGuard guard(device().index);
    cuda::fill(data_ptr(), n, static_cast<int>(element_size(dtype())), bits,
               cuda::current_stream(device().index));
    return *this;
#else
    EBM_THROW(DeviceError, "fill_: ", description(), " needs the CUDA backend, which this build lacks");
#endif
  }
  switch (dtype()) {
    case DType::Float32: std::fill_n(data<float>(), n, static_cast<float>(value)); break;
    case DType::Float64: std::fill_n(data<double>(), n, value); break;
    case DType::Int64: std::fill_n(data<int64_t>(), n, static_cast<int64_t>(value)); break;
    default: EBM_THROW(DTypeError, "fill_: dtype ", dtype_name(dtype()), " is not supported on the CPU");
  }
  return *this;
}

bool Tensor::shares_storage_with(const Tensor& other) const {
  return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

// ---- autograd state
AutogradMeta& Tensor::autograd_meta() {
  EBM_CHECK(impl_, Error, "autograd state requested on an undefined Tensor");
  if (!impl_->meta) impl_->meta = std::make_shared<AutogradMeta>();
  return *impl_->meta;
}
const std::shared_ptr<AutogradMeta>& Tensor::autograd_meta_ptr() const { return impl().meta; }

Tensor& Tensor::set_requires_grad(bool on) {
  EBM_CHECK(!on || is_floating(dtype()), DTypeError, "set_requires_grad: ", description(),
            " is not a floating-point tensor");
  autograd_meta().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  const auto& m = impl().meta;
  return m && m->grad ? *m->grad : Tensor();
}
void Tensor::set_grad(const Tensor& g) {
  autograd_meta().grad = g.defined() ? std::make_shared<Tensor>(g) : nullptr;
}
void Tensor::zero_grad() {
  if (impl_ && impl_->meta) impl_->meta->grad = nullptr;
}
const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  const auto& m = impl().meta;
  return m ? m->grad_fn : none;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  os << "Tensor(" << t.description();
  if (t.defined() && t.numel() <= 16 && is_floating(t.dtype()) && t.dtype() != DType::BFloat16 &&
      t.dtype() != DType::Float16) {
    os << ", [";
    auto v = t.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    os << "]";
  }
  return os << ")";
}

// ---- checks
void check_defined(const Tensor& t, const char* op, const char* arg) {
  EBM_CHECK(t.defined(), ValueError, op, ": argument '", arg, "' is an undefined tensor");
}
void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  EBM_CHECK(a.device() == b.device(), DeviceError, op, ": tensors are on different devices: ",
            a.description(), " and ", b.description());
}
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  EBM_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": dtypes differ: ", a.description(), " and ",
            b.description());
}
void check_same_shape(const Tensor& a, const Tensor& b, const char* op) {
  EBM_CHECK(a.shape() == b.shape(), ShapeError, op, ": shapes differ: ", a.description(), " and ",
            b.description());
}
void check_dim(const Tensor& t, int ndim, const char* op, const char* arg) {
  EBM_CHECK(t.dim() == ndim, ShapeError, op, ": argument '", arg, "' must have ", ndim,
            " dimensions, got ", t.description());
}
void check_float(const Tensor& t, const char* op, const char* arg) {
  EBM_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, DTypeError, op,
            ": argument '", arg, "' must be float32 or float64, got ", t.description());
}

}  // namespace ebm
