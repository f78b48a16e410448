// The bookkeeping around a training app's steps, the same for every recipe: the run's own
// settings when resuming, the run directory and the banner, progress, the sample-grid and
// checkpoint cadence, Ctrl-C (finish the step, checkpoint, stop), and the divergence stop that
// leaves the last good checkpoint untouched. The recipe's step itself stays in the app.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "apps/common/progress.h"
#include "apps/common/run_dir.h"
#include "apps/common/run_options.h"
#include "apps/common/run_state.h"
#include "nn/checkpoint.h"

namespace ebm::app {

struct TrainOutcome {
  int64_t last_step = 0;       // the last completed step
  bool diverged = false;
  bool interrupted = false;
  std::string message;         // what stopped the run, for the user
  double last_loss = 0;
};

// The settings a resumed run continues with: the run's saved config.json values, except those of
// flags given on this command line (--lr, --seed, ...: names with '-' read as '_'), which win and
// are printed ("<program>: resuming with --lr 0.0001 (the run had 0.0005)").
json::Value resume_settings(const std::string& program, const json::Value& saved, const json::Value& command,
                            const std::vector<std::string>& given);

// --resume: loads the checkpoint (its path into *path) and replaces cfg's settings by the run's
// own (Config::from_json of resume_settings), keeping this command's --iters, the flags it gives,
// and everything from_json leaves alone (device, run directory); the cadence of logs, grids and
// checkpoints is the run's (RunOptions::cadence_from_json) unless given.
template <class Config>
nn::Checkpoint load_resume_checkpoint(const std::string& program, Config& cfg, std::string* path) {
  *path = resume_checkpoint_path(program, cfg.out_dir(), cfg.resume_iter);
  nn::Checkpoint ckpt = nn::Checkpoint::load(*path);
  Config saved = cfg;
  saved.from_json(resume_settings(program, ckpt.config, cfg.to_json(), cfg.given));
  saved.iters = cfg.iters;
  cfg = saved;
  return ckpt;
}

class TrainingLoop {
 public:
  // Opens the run directory (keeping metrics lines up to `step` when resuming from
  // `resumed_from`), writes config.json, prints "<program>: <banner>, run directory DIR" (and the
  // checkpoint resumed from), installs the Ctrl-C handler.
  TrainingLoop(const std::string& program, const RunOptions& options, int64_t step, int64_t images_per_step,
               const json::Value& config, const std::string& banner, const std::string& resumed_from);

  RunDir& dir() { return *dir_; }
  Progress& progress() { return progress_; }
  int64_t last_saved() const { return last_saved_; }
  // Whether step's metrics line is due (every --log-every steps and the last step).
  bool log_due(int64_t step) const;
  // The end of step `step`: grids and a checkpoint when due, or at the last step, or after
  // Ctrl-C. Returns true when Ctrl-C asked to stop (out then says so).
  bool end_step(int64_t step, const std::function<void()>& write_samples, const std::function<void()>& save,
                TrainOutcome& out);
  // Stops as diverged: "diverged at step N: <what>. The last good checkpoint (step M) is
  // untouched; <advice>".
  TrainOutcome& diverge(TrainOutcome& out, int64_t step, const std::string& what, const std::string& advice);
  TrainOutcome& finish(TrainOutcome& out);

  // "nothing to do" (out.message) when a resumed run is already at --iters.
  static bool already_done(int64_t step, int64_t iters, TrainOutcome& out);

 private:
  RunOptions o_;
  std::unique_ptr<RunDir> dir_;
  Progress progress_;
  int64_t last_saved_;
};

}  // namespace ebm::app
