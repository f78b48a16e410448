// Shape of a tensor: up to kMaxDims dimensions, stored inline (no allocation).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>
#include <vector>

#include "core/common.h"

namespace ebm {

constexpr int kMaxDims = 5;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims);

  int ndim() const { return ndim_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  // Size of dimension i; negative i counts from the end. Throws on out-of-range i.
  int64_t size(int i) const;
  int64_t numel() const;
  std::vector<int64_t> vec() const { return std::vector<int64_t>(dims_.begin(), dims_.begin() + ndim_); }
  // Resolves a possibly negative axis against ndim, throwing with op's name when out of range.
  int axis(int i, const char* op) const;

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string to_string() const;

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.to_string(); }

// Row-major strides (in elements) of a contiguous tensor of this shape.
std::array<int64_t, kMaxDims> contiguous_strides(const Shape& s);

// NumPy broadcasting of two shapes; throws ShapeError naming op and both shapes when they clash.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace ebm
