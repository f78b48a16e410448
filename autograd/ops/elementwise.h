// Differentiable elementwise ops (record onto the autograd graph when an input requires grad).
// Forward math: core/ops/elementwise.h. Derivatives: autograd/functions/elementwise.cpp.
#pragma once

#include "core/ops/elementwise.h"

namespace ebm {

Tensor unary(UnaryOp op, const Tensor& x, double a = 0.0, double b = 0.0);
Tensor binary(BinaryOp op, const Tensor& x, const Tensor& y);

inline Tensor neg(const Tensor& x) { return unary(UnaryOp::Neg, x); }
inline Tensor exp(const Tensor& x) { return unary(UnaryOp::Exp, x); }
inline Tensor log(const Tensor& x) { return unary(UnaryOp::Log, x); }
inline Tensor sqrt(const Tensor& x) { return unary(UnaryOp::Sqrt, x); }
inline Tensor abs(const Tensor& x) { return unary(UnaryOp::Abs, x); }
inline Tensor square(const Tensor& x) { return unary(UnaryOp::Square, x); }
inline Tensor reciprocal(const Tensor& x) { return unary(UnaryOp::Reciprocal, x); }
inline Tensor pow(const Tensor& x, double p) { return unary(UnaryOp::Pow, x, p); }
inline Tensor clamp(const Tensor& x, double lo, double hi) { return unary(UnaryOp::Clamp, x, lo, hi); }
inline Tensor relu(const Tensor& x) { return unary(UnaryOp::Relu, x); }
inline Tensor leaky_relu(const Tensor& x, double slope = 0.01) { return unary(UnaryOp::LeakyRelu, x, slope); }
inline Tensor silu(const Tensor& x) { return unary(UnaryOp::Silu, x); }
inline Tensor swish(const Tensor& x) { return silu(x); }
inline Tensor softplus(const Tensor& x) { return unary(UnaryOp::Softplus, x); }
inline Tensor tanh(const Tensor& x) { return unary(UnaryOp::Tanh, x); }
inline Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::Sigmoid, x); }
// a * x + b
inline Tensor affine(const Tensor& x, double a, double b) { return unary(UnaryOp::Affine, x, a, b); }

inline Tensor add(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Add, x, y); }
inline Tensor sub(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Sub, x, y); }
inline Tensor mul(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Mul, x, y); }
inline Tensor div(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Div, x, y); }
inline Tensor maximum(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Maximum, x, y); }
inline Tensor minimum(const Tensor& x, const Tensor& y) { return binary(BinaryOp::Minimum, x, y); }

inline Tensor operator+(const Tensor& x, const Tensor& y) { return add(x, y); }
inline Tensor operator-(const Tensor& x, const Tensor& y) { return sub(x, y); }
inline Tensor operator*(const Tensor& x, const Tensor& y) { return mul(x, y); }
inline Tensor operator/(const Tensor& x, const Tensor& y) { return div(x, y); }
inline Tensor operator-(const Tensor& x) { return neg(x); }
inline Tensor operator+(const Tensor& x, double s) { return affine(x, 1.0, s); }
inline Tensor operator+(double s, const Tensor& x) { return affine(x, 1.0, s); }
inline Tensor operator-(const Tensor& x, double s) { return affine(x, 1.0, -s); }
inline Tensor operator-(double s, const Tensor& x) { return affine(x, -1.0, s); }
inline Tensor operator*(const Tensor& x, double s) { return affine(x, s, 0.0); }
inline Tensor operator*(double s, const Tensor& x) { return affine(x, s, 0.0); }
inline Tensor operator/(const Tensor& x, double s) { return affine(x, 1.0 / s, 0.0); }

}  // namespace ebm
