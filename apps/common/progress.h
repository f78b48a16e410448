// Progress reporting: on a terminal a one-line bar redrawn in place (step/total, loss, images/s,
// ETA); otherwise (logs, CI) a plain line every `every` steps. Timing uses a steady clock and
// excludes the steps before start() (warm-up, resumed steps).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ebm::app {

class Progress {
 public:
  Progress(int64_t first_step, int64_t total_steps, int64_t images_per_step, int64_t every);
  // After step `step` finished; `extra` is appended (e.g. "E+ 0.01 E- -0.02").
  void update(int64_t step, double loss, const std::string& extra = "");
  void finish();
  // The name printed before update()'s value ("loss" unless set; ebm_eval shows "mean E").
  void set_value_name(std::string name) { value_name_ = std::move(name); }
  double seconds_per_step() const;
  double images_per_second() const;

 private:
  int64_t first_, total_, images_, every_, last_step_;
  bool tty_;
  std::string value_name_ = "loss";
  std::chrono::steady_clock::time_point start_;
};

// "1h02m", "3m07s", "12s".
std::string format_duration(double seconds);

}  // namespace ebm::app
