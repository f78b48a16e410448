#include "core/shape.h"

#include <algorithm>

#include "core/device.h"

namespace ebm {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::vector<int64_t>(dims)) {}

Shape::Shape(const std::vector<int64_t>& dims) {
  EBM_CHECK(dims.size() <= static_cast<size_t>(kMaxDims), ShapeError, "Shape: ", dims.size(),
            " dimensions requested, at most ", kMaxDims, " are supported");
  ndim_ = static_cast<int>(dims.size());
  for (int i = 0; i < ndim_; ++i) {
    EBM_CHECK(dims[i] >= 0, ShapeError, "Shape: dimension ", i, " is negative (", dims[i], ")");
    dims_[i] = dims[i];
  }
}

int64_t Shape::size(int i) const { return dims_[axis(i, "Shape::size")]; }

int Shape::axis(int i, const char* op) const {
  int a = i < 0 ? i + ndim_ : i;
  EBM_CHECK(a >= 0 && a < ndim_, ShapeError, op, ": axis ", i, " is out of range for shape ",
            to_string());
  return a;
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[i];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  return ndim_ == o.ndim_ && std::equal(dims_.begin(), dims_.begin() + ndim_, o.dims_.begin());
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) s += (i ? ", " : "") + std::to_string(dims_[i]);
  return s + "]";
}

std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s) {
  std::array<int64_t, kMaxDims> st{};
  int64_t acc = 1;
  for (int i = s.ndim() - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int n = std::max(a.ndim(), b.ndim());
  std::vector<int64_t> out(n);
  for (int i = 0; i < n; ++i) {
    int ia = a.ndim() - n + i, ib = b.ndim() - n + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    EBM_CHECK(da == db || da == 1 || db == 1, ShapeError, op, ": shapes ", a, " and ", b,
              " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return Shape(out);
}

Device Device::parse(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    std::string idx = text.substr(5);
    bool digits = !idx.empty() && std::all_of(idx.begin(), idx.end(), ::isdigit);
    if (digits) return Device::cuda(std::stoi(idx));
  }
  EBM_THROW(ValueError, "unknown device '", text, "' (expected cpu, cuda or cuda:N)");
}

}  // namespace ebm
