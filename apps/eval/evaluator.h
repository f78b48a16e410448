// ebm_eval's run (issue 7): samples from a checkpoint (or images from elsewhere) -> features of
// the requested networks -> FID / IS / KID against reference statistics computed once and cached
// as .npz (pytorch-fid's mu/sigma, plus the features for KID), and OOD AUROC from the model's
// energies; everything the numbers depend on goes into OUT/eval.json:
//   engine, source (checkpoint path + SHA-256 + step, or image file + pixel SHA-256), number of
//   samples, sampler settings, EMA on/off, seed, device; per metric the feature network (name,
//   description, preprocessing incl. resize method, weights file and SHA-256), the reference set
//   (dataset, split, size, pixel SHA-256, statistics file) and the result.
// Outputs: OUT/samples.npz (uint8 NHWC "arr_0"; checkpoints only), OUT/samples.png (grid),
// OUT/eval.json. Samples are scored as the uint8 images written to samples.npz, so scoring that
// file with --images gives the same numbers.
#pragma once

#include <string>

#include "apps/eval/eval_config.h"
#include "core/io/json.h"

namespace ebm::app {

struct EvalOutcome {
  json::Value record;      // what eval.json holds
  std::string json_path;
  std::string summary;     // one line per result, for the terminal
};

EvalOutcome run_eval(const EvalConfig& config);

}  // namespace ebm::app
