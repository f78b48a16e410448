// GraphedChain: eager warm-up, capture on owned buffers, replay (see chain_graph.h).
#include "samplers/chain_graph.h"

#include <cstdio>
#include <exception>
#include <utility>

namespace ebm::samplers {

ChainSignature ChainSignature::of(const Tensor& x, const std::vector<Tensor>& inputs) {
  ChainSignature s;
  s.tensors.reserve(inputs.size() + 1);
  auto add = [&](const Tensor& t) {
    Meta m;
    m.defined = t.defined();
    if (m.defined) {
      m.shape = t.shape();
      m.dtype = t.dtype();
      m.device = t.device();
    }
    s.tensors.push_back(std::move(m));
  };
  add(x);
  for (const Tensor& t : inputs) add(t);
  // Inputs elsewhere than x's device would put host work or a second device into the capture.
  s.graphable = x.defined() && x.device().is_cuda();
  for (const Meta& m : s.tensors) s.graphable = s.graphable && (!m.defined || m.device == x.device());
  return s;
}

ChainGraphPlan::Step ChainGraphPlan::next(const ChainSignature& s) {
  if (!enabled_ || !s.graphable) return Step::Eager;
  if (s != last_) {  // new shapes: warm up eagerly first (cuDNN's search must not run in a capture)
    last_ = s;
    have_graph_ = false;
    return Step::Eager;
  }
  return have_graph_ ? Step::Replay : Step::Capture;
}

GraphedChain::GraphedChain(ChainFn chain, Generator& gen, bool enabled)
    : chain_(std::move(chain)), gen_(&gen), plan_(enabled) {
  EBM_CHECK(chain_ != nullptr, ValueError, "GraphedChain: needs a chain function");
}

Tensor GraphedChain::run_(Tensor& x, const std::vector<Tensor>& inputs) {
  EBM_CHECK(x.defined(), ValueError, "GraphedChain::run_: x is undefined");
  const ChainSignature s = ChainSignature::of(x, inputs);
  switch (plan_.next(s)) {
    case ChainGraphPlan::Step::Capture:
      return capture_and_replay_(x, inputs);
    case ChainGraphPlan::Step::Replay:
      return replay_(x, inputs);
    case ChainGraphPlan::Step::Eager:
      break;
  }
  if (s.graphable) drop_graph();  // a new signature: the graph in hand no longer fits
  ++eager_runs_;
  return chain_(x, inputs);
}

void GraphedChain::reset() {
  drop_graph();
  plan_.reset();
}

void GraphedChain::drop_graph() {
  graph_ = CudaGraph();  // first: waits for its replays before the buffers go
  diag_ = Tensor();
  x_buf_ = Tensor();
  in_bufs_.clear();
}

Tensor GraphedChain::capture_and_replay_(Tensor& x, const std::vector<Tensor>& inputs) {
  // The buffers the graph reads and writes, made before the capture so that they outlive it.
  // Their contents do not matter yet: a capture records, it runs nothing.
  x_buf_ = Tensor::empty(x.shape(), x.dtype(), x.device());
  in_bufs_.clear();
  for (const Tensor& t : inputs)
    in_bufs_.push_back(t.defined() ? Tensor::empty(t.shape(), t.dtype(), t.device()) : Tensor());
  const Generator::State before = gen_->state();
  try {
    CudaGraphCapture capture(x.device());
    const void* where = x_buf_.data_ptr();
    diag_ = chain_(x_buf_, in_bufs_);
    EBM_CHECK(x_buf_.data_ptr() == where, ValueError,
              "GraphedChain: the chain replaced x instead of updating it in place");
    graph_ = capture.end();
  } catch (const std::exception& e) {
    // A partial capture may have reserved noise: put the generator back, so the eager run
    // draws what an eager-only run would.
    gen_->set_state(before);
    drop_graph();
    plan_.disable();
    failure_ = e.what();
    std::fprintf(stderr, "GraphedChain: CUDA graph capture of the chain failed; running it eagerly from now on (%s)\n",
                 e.what());
    std::fflush(stderr);
    ++eager_runs_;
    return chain_(x, inputs);
  }
  plan_.captured();
  ++captures_;
  return replay_(x, inputs);
}

Tensor GraphedChain::replay_(Tensor& x, const std::vector<Tensor>& inputs) {
  // Copies and the replay queue on the same stream: no host synchronisation, no allocation.
  x_buf_.copy_(x);
  for (size_t i = 0; i < in_bufs_.size(); ++i)
    if (in_bufs_[i].defined()) in_bufs_[i].copy_(inputs[i]);
  graph_.replay();
  x.copy_(x_buf_);
  ++replays_;
  return diag_;
}

}  // namespace ebm::samplers
