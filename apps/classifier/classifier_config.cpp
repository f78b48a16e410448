// classifier_train flags, checks and JSON form (see classifier_config.h).
#include "apps/classifier/classifier_config.h"

#include "core/device.h"
#include "core/device_hooks.h"
#include "data/dataset.h"

namespace ebm::app {

void ClassifierConfig::declare(Flags& f) {
  f.add_choice("dataset", &dataset, data::dataset_names(), "training data (must have labels)");
  f.add("data-dir", &data_dir, "dataset directory (default: the dataset's standard place)");
  f.add("random_flip", &random_flip, "random horizontal flips of the training images");
  f.add("limit", &limit, "use only the first N training images (0: all)");
  f.add("test-limit", &test_limit, "use only the first N test images (0: all)");
  f.add("depth", &depth, "WRN depth, 6n+4 (10, 16, 22, 28)");
  f.add("widen_factor", &widen_factor, "WRN widen factor k");
  f.add("base_width", &base_width, "WRN base width b (widths b, b*k, 2b*k, 4b*k)");
  f.add("epochs", &epochs, "training epochs");
  f.add("batch_size", &batch_size, "batch size");
  f.add("lr", &lr, "peak SGD learning rate (linear warm-up, then cosine decay to 0)");
  f.add("momentum", &momentum, "SGD Nesterov momentum");
  f.add("weight_decay", &weight_decay, "SGD weight decay (L2 on every parameter)");
  f.add("warmup", &warmup, "linear learning-rate warm-up, in updates");
  f.add("device", &device, "cpu, cuda[:N], or auto (cuda when this build has CUDA and a GPU is present)");
  f.add("out", &out, "run directory (default: runs/<exp>)");
  f.add("exp", &exp, "experiment name (the run directory when --out is not given)");
  f.add("resume", &resume, "continue the run in this directory from its latest checkpoint");
  f.add("seed", &seed, "random seed (init, data order, flips)");
  f.add("log-every", &log_every, "steps between progress / metrics.jsonl lines");
}

void ClassifierConfig::finalize(const Flags& f) {
  auto fail = [](const std::string& msg) { EBM_THROW(UsageError, "classifier_train: ", msg); };
  if (depth < 10 || (depth - 4) % 6 != 0) fail("--depth must be 6n+4 with n >= 1 (10, 16, 22, ...)");
  if (widen_factor < 1 || base_width < 1) fail("--widen_factor and --base_width must be >= 1");
  if (epochs < 1) fail("--epochs must be >= 1");
  if (batch_size < 1) fail("--batch_size must be >= 1");
  if (!(lr > 0)) fail("--lr must be > 0");
  if (momentum < 0 || momentum >= 1) fail("--momentum must lie in [0, 1)");
  if (weight_decay < 0) fail("--weight_decay must be >= 0");
  if (warmup < 0) fail("--warmup must be >= 0");
  if (limit < 0 || test_limit < 0) fail("--limit and --test-limit must be >= 0");
  if (log_every < 1) fail("--log-every must be >= 1");
  if (!resume.empty() && f.given("out") && out != resume) fail("--out and --resume name different directories");
  if (!resume.empty()) out = resume;
  if (device == "auto") device = device_hooks::cuda_device_count() > 0 ? "cuda" : "cpu";
  try {
    (void)Device::parse(device);
  } catch (const Error& e) {
    fail(std::string("--device: ") + e.what());
  }
}

json::Value ClassifierConfig::to_json() const {
  json::Value v = json::Value::object();
  v.set("dataset", dataset);
  v.set("data_dir", data_dir);
  v.set("random_flip", random_flip);
  v.set("limit", limit);
  v.set("test_limit", test_limit);
  v.set("depth", depth);
  v.set("widen_factor", widen_factor);
  v.set("base_width", base_width);
  v.set("epochs", epochs);
  v.set("batch_size", batch_size);
  v.set("lr", lr);
  v.set("momentum", momentum);
  v.set("weight_decay", weight_decay);
  v.set("warmup", warmup);
  v.set("seed", seed);
  return v;
}

void ClassifierConfig::from_json(const json::Value& v) {
  dataset = v.at("dataset").as_string();
  data_dir = v.at("data_dir").as_string();
  random_flip = v.at("random_flip").as_bool();
  limit = v.at("limit").as_int();
  test_limit = v.at("test_limit").as_int();
  depth = v.at("depth").as_int();
  widen_factor = v.at("widen_factor").as_int();
  base_width = v.at("base_width").as_int();
  epochs = v.at("epochs").as_int();
  batch_size = v.at("batch_size").as_int();
  lr = v.at("lr").as_double();
  momentum = v.at("momentum").as_double();
  weight_decay = v.at("weight_decay").as_double();
  warmup = v.at("warmup").as_int();
  seed = v.at("seed").as_int();
}

}  // namespace ebm::app
