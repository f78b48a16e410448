// The IGEBM recipe (Du & Mordatch 2019; ../shared/specs/igebm-drl.md §1): per iteration
//   1. a data batch x⁺ (dequantised [0, 1] pixels, labels when conditional);
//   2. one spectral-norm power iteration whose W/σ all forwards of the iteration share (official);
//   3. chain starts from the replay buffer (5 % fresh uniform noise) or noise;
//   4. K Langevin steps (noise, ∇ₓE, clip, step, clamp), the ends pushed into the buffer;
//   5. L = ml(mean E⁺ − mean E⁻) + α(mean E⁺² + mean E⁻²), Adam (β = (0, 0.999), 3σ+0.1 clip).
// Around it, the run directory (config.json, metrics.jsonl, TensorBoard, sample grids,
// checkpoints), resume with every piece of state (bit-identical on the CPU), Ctrl-C, and a
// divergence guard that stops without overwriting the last good checkpoint.
#pragma once

#include <string>

#include "apps/igebm/igebm_config.h"

namespace ebm::app {

struct IgebmOutcome {
  int64_t last_step = 0;       // the last completed (and checkpointed) step
  bool diverged = false;
  bool interrupted = false;
  std::string message;         // what stopped the run, for the user
  double last_loss = 0;
};

IgebmOutcome train_igebm(IgebmConfig config);
// Sampling mode: K Langevin steps from uniform noise with the checkpoint's model; writes
// DIR/samples/sample_step_NNNNNNN.png and DIR/samples_step_NNNNNNN.npz (uint8 NHWC "arr_0").
std::string sample_igebm(IgebmConfig config);

}  // namespace ebm::app
