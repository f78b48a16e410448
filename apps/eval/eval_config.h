// Settings of an ebm_eval run: what to score (a checkpoint's samples, or images made by any
// program), how samples are drawn, which metrics against which reference, where outputs go.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/flags.h"
#include "apps/eval/eval_model.h"

namespace ebm::app {

struct EvalConfig {
  // what to score (exactly one)
  std::string checkpoint;        // run directory or checkpoint file: generate samples
  std::string images;            // FILE.npz | image folder | dataset:NAME[:train|test]
  std::string data_dir;          // for dataset: specs of --images (default: the dataset's place)
  int64_t images_channels = 0;   // image folders: 1 or 3 (0: the reference's channels, else 3)
  int64_t limit = 0;             // --images: score only the first N (0: all)
  // generation
  int64_t num_samples = 1000;
  int64_t batch_size = 100;      // generation and feature batches
  SamplerRequest sampler;
  int64_t seed = 1;
  std::string device = "cpu";
  // metrics
  std::string metrics = "classifier_fid";
  std::vector<std::string> metric_list;  // parsed
  std::string classifier;        // classifier_train's classifier.safetensors
  std::string inception;         // FID Inception weights (safetensors, scripts/ converts pytorch-fid's)
  std::string ref_dataset;       // default: the checkpoint's training set
  std::string ref_data_dir;
  std::string ref_split = "train";
  int64_t ref_limit = 10000;     // 0: the whole split
  std::string ref_stats;         // a precomputed mu/sigma .npz instead (FID only, unless it has "features")
  std::string ref_cache = "runs/ref_stats";
  int64_t is_splits = 10;
  int64_t kid_subsets = 100;
  int64_t kid_subset_size = 1000;
  // OOD
  std::string ood_dataset;       // e.g. mnist (scored against the checkpoint's dataset)
  std::string ood_data_dir;
  std::string id_split = "test";
  std::string ood_split = "test";
  int64_t ood_limit = 10000;
  // outputs
  std::string out;               // default: <run>/eval for a checkpoint, runs/eval otherwise
  int64_t grid_size = 64;        // images in the PNG grid

  void declare(Flags& flags);
  void finalize(const Flags& flags);  // UsageError naming the flag
  bool wants(const std::string& metric) const;
};

// The metric names ebm_eval knows, for --help and errors.
const std::vector<std::string>& eval_metric_names();

}  // namespace ebm::app
