// A sampler chain (e.g. IGEBM's K Langevin steps, samplers/langevin.h) replayed as one CUDA graph
// (core/graph.h): the first call runs eagerly (cuDNN algorithm search, pool warm-up), the second
// captures the chain on buffers owned here and replays it, later calls copy in, replay, copy out.
// The host code of K forwards and backwards then runs once, not once per training iteration.
//
//   samplers::GraphedChain chain(
//       [&](Tensor& x, const std::vector<Tensor>& in) {
//         return igebm_langevin_(x, [&](const Tensor& v) { return model.forward(v, in[0]); }, o, gen);
//       },
//       gen);
//   Tensor diag = chain.run_(x, {labels});  // = the lambda on (x, {labels}), bit for bit
//
// The chain must obey core/graph.h's rules: no host synchronisation, randomness only through
// ops::langevin_step_ with `gen` (other draws, e.g. dropout masks, would repeat every replay), and
// every tensor it reads besides x and the inputs (the weights) updated in place, never replaced.
// A capture that fails (a host sync inside) is reported once on stderr and the chain stays eager.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/graph.h"
#include "core/random.h"
#include "core/tensor.h"

namespace ebm::samplers {

// What a captured graph is specialised to: x's and the inputs' shapes, dtypes and devices
// (undefined inputs allowed). graphable: x on a CUDA device and every defined input there too.
struct ChainSignature {
  struct Meta {
    bool defined = false;
    Shape shape;
    DType dtype = DType::Float32;
    Device device = Device::cpu();
    bool operator==(const Meta& o) const {
      return defined == o.defined && (!defined || (shape == o.shape && dtype == o.dtype && device == o.device));
    }
  };
  std::vector<Meta> tensors;  // x, then the inputs
  bool graphable = false;

  static ChainSignature of(const Tensor& x, const std::vector<Tensor>& inputs);
  bool operator==(const ChainSignature& o) const { return tensors == o.tensors; }
  bool operator!=(const ChainSignature& o) const { return !(*this == o); }
};

// GraphedChain's decisions as host logic, so that CI checks them without a GPU: eager on a new
// signature (warm-up), capture on its second call, replay after; eager for good once disabled
// (off from the start, or after a failed capture).
class ChainGraphPlan {
 public:
  enum class Step { Eager, Capture, Replay };
  explicit ChainGraphPlan(bool enabled = true) : enabled_(enabled) {}
  // The next call's step. Eager for a graphable signature means any graph in hand is stale.
  Step next(const ChainSignature& s);
  void captured() { have_graph_ = true; }
  void disable() { enabled_ = false; have_graph_ = false; }
  void reset() { last_ = ChainSignature(); have_graph_ = false; }
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  bool have_graph_ = false;
  ChainSignature last_;  // of the last graphable call (empty: none yet)
};

class GraphedChain {
 public:
  // Runs in place on x; returns a diagnostic (e.g. igebm_langevin_'s mean |grad|).
  using ChainFn = std::function<Tensor(Tensor& x, const std::vector<Tensor>& inputs)>;

  // gen: the generator the chain draws from (its state is restored when a capture fails).
  // enabled = false: always eager.
  GraphedChain(ChainFn chain, Generator& gen, bool enabled = true);

  // The chain on (x, inputs), in place on x. On CUDA, from the second call with the same
  // signature on, by graph replay; the returned diagnostic is then the graph's own tensor,
  // overwritten by the next replay (read or clone it before the next call).
  Tensor run_(Tensor& x, const std::vector<Tensor>& inputs = {});

  // Drops the graph (e.g. after replacing weight tensors): the next call is eager, then recaptures.
  void reset();

  int64_t eager_runs() const { return eager_runs_; }
  int64_t replays() const { return replays_; }
  int64_t captures() const { return captures_; }
  bool enabled() const { return plan_.enabled(); }
  const std::string& failure() const { return failure_; }  // why capture failed; empty if it has not

 private:
  Tensor capture_and_replay_(Tensor& x, const std::vector<Tensor>& inputs);
  Tensor replay_(Tensor& x, const std::vector<Tensor>& inputs);
  void drop_graph();

  ChainFn chain_;
  Generator* gen_;
  ChainGraphPlan plan_;
  Tensor x_buf_, diag_;  // the graph's x and diagnostic
  std::vector<Tensor> in_bufs_;
  CudaGraph graph_;  // after the buffers: destroyed first, it waits for its replays
  int64_t eager_runs_ = 0, replays_ = 0, captures_ = 0;
  std::string failure_;
};

}  // namespace ebm::samplers
