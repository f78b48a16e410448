// The tensor: contiguous row-major (NCHW) data of up to 5 dims in reference-counted storage,
// with a dtype and a device tag. Copies of a Tensor share one TensorImpl (like a PyTorch
// Tensor object); views (view, slice) make a new impl over the same storage.
//
// Methods here are raw: they record nothing for autograd. Differentiable versions of the view
// ops are ebm::reshape / ebm::slice in autograd/ops.h.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace ebm {

class Node;  // autograd graph node, defined in autograd/node.h
class Tensor;

// Autograd state of a tensor. Leaves (parameters, Langevin samples) have requires_grad and no
// grad_fn; results of recorded ops have grad_fn and the output slot they came from.
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<Tensor> grad;     // accumulated by backward(); null until then
  std::shared_ptr<Node> grad_fn;    // producer, for non-leaves
  int output_nr = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::Float32;
  std::shared_ptr<AutogradMeta> meta;  // null when nothing autograd-related was ever set
};

class Tensor {
 public:
  Tensor() = default;

  // ---- creation
  static Tensor empty(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::Float32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::Float32,
                     Device device = Device::cpu());
  // Copies host values into a new tensor; throws when values.size() != shape.numel().
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor from_vector(const std::vector<int64_t>& values, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::Float32, Device device = Device::cpu());

  // ---- description
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int dim() const { return shape().ndim(); }
  int64_t size(int i) const { return shape().size(i); }
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  size_t nbytes() const { return numel() * element_size(dtype()); }
  std::string description() const;  // e.g. "float32[2, 3] on cpu"

  // ---- data access (host pointers only for CPU tensors)
  template <class T> T* data();
  template <class T> const T* data() const;
  void* data_ptr() const;  // raw pointer on the tensor's device
  template <class T> std::vector<T> to_vector() const;  // copies to host, converting to T
  double item() const;  // the single value of a one-element tensor

  // ---- raw views and copies
  Tensor view(const Shape& shape) const;       // same numel, shares storage
  Tensor slice(int64_t begin, int64_t end) const;  // rows [begin, end) of dim 0, shares storage
  Tensor select(int64_t i) const;             // row i of dim 0 without that dim
  Tensor clone() const;
  Tensor to(Device device) const;  // returns *this when already there
  Tensor to(DType dtype) const;    // returns *this when already of that dtype
  Tensor detach() const;           // shares storage, no autograd state
  Tensor& copy_(const Tensor& src);  // same shape; any devices; converts dtype on the CPU
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  bool shares_storage_with(const Tensor& other) const;
  Storage& storage() const;
  // Marks an in-place write (bumps the storage version autograd checks).
  void bump_version() const { storage().bump_version(); }

  // ---- autograd state (the graph itself lives in autograd/)
  bool requires_grad() const { return impl_ && impl_->meta && impl_->meta->requires_grad; }
  Tensor& set_requires_grad(bool on = true);
  Tensor grad() const;  // undefined until a backward() reached this leaf
  void set_grad(const Tensor& g);
  void zero_grad();  // drops the accumulated gradient
  const std::shared_ptr<Node>& grad_fn() const;
  bool is_leaf() const { return !grad_fn(); }
  AutogradMeta& autograd_meta();  // created on first use
  const std::shared_ptr<AutogradMeta>& autograd_meta_ptr() const;
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}
  const TensorImpl& impl() const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Checks used at every op boundary; messages name the op, the argument and the expectation.
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
void check_same_dtype(const Tensor& a, const Tensor& b, const char* op);
void check_same_shape(const Tensor& a, const Tensor& b, const char* op);
void check_dim(const Tensor& t, int ndim, const char* op, const char* arg);
void check_float(const Tensor& t, const char* op, const char* arg);

}  // namespace ebm
