// The flags every training app shares (see run_options.h).
#include "apps/common/run_options.h"

#include <utility>

#include "core/device_hooks.h"
#include "core/tensor.h"

namespace ebm::app {

void RunOptions::declare_run_flags(Flags& f) {
  f.add("device", &device, "cpu, cuda[:N], or auto (cuda when this build has CUDA and a GPU is present)");
  f.add("out", &out, "run directory (default: runs/<exp>)");
  f.add("exp", &exp, "experiment name (the run directory when --out is not given)");
  f.add("resume", &resume, "continue the run in this directory from its latest checkpoint");
  f.add("resume_iter", &resume_iter, "with --resume/--sample: use checkpoint step_<N> instead of the latest");
  f.add("iters", &iters, "total training steps of the run");
  f.add("seed", &seed, "random seed of every stream (initialisation, data order, noise)");
  f.add("log-every", &log_every, "steps between metrics.jsonl / TensorBoard lines");
  f.add("sample-every", &sample_every, "steps between sample grids (0: only at the end)");
  f.add("ckpt-every", &ckpt_every, "steps between checkpoints (0: only at the end)");
  f.add("tf32", &tf32, "TF32 tensor-core math for convolutions and GEMMs on the GPU");
  f.add("limit", &limit, "use only the first N training images (0: all)");
  f.add("sample", &sample, "sampling mode: load a checkpoint (--resume DIR) and write samples");
  f.add("num-samples", &num_samples, "sampling mode: number of samples");
}

void RunOptions::finalize_run_flags(const Flags& f, const std::string& program) {
  auto fail = [&](const std::string& msg) { EBM_THROW(UsageError, program, ": ", msg); };
  given = f.given_names();
  if (iters < 1) fail("--iters must be >= 1");
  if (log_every < 1) fail("--log-every must be >= 1");
  if (sample_every < 0 || ckpt_every < 0) fail("--sample-every and --ckpt-every must be >= 0");
  if (limit < 0) fail("--limit must be >= 0");
  if (resume_iter >= 0 && resume.empty()) fail("--resume_iter needs --resume DIR");
  if (sample && resume.empty()) fail("--sample needs --resume DIR (the run to sample from)");
  if (!resume.empty() && f.given("out") && out != resume) fail("--out and --resume name different directories");
  if (!resume.empty()) out = resume;
  if (num_samples < 1) fail("--num-samples must be >= 1");
  if (device == "auto") device = device_hooks::cuda_device_count() > 0 ? "cuda" : "cpu";
  try {
    (void)Device::parse(device);
  } catch (const Error& e) {
    fail(std::string("--device: ") + e.what());
  }
}

void RunOptions::cadence_to_json(json::Value& v) const {
  v.set("log_every", log_every);
  v.set("sample_every", sample_every);
  v.set("ckpt_every", ckpt_every);
}

void RunOptions::cadence_from_json(const json::Value& v) {
  for (auto [key, field] : {std::pair<const char*, int64_t*>{"log_every", &log_every},
                            {"sample_every", &sample_every},
                            {"ckpt_every", &ckpt_every}})
    if (const json::Value* x = v.find(key)) *field = x->as_int();
}

}  // namespace ebm::app
