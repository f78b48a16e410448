// How the reduction kernels (cuda/kernels/reduce.cu) split one (outer, r, inner) problem: plain
// C++ shared by the launcher and tests/cpu/test_elementwise_body.cpp. The split depends on the
// shape only (never on the GPU), so a reduction gives the same bits on every device and run.
//
// inner == 1 (the reduced axis is the last, rows are contiguous): one 256-thread block per output
// row, threads striding over the row, then a fixed-order tree (warp shuffles, shared memory).
// inner > 1: one thread per output column, summing down the column in order (adjacent threads
// read adjacent addresses). Either way, when there are too few outputs to fill a GPU and r is
// long, r is cut into `chunks` of chunk_len (the last one shorter): a first pass writes the
// partial results of shape (outer, chunks, inner), in the accumulator type, to a workspace, and a
// second pass reduces those chunks. Two passes, no atomics: deterministic.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ebm::cuda::kernels {

constexpr uint32_t kReduceBlock = 256;  // threads per block of both kernels (a multiple of 32)

// Row kernel: split when there are fewer than kRowTargetBlocks rows, into chunks of at least
// kRowMinChunk elements (16 per thread), up to about kRowTargetBlocks blocks in all.
constexpr int64_t kRowTargetBlocks = 1024;
constexpr int64_t kRowMinChunk = 4096;
// Column kernel: split when there are fewer than kColTargetThreads outputs, into chunks of at
// least kColMinChunk elements, up to about kColTargetThreads threads in all.
constexpr int64_t kColTargetThreads = int64_t(1) << 17;
constexpr int64_t kColMinChunk = 64;

struct ReducePlan {
  bool rows = true;        // inner == 1: the block-per-row kernel
  int64_t chunks = 1;      // 1: a single pass
  int64_t chunk_len = 0;   // elements of r per chunk; chunk c covers [c*len, min(r, (c+1)*len))
  // Elements of the workspace (outer * chunks * inner partial results; 0 for one pass).
  int64_t workspace_elems = 0;
};

inline int64_t reduce_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline ReducePlan plan_reduce(int64_t outer, int64_t r, int64_t inner) {
  ReducePlan p;
  p.rows = inner == 1;
  p.chunk_len = r;
  const int64_t outputs = outer * inner;
  if (outputs <= 0 || r <= 0) return p;
  const int64_t target = p.rows ? kRowTargetBlocks : kColTargetThreads;
  const int64_t min_chunk = p.rows ? kRowMinChunk : kColMinChunk;
  int64_t chunks = reduce_ceil_div(target, outputs);     // enough work items to fill the GPU
  const int64_t most = r / min_chunk;                    // ... but no chunk below min_chunk
  if (chunks > most) chunks = most;
  if (chunks <= 1) return p;
  p.chunk_len = reduce_ceil_div(r, chunks);
  p.chunks = reduce_ceil_div(r, p.chunk_len);  // no empty chunk at the end
  if (p.chunks <= 1) {
    p.chunks = 1;
    p.chunk_len = r;
    return p;
  }
  p.workspace_elems = outer * p.chunks * inner;
  return p;
}

}  // namespace ebm::cuda::kernels
