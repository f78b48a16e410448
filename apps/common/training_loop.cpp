// Training-loop bookkeeping shared by the apps (see training_loop.h).
#include "apps/common/training_loop.h"

#include <cstdio>

#include "apps/common/interrupt.h"

namespace ebm::app {

json::Value resume_settings(const std::string& program, const json::Value& saved, const json::Value& command,
                            const std::vector<std::string>& given) {
  json::Value merged = saved;
  for (std::string name : given) {
    std::string key = name;
    for (char& c : key)
      if (c == '-') c = '_';
    const json::Value* now = command.find(key);
    const json::Value* before = saved.find(key);
    if (key == "iters" || !now || !before || *now == *before) continue;
    std::printf("%s: resuming with --%s %s (the run had %s)\n", program.c_str(), name.c_str(), json::dump(*now).c_str(),
                json::dump(*before).c_str());
    merged.set(key, *now);
  }
  return merged;
}

TrainingLoop::TrainingLoop(const std::string& program, const RunOptions& o, int64_t step, int64_t images_per_step,
                           const json::Value& config, const std::string& banner, const std::string& resumed_from)
    : o_(o),
      dir_(std::make_unique<RunDir>(o.out_dir(), resumed_from.empty() ? -1 : step)),
      progress_(step, o.iters, images_per_step, o.log_every),
      last_saved_(step) {
  dir_->write_config(config);
  std::printf("%s: %s, run directory %s\n", program.c_str(), banner.c_str(), o.out_dir().c_str());
  if (!resumed_from.empty())
    std::printf("resumed from %s at step %lld\n", resumed_from.c_str(), static_cast<long long>(step));
  std::fflush(stdout);
  install_interrupt_handler();
}

bool TrainingLoop::log_due(int64_t step) const { return step % o_.log_every == 0 || step == o_.iters; }

bool TrainingLoop::end_step(int64_t step, const std::function<void()>& write_samples,
                            const std::function<void()>& save, TrainOutcome& out) {
  const bool last = step == o_.iters || interrupted();
  if ((o_.sample_every > 0 && step % o_.sample_every == 0) || last) write_samples();
  if ((o_.ckpt_every > 0 && step % o_.ckpt_every == 0) || last) {
    save();
    last_saved_ = step;
  }
  if (!interrupted()) return false;
  progress_.finish();
  out.interrupted = true;
  out.message = "interrupted at step " + std::to_string(step) + "; checkpoint written. Continue with --resume " + o_.out_dir();
  return true;
}

TrainOutcome& TrainingLoop::diverge(TrainOutcome& out, int64_t step, const std::string& what, const std::string& advice) {
  progress_.finish();
  out.diverged = true;
  out.message = "diverged at step " + std::to_string(step) + ": " + what + ". The last good checkpoint (step " +
                std::to_string(last_saved_) + ") is untouched; " + advice;
  return out;
}

TrainOutcome& TrainingLoop::finish(TrainOutcome& out) {
  progress_.finish();
  out.message = "finished " + std::to_string(out.last_step) + " steps; samples in " + o_.out_dir() + "/samples";
  return out;
}

bool TrainingLoop::already_done(int64_t step, int64_t iters, TrainOutcome& out) {
  out.last_step = step;
  if (step < iters) return false;
  out.message = "nothing to do: the run is at step " + std::to_string(step) + " of --iters " + std::to_string(iters);
  return true;
}

}  // namespace ebm::app
