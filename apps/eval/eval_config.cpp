// ebm_eval flags and checks (see eval_config.h).
#include "apps/eval/eval_config.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "core/device.h"
#include "core/device_hooks.h"
#include "data/dataset.h"

namespace ebm::app {

const std::vector<std::string>& eval_metric_names() {
  static const std::vector<std::string> names = {"fid", "is", "kid", "classifier_fid", "classifier_is",
                                                 "classifier_kid", "ood_auroc"};
  return names;
}

void EvalConfig::declare(Flags& f) {
  f.add("checkpoint", &checkpoint, "a run directory (its latest checkpoint) or checkpoint file to sample from");
  f.add("images", &images, "score these instead: FILE.npz (uint8 NHWC arr_0), an image folder, or "
        "dataset:NAME[:train|test]");
  f.add("data-dir", &data_dir, "directory of a dataset:NAME given to --images");
  f.add("images-channels", &images_channels, "image folders: 1 (gray) or 3 (RGB); 0: as the reference");
  f.add("limit", &limit, "--images: score only the first N images (0: all)");
  f.add("num-samples", &num_samples, "samples to generate from the checkpoint");
  f.add("batch-size", &batch_size, "images per generation / feature batch");
  f.add_choice("init", &sampler.init, {"noise", "buffer"}, "chain starts: uniform noise or the checkpoint's replay buffer");
  f.add("sample-steps", &sampler.steps, "Langevin steps (-1: the checkpoint's num_steps; 0: the starts as they are)");
  f.add("step_lr", &sampler.step_lr, "Langevin step size (-1: the checkpoint's)");
  f.add("proj_norm", &sampler.grad_clip, "element-wise Langevin gradient clip (-1: the checkpoint's)");
  f.add("noise_scale", &sampler.noise_scale, "Langevin noise = 0.005 x noise_scale (-1: the checkpoint's)");
  f.add_choice("ema", &sampler.ema, {"auto", "on", "off"}, "EMA weights (auto: when the checkpoint has them)");
  f.add("seed", &seed, "random seed of the chains (and of KID's subsets)");
  f.add("device", &device, "cpu, cuda[:N], or auto");
  f.add("metrics", &metrics, "comma-separated: fid, is, kid (FID Inception), classifier_fid, classifier_is, "
        "classifier_kid (the classifier's features), ood_auroc");
  f.add("classifier", &classifier, "classifier_train's classifier.safetensors (classifier_* metrics)");
  f.add("inception", &inception, "FID Inception weights as safetensors (fid, is, kid)");
  f.add("ref-dataset", &ref_dataset, "reference set for FID/KID (default: the checkpoint's training set)");
  f.add("ref-data-dir", &ref_data_dir, "its directory (default: the checkpoint's data directory)");
  f.add_choice("ref-split", &ref_split, {"train", "test"}, "reference split");
  f.add("ref-limit", &ref_limit, "reference images: the split's first N (0: all)");
  f.add("ref-stats", &ref_stats, "precomputed reference statistics .npz (mu, sigma[, features]) instead");
  f.add("ref-cache", &ref_cache, "directory where computed reference statistics are cached");
  f.add("is-splits", &is_splits, "Inception Score splits");
  f.add("kid-subsets", &kid_subsets, "KID subsets");
  f.add("kid-subset-size", &kid_subset_size, "KID subset size");
  f.add("ood-dataset", &ood_dataset, "out-of-distribution set for ood_auroc (e.g. mnist)");
  f.add("ood-data-dir", &ood_data_dir, "its directory");
  f.add_choice("id-split", &id_split, {"train", "test"}, "in-distribution split (the checkpoint's dataset)");
  f.add_choice("ood-split", &ood_split, {"train", "test"}, "out-of-distribution split");
  f.add("ood-limit", &ood_limit, "images of each OOD-test set (0: all)");
  f.add("out", &out, "output directory (default: <run>/eval for a run, runs/eval otherwise)");
  f.add("grid-size", &grid_size, "images in the PNG grid");
}

bool EvalConfig::wants(const std::string& m) const {
  return std::find(metric_list.begin(), metric_list.end(), m) != metric_list.end();
}

void EvalConfig::finalize(const Flags& f) {
  auto fail = [](const std::string& msg) { EBM_THROW(UsageError, "ebm_eval: ", msg); };
  if (checkpoint.empty() == images.empty()) fail("give exactly one of --checkpoint (generate samples) and --images (score images)");
  metric_list.clear();
  std::stringstream ss(metrics);
  for (std::string m; std::getline(ss, m, ',');) {
    if (m.empty()) continue;
    const auto& names = eval_metric_names();
    if (std::find(names.begin(), names.end(), m) == names.end()) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      fail("unknown metric '" + m + "' in --metrics (known: " + list + ")");
    }
    if (!wants(m)) metric_list.push_back(m);
  }
  if (metric_list.empty()) fail("--metrics names no metric");
  if ((wants("fid") || wants("is") || wants("kid")) && inception.empty())
    fail("fid, is and kid need --inception FILE (the FID Inception weights as safetensors; see the README's Evaluation section)");
  if ((wants("classifier_fid") || wants("classifier_is") || wants("classifier_kid")) && classifier.empty())
    fail("classifier_fid/_is/_kid need --classifier FILE (made by classifier_train; see the README's Evaluation section)");
  if (wants("ood_auroc")) {
    if (checkpoint.empty()) fail("ood_auroc needs --checkpoint (energies of a model)");
    if (ood_dataset.empty()) fail("ood_auroc needs --ood-dataset NAME (e.g. mnist, with --ood-data-dir)");
  }
  if (!checkpoint.empty() && f.given("limit")) fail("--limit applies to --images only");
  if (images.empty() == false && (f.given("num-samples") || f.given("init") || f.given("sample-steps")))
    fail("--num-samples, --init and --sample-steps apply to --checkpoint only");
  if (num_samples < 2) fail("--num-samples must be >= 2");
  if (batch_size < 1) fail("--batch-size must be >= 1");
  if (sampler.steps < -1) fail("--sample-steps must be >= 0 (or -1: the checkpoint's)");
  if (limit < 0 || ref_limit < 0 || ood_limit < 0) fail("--limit, --ref-limit and --ood-limit must be >= 0");
  if (images_channels != 0 && images_channels != 1 && images_channels != 3) fail("--images-channels must be 0, 1 or 3");
  if (is_splits < 1 || kid_subsets < 1 || kid_subset_size < 2) fail("--is-splits, --kid-subsets must be >= 1 and --kid-subset-size >= 2");
  if (grid_size < 1) fail("--grid-size must be >= 1");
  if (!ref_dataset.empty()) {
    const auto& names = data::dataset_names();
    if (std::find(names.begin(), names.end(), ref_dataset) == names.end()) fail("unknown --ref-dataset '" + ref_dataset + "'");
  }
  if (!ref_stats.empty() && !std::filesystem::is_regular_file(ref_stats))
    fail("--ref-stats '" + ref_stats + "' does not exist");
  if (out.empty()) {
    if (!checkpoint.empty() && std::filesystem::is_directory(checkpoint)) out = checkpoint + "/eval";
    else if (!checkpoint.empty()) out = std::filesystem::path(checkpoint).parent_path().parent_path().string() + "/eval";
    else out = "runs/eval";
    if (out == "/eval") out = "eval";
  }
  if (device == "auto") device = device_hooks::cuda_device_count() > 0 ? "cuda" : "cpu";
  try {
    (void)Device::parse(device);
  } catch (const Error& e) {
    fail(std::string("--device: ") + e.what());
  }
}

}  // namespace ebm::app
