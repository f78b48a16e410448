// The settings every training app shares, ours rather than the papers': the device, the run
// directory, the length and the logging / grid / checkpoint cadence, resume, and the sampling
// mode's switch. An app's config derives from RunOptions (the fields keep their names: cfg.device,
// cfg.iters, ...), declares its own flags and then these with declare_run_flags, and checks them
// with finalize_run_flags after its own checks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/flags.h"
#include "core/io/json.h"

namespace ebm::app {

struct RunOptions {
  std::string device = "cpu";    // cpu, cuda[:N] or auto
  std::string out;               // empty: runs/<exp>
  std::string exp;
  std::string resume;            // a run directory to continue
  int64_t resume_iter = -1;      // with --resume: that step's checkpoint instead of the latest
  int64_t iters = 0;
  int64_t seed = 1;
  int64_t log_every = 10;
  int64_t sample_every = 0;
  int64_t ckpt_every = 0;
  bool tf32 = true;
  int64_t limit = 0;             // use only the first N training images (quick runs, tests)
  // sampling mode
  bool sample = false;           // load a checkpoint and write samples instead of training
  int64_t num_samples = 64;
  // The flags given on the command line (finalize_run_flags): with --resume they replace the run's
  // saved settings (load_resume_checkpoint).
  std::vector<std::string> given;

  RunOptions(std::string exp_name, int64_t iters, int64_t sample_every, int64_t ckpt_every)
      : exp(std::move(exp_name)), iters(iters), sample_every(sample_every), ckpt_every(ckpt_every) {}

  std::string out_dir() const { return out.empty() ? "runs/" + exp : out; }
  // --device, --out, --exp, --resume, --resume_iter, --iters, --seed, --log-every,
  // --sample-every, --ckpt-every, --tf32, --limit, --sample, --num-samples.
  void declare_run_flags(Flags& flags);
  // Checks (UsageError "<program>: ..." naming the flags) and derived values: --out becomes
  // --resume's directory, --device auto becomes cuda when a GPU is present (else cpu).
  void finalize_run_flags(const Flags& flags, const std::string& program);
  // The cadence (log_every, sample_every, ckpt_every) in an app's config JSON, so that --resume
  // keeps the run's own unless the command gives new ones; absent keys (older runs) leave them.
  void cadence_to_json(json::Value& v) const;
  void cadence_from_json(const json::Value& v);
};

}  // namespace ebm::app
