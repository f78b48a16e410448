// Eigen views of tensor memory for the CPU backend: row-major matrix maps (no copies), shared by
// every file that hands a GEMM to Eigen.
#pragma once

#include <Eigen/Dense>

namespace ebm::cpu {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using CMap = Eigen::Map<const RowMat<T>>;
template <class T>
using MMap = Eigen::Map<RowMat<T>>;
template <class T>
using CVec = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

}  // namespace ebm::cpu
