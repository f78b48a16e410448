// Elementwise ops: unary maps with up to two scalar parameters, and binary ops with NumPy
// broadcasting (scalar, per-channel [1,C,1,1] and general). The arithmetic is the EBM_HD
// functor apply_unary / apply_binary below, shared by the CPU loop and the CUDA kernels; a*b+c is
// spelt math::mul_add_rn so that nvcc cannot contract it into an FMA the CPU does not do.
// These are raw ops (no autograd); the differentiable versions are in autograd/ops.h.
#pragma once

#include "core/math.h"
#include "core/tensor.h"

namespace ebm {

enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Abs, Sign, Square, Reciprocal,
  Relu, Step,          // Step: 1 where x > 0 else 0 (derivative of relu)
  LeakyRelu,           // a = negative slope
  LeakyReluGrad,       // 1 where x > 0 else a
  Silu, SiluGrad,      // silu = x*sigmoid(x); SiluGrad = d silu / dx
  Softplus, Tanh, Sigmoid,
  Pow,                 // x^a
  Clamp,               // min(max(x, a), b)
  ClampMask,           // 1 where a <= x <= b else 0 (derivative of clamp)
  Affine,              // a*x + b (scalar multiply / add)
};

const char* unary_op_name(UnaryOp op);

template <class T>
EBM_HD T apply_unary(UnaryOp op, T x, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return math::exp(x);
    case UnaryOp::Log: return math::log(x);
    case UnaryOp::Sqrt: return math::sqrt(x);
    case UnaryOp::Abs: return math::abs(x);
    case UnaryOp::Sign: return x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0));
    case UnaryOp::Square: return x * x;
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Step: return x > T(0) ? T(1) : T(0);
    case UnaryOp::LeakyRelu: return x > T(0) ? x : a * x;
    case UnaryOp::LeakyReluGrad: return x > T(0) ? T(1) : a;
    case UnaryOp::Silu: return x * math::sigmoid(x);
    case UnaryOp::SiluGrad: {  // s * (1 + x * (1 - s)), the product never fused into the add
      T s = math::sigmoid(x);
      return s * math::mul_add_rn(x, T(1) - s, T(1));
    }
    case UnaryOp::Softplus: return math::softplus(x);
    case UnaryOp::Tanh: return math::tanh(x);
    case UnaryOp::Sigmoid: return math::sigmoid(x);
    case UnaryOp::Pow: return math::pow(x, a);
    case UnaryOp::Clamp: return math::min(math::max(x, a), b);
    case UnaryOp::ClampMask: return (x >= a && x <= b) ? T(1) : T(0);
    case UnaryOp::Affine: return math::mul_add_rn(a, x, b);  // a * x + b, never fused
  }
  return x;
}

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div, Maximum, Minimum, GreaterMask };

const char* binary_op_name(BinaryOp op);

template <class T>
EBM_HD T apply_binary(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Maximum: return x > y ? x : y;
    case BinaryOp::Minimum: return x < y ? x : y;
    case BinaryOp::GreaterMask: return x > y ? T(1) : T(0);
  }
  return x;
}

namespace ops {

// y = op(x; a, b). x float32 or float64.
Tensor unary(UnaryOp op, const Tensor& x, double a = 0.0, double b = 0.0);
// z = op(x, y) with broadcasting; same dtype and device required.
Tensor binary(BinaryOp op, const Tensor& x, const Tensor& y);
// x = op(x, y) in place; y must broadcast to x's shape.
void binary_(BinaryOp op, Tensor& x, const Tensor& y);
// x += alpha * y (same shape), in place: gradient accumulation and parameter updates.
void axpy_(Tensor& x, double alpha, const Tensor& y);

}  // namespace ops
}  // namespace ebm
