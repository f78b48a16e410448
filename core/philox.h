// Philox4x32-10 counter-based random numbers (Salmon et al., "Parallel random numbers: as easy
// as 1, 2, 3", SC 2011), written once as EBM_HD code for the CPU loops and the CUDA kernels.
//
// Stream layout (matches cuRAND's CURAND_RNG_PSEUDO_PHILOX4_32_10 generator, checked bit for bit
// in tests/test_philox.cpp): key = the 64-bit seed. cuRAND spreads the stream over 65536
// subsequences: word w of the stream is word (w mod 4) of the block whose counter is
// (x = w / 2^18, subsequence = (w / 4) mod 2^16), i.e. counter words {x_lo, x_hi, subsequence, 0}.
// An offset skips that many words.
// Uniform floats use cuRAND's conversion (bit-equal); Box–Muller normals use cuRAND's word maps
// with portable log/sin/cos (bit-equal between our CPU and GPU, within a few ulp of cuRAND's).
#pragma once

#include <cstdint>

#include "core/common.h"
#include "core/math.h"

namespace ebm::philox {

struct U32x4 {
  uint32_t v[4];
};

constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;  // Weyl key increments
constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;  // round multipliers

EBM_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}

// The ten rounds on one 128-bit counter block.
EBM_HD U32x4 block(U32x4 c, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kM0, c.v[0], hi0, lo0);
    mulhilo(kM1, c.v[2], hi1, lo1);
    c = U32x4{{hi1 ^ c.v[1] ^ k0, lo1, hi0 ^ c.v[3] ^ k1, lo0}};
    k0 += kW0;
    k1 += kW1;
  }
  return c;
}

constexpr int kSubsequenceBits = 16;  // cuRAND's host/device generator uses 65536 subsequences

// The block holding words [4q, 4q+4) of the stream of `seed`.
EBM_HD U32x4 block_at(uint64_t seed, uint64_t q) {
  uint64_t x = q >> kSubsequenceBits;
  uint32_t sub = static_cast<uint32_t>(q & ((1u << kSubsequenceBits) - 1));
  U32x4 c{{static_cast<uint32_t>(x), static_cast<uint32_t>(x >> 32), sub, 0u}};
  return block(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Word w of the stream (w already includes any offset).
EBM_HD uint32_t word(uint64_t seed, uint64_t w) { return block_at(seed, w >> 2).v[w & 3]; }

// cuRAND's uint32 -> float in (0, 1].
EBM_HD float to_uniform(uint32_t x) {
  constexpr float k2pow32inv = 2.3283064e-10f;
  return math::mul_add_rn(static_cast<float>(x), k2pow32inv, k2pow32inv / 2.0f);
}

// cuRAND's Box–Muller: two words -> two standard normals, n0 = sin(v) s, n1 = cos(v) s with
// s = sqrt(-2 log u), u and v cuRAND's maps of the words. log, sin and cos are the portable
// versions of core/math.h, so the CPU and the GPU draw bit-identical normals; they agree with
// cuRAND's generateNormal to a few ulp (tests/cpu/test_philox.cpp).
EBM_HD void box_muller(uint32_t x, uint32_t y, float& n0, float& n1) {
  constexpr float k2pow32inv = 2.3283064e-10f;
  constexpr float k2pow32inv2pi = 1.4629180792671596e-09f;
  float u = math::mul_add_rn(static_cast<float>(x), k2pow32inv, k2pow32inv / 2.0f);
  float v = math::mul_add_rn(static_cast<float>(y), k2pow32inv2pi, k2pow32inv2pi / 2.0f);
  float s = math::sqrt_rn(math::mul_rn(-2.0f, math::log_portable(u)));
  float sin_v, cos_v;
  math::sincos_portable(v, sin_v, cos_v);
  n0 = math::mul_rn(sin_v, s);
  n1 = math::mul_rn(cos_v, s);
}

// Element i of a uniform stream (seed, offset): one word per element.
EBM_HD float uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  return to_uniform(word(seed, offset + i));
}

// Element i of a normal stream (seed, offset): elements 2j and 2j+1 share the Box–Muller pair of
// words (offset + 2j, offset + 2j + 1), as cuRAND's generateNormal lays them out.
EBM_HD float normal(uint64_t seed, uint64_t offset, uint64_t i) {
  uint64_t w = offset + (i & ~uint64_t(1));
  float n0, n1;
  box_muller(word(seed, w), word(seed, w + 1), n0, n1);
  return (i & 1) ? n1 : n0;
}

// The affine maps of the fills, shared by the CPU loops and the CUDA kernels: uniform u in
// (0, 1] to lo + span * u, standard normal z to mean + stddev * z (never fused, see mul_add_rn).
template <class T>
EBM_HD T uniform_scaled(uint32_t word, T lo, T span) {
  return math::mul_add_rn(static_cast<T>(to_uniform(word)), span, lo);
}
template <class T>
EBM_HD T normal_scaled(float z, T mean, T stddev) {
  return math::mul_add_rn(static_cast<T>(z), stddev, mean);
}

}  // namespace ebm::philox
