// Internal to the direct convolution (conv_direct.cpp, conv_direct_weight.cpp): the vector unit
// (AVX-512F, or AVX2 + FMA, as intrinsics), short inline row copies, per-thread scratch, and the
// geometry of one stride-1 correlation over a zero-padded copy of each image. Included only where
// EBM_DIRECT_CONV is defined.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#define EBM_DIRECT_CONV 1

namespace ebm::cpu::conv_simd {

// ---- the vector unit

#if defined(__AVX512F__)
constexpr int L = 16;        // floats per vector
constexpr int kMaxAcc = 24;  // accumulators a micro-kernel may keep (32 registers)
using vf = __m512;
inline vf vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf vbcast(const float* p) { return _mm512_set1_ps(*p); }
inline vf vzero() { return _mm512_setzero_ps(); }
// The first n < L lanes.
inline vf vload_part(const float* p, int64_t n) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
}
inline void vstore_part(float* p, vf v, int64_t n) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
}
#else
constexpr int L = 8;
constexpr int kMaxAcc = 12;  // 16 registers
using vf = __m256;
inline vf vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf vbcast(const float* p) { return _mm256_broadcast_ss(p); }
inline vf vzero() { return _mm256_setzero_ps(); }
inline __m256i lanes_below(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline vf vload_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, lanes_below(n)); }
inline void vstore_part(float* p, vf v, int64_t n) { _mm256_maskstore_ps(p, lanes_below(n), v); }
#endif

// The lanes' sum (a fixed pairwise tree). GCC 12's AVX-512 reduction intrinsic starts from
// _mm512_undefined_* values and trips -Wuninitialized; the values are never read.
#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline float vsum(vf v) { return _mm512_reduce_add_ps(v); }
#pragma GCC diagnostic pop
#else
inline float vsum(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// Short row copies inline (rows are 4-34 floats: a memcpy call per row costs more than the copy).
inline void copy_add(float* d, const float* s, int64_t n, const float* bias) {
  const float zero = 0.0f;
  const vf b = vbcast(bias ? bias : &zero);
  int64_t k = 0;
  for (; k + L <= n; k += L) vstore(d + k, bias ? vadd(vload(s + k), b) : vload(s + k));
  if (k < n) {
    const vf v = vload_part(s + k, n - k);
    vstore_part(d + k, bias ? vadd(v, b) : v, n - k);
  }
}
inline void zero_floats(float* d, int64_t n) {
  int64_t k = 0;
  for (; k + L <= n; k += L) vstore(d + k, vzero());
  if (k < n) vstore_part(d + k, vzero(), n - k);
}

// A growable float buffer per thread and slot, kept across calls (no allocation per conv).
template <int Slot>
float* thread_scratch(size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n + 16) buf.resize(n + 16);
  const uintptr_t a = reinterpret_cast<uintptr_t>(buf.data());
  return buf.data() + ((64 - a % 64) % 64) / sizeof(float);  // 64-byte aligned
}

inline int num_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline bool omp_in_parallel_safe() {
#if defined(_OPENMP)
  return omp_in_parallel();
#else
  return false;
#endif
}

// ---- geometry

// One stride-1 correlation: input [N, Ci, H, W] padded by (ph, pw), output [N, Co, Ho, Wo],
// weights w(o, i, t) = wbase[o·os + i·is + t·ts].
struct Corr {
  int64_t N, Ci, H, W, Co, kh, kw, ph, pw;
  const float* wbase;
  int64_t os, is, ts;
  int64_t Ho() const { return H + 2 * ph - kh + 1; }
  int64_t Wo() const { return W + 2 * pw - kw + 1; }
  int64_t Hp() const { return H + 2 * ph; }
  int64_t Wp() const { return W + 2 * pw; }
  int64_t plane() const { return Hp() * Wp(); }
  int64_t T() const { return kh * kw; }
  int64_t Qv() const { return (Ho() - 1) * Wp() + Wo(); }  // q's that cover every output
  float w(int64_t o, int64_t i, int64_t t) const { return wbase[o * os + i * is + t * ts]; }
  std::vector<int64_t> offsets() const {
    std::vector<int64_t> offs;
    for (int64_t ki = 0; ki < kh; ++ki)
      for (int64_t kj = 0; kj < kw; ++kj) offs.push_back(ki * Wp() + kj);
    return offs;
  }
};

// Channels [c0, c1) of one image x_n [C, H, W], zero-padded by (ph, pw), into planes of
// `stride` floats at xp (channel c at xp + (c - c0)·stride).
inline void pad_image(const float* xn, const Corr& g, float* xp, int64_t stride, int64_t c0,
                      int64_t c1) {
  const int64_t Wp = g.Wp(), Hp = g.Hp();
  for (int64_t c = c0; c < c1; ++c) {
    float* d = xp + (c - c0) * stride;
    const float* s = xn + c * g.H * g.W;
    zero_floats(d, g.ph * Wp);
    for (int64_t h = 0; h < g.H; ++h) {
      float* row = d + (g.ph + h) * Wp;
      zero_floats(row, g.pw);
      copy_add(row + g.pw, s + h * g.W, g.W, nullptr);
      zero_floats(row + g.pw + g.W, g.pw);
    }
    zero_floats(d + (g.ph + g.H) * Wp, (Hp - g.ph - g.H) * Wp);
  }
}

}  // namespace ebm::cpu::conv_simd

#endif
