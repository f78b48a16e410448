// IGEBM flags, checks and JSON form (see igebm_config.h).
#include "apps/igebm/igebm_config.h"

#include "data/dataset.h"
#include "nn/igebm_models.h"

namespace ebm::app {

void IgebmConfig::declare(Flags& f) {
  f.add_choice("dataset", &dataset, data::dataset_names(), "training data");
  f.add("data-dir", &data_dir, "dataset directory (default: the dataset's standard place)");
  f.add("dequantize", &dequantize, "pixels k/256 + U(0, 1/256) as the official code; off: k/255");
  f.add("random_flip", &random_flip, "random horizontal flips of the data");
  f.add_choice("model", &model, nn::igebm_model_names(), "energy network");
  f.add("large_model", &large_model, "official switch: --model resnet32_large");
  f.add("wider_model", &wider_model, "official switch: --model resnet32_wider");
  f.add("cclass", &cclass, "class-conditional model (labels from the dataset)");
  f.add("num_filters", &num_filters, "base width (0: the model's default)");
  f.add("swish_act", &swish_act, "accepted for compatibility; no effect on these models (as in the official code)");
  f.add_choice("sn_schedule", &sn_schedule, {"iteration", "forward"},
               "spectral-norm power iteration once per training iteration (official) or every forward");
  f.add("num_steps", &num_steps, "Langevin steps per iteration");
  f.add("step_lr", &step_lr, "Langevin step size");
  f.add("proj_norm", &proj_norm, "element-wise clip of the Langevin gradient (0: none)");
  f.add("noise_scale", &noise_scale, "Langevin noise = 0.005 x noise_scale");
  f.add("replay_batch", &replay_batch, "start chains from the replay buffer (else from noise)");
  f.add("buffer_size", &buffer_size, "replay buffer capacity");
  f.add("reinit", &reinit, "fraction of chains restarted from uniform noise");
  f.add_choice("buffer_storage", &buffer_storage, {"uint8", "float"}, "replay buffer storage");
  f.add("batch_size", &batch_size, "batch size");
  f.add("lr", &lr, "Adam learning rate (beta1 0, beta2 0.999)");
  f.add("l2_coeff", &l2_coeff, "alpha of the energy regulariser alpha(E+^2 + E-^2)");
  f.add("ml_coeff", &ml_coeff, "weight of E+ - E-");
  f.add_choice("adam_clip", &adam_clip, {"official", "port", "none"},
               "per-element Adam gradient clip 3 sigma + 0.1 (official), rosinality's variant, or none");
  declare_run_flags(f);
  f.add("energy-bound", &energy_bound, "stop as diverged when |mean E| exceeds this");
  f.add("sample-steps", &sample_steps, "sampling mode: Langevin steps (0: --num_steps)");
  f.add("cuda-graph", &cuda_graph, "replay the K-step chain as a CUDA graph on the GPU; ignored on the CPU");
}

void IgebmConfig::finalize(const Flags& f) {
  auto fail = [](const std::string& msg) { EBM_THROW(UsageError, "igebm_train: ", msg); };
  if (large_model && wider_model) fail("--large_model and --wider_model exclude each other");
  if ((large_model || wider_model) && f.given("model")) fail("give either --model or --large_model/--wider_model");
  if (large_model) model = "resnet32_large";
  if (wider_model) model = "resnet32_wider";
  if (batch_size < 1) fail("--batch_size must be >= 1");
  if (num_steps < 1) fail("--num_steps must be >= 1");
  if (step_lr < 0 || proj_norm < 0 || noise_scale < 0) fail("--step_lr, --proj_norm and --noise_scale must be >= 0");
  if (!(lr > 0)) fail("--lr must be > 0");
  if (reinit < 0 || reinit > 1) fail("--reinit must lie in [0, 1]");
  if (buffer_size < batch_size) fail("--buffer_size must be at least --batch_size");
  if (!(energy_bound > 0)) fail("--energy-bound must be > 0");
  if (sample_steps == 0) sample_steps = num_steps;
  // A capture draws the dropout masks once: every replay of the chain would reuse them.
  if (cuda_graph && nn::igebm_architecture(model, nn::IgebmModelOptions()).dropout > 0)
    fail("--cuda-graph cannot be used with --model " + model +
         " (--large_model): its dropout is active in training, and the masks drawn in the captured chain "
         "would repeat at every replay");
  finalize_run_flags(f, "igebm_train");
}

json::Value IgebmConfig::to_json() const {
  json::Value v = json::Value::object();
  v.set("dataset", dataset);
  v.set("data_dir", data_dir);
  v.set("dequantize", dequantize);
  v.set("random_flip", random_flip);
  v.set("model", model);
  v.set("cclass", cclass);
  v.set("num_filters", num_filters);
  v.set("sn_schedule", sn_schedule);
  v.set("num_steps", num_steps);
  v.set("step_lr", step_lr);
  v.set("proj_norm", proj_norm);
  v.set("noise_scale", noise_scale);
  v.set("replay_batch", replay_batch);
  v.set("buffer_size", buffer_size);
  v.set("reinit", reinit);
  v.set("buffer_storage", buffer_storage);
  v.set("batch_size", batch_size);
  v.set("lr", lr);
  v.set("l2_coeff", l2_coeff);
  v.set("ml_coeff", ml_coeff);
  v.set("adam_clip", adam_clip);
  v.set("seed", seed);
  v.set("iters", iters);
  v.set("limit", limit);
  cadence_to_json(v);
  v.set("cuda_graph", cuda_graph);
  return v;
}

void IgebmConfig::from_json(const json::Value& v) {
  dataset = v.at("dataset").as_string();
  data_dir = v.at("data_dir").as_string();
  dequantize = v.at("dequantize").as_bool();
  random_flip = v.at("random_flip").as_bool();
  model = v.at("model").as_string();
  cclass = v.at("cclass").as_bool();
  num_filters = v.at("num_filters").as_int();
  sn_schedule = v.at("sn_schedule").as_string();
  num_steps = v.at("num_steps").as_int();
  step_lr = v.at("step_lr").as_double();
  proj_norm = v.at("proj_norm").as_double();
  noise_scale = v.at("noise_scale").as_double();
  replay_batch = v.at("replay_batch").as_bool();
  buffer_size = v.at("buffer_size").as_int();
  reinit = v.at("reinit").as_double();
  buffer_storage = v.at("buffer_storage").as_string();
  batch_size = v.at("batch_size").as_int();
  lr = v.at("lr").as_double();
  l2_coeff = v.at("l2_coeff").as_double();
  ml_coeff = v.at("ml_coeff").as_double();
  adam_clip = v.at("adam_clip").as_string();
  seed = v.at("seed").as_int();
  limit = v.at("limit").as_int();
  cadence_from_json(v);
  if (const json::Value* g = v.find("cuda_graph")) cuda_graph = g->as_bool();  // absent in older runs
}

}  // namespace ebm::app
