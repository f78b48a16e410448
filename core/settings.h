// Engine-wide numerical settings that change results, set explicitly by the caller (the apps)
// rather than picked up from the environment. For now one: whether float32 matrix products and
// convolutions on the GPU may run on TF32 tensor cores (10-bit mantissa inputs, float32
// accumulation; about 1e-3 relative error instead of 1e-6). Default off, so tests compare
// float32 with float32; the training apps turn it on for speed, as PyTorch does for cuDNN.
//
// Read by the op entry points (core/cpu/linalg.cpp, core/cpu/conv.cpp) at each call and handed
// to the CUDA backend, where it selects cuBLAS's math mode and cuDNN's math type and is part of
// the cached convolution algorithm's key. The CPU backend always computes in full float32.
#pragma once

namespace ebm {

// Process-wide; safe to call from any thread (the next op launched sees the new value).
void set_allow_tf32(bool allow);
bool allow_tf32();

// Sets allow_tf32 for a scope and restores the previous value (tests, benchmarks).
class AllowTF32Guard {
 public:
  explicit AllowTF32Guard(bool allow) : previous_(allow_tf32()) { set_allow_tf32(allow); }
  ~AllowTF32Guard() { set_allow_tf32(previous_); }
  AllowTF32Guard(const AllowTF32Guard&) = delete;
  AllowTF32Guard& operator=(const AllowTF32Guard&) = delete;

 private:
  bool previous_;
};

}  // namespace ebm
