// Element types. float32 is the working type; float64 serves gradient checks on the CPU;
// bf16/fp16 are reserved for the GPU's fast paths; int64 holds labels and indices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/common.h"

namespace ebm {

enum class DType : uint8_t { Float32, Float64, BFloat16, Float16, Int64 };

inline size_t element_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::BFloat16: return 2;
    case DType::Float16: return 2;
    case DType::Int64: return 8;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::BFloat16: return "bfloat16";
    case DType::Float16: return "float16";
    case DType::Int64: return "int64";
  }
  return "?";
}

inline bool is_floating(DType t) { return t != DType::Int64; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };

}  // namespace ebm

// Runs the body with T bound to the C++ type of a float32/float64 dtype; other dtypes throw,
// naming the op.
#define EBM_DISPATCH_FLOAT(dtype, op_name, ...)                                              \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      case ::ebm::DType::Float32: { using T = float; return __VA_ARGS__(); }                 \
      case ::ebm::DType::Float64: { using T = double; return __VA_ARGS__(); }                \
      default:                                                                               \
        EBM_THROW(::ebm::DTypeError, op_name, ": dtype ", ::ebm::dtype_name(dtype),          \
                  " is not supported on this backend (expected float32 or float64)");        \
    }                                                                                        \
  }()
