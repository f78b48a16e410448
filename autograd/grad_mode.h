// Whether ops record onto the autograd graph (per thread). Like torch.no_grad().
#pragma once

namespace ebm {

class GradMode {
 public:
  static bool enabled();
  static void set_enabled(bool on);
};

// Disables recording for its lifetime, restoring the previous mode after.
class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradMode::enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// Sets the mode to `on` for its lifetime (the engine uses it to run backward with or without
// recording the backward's own graph).
class GradModeGuard {
 public:
  explicit GradModeGuard(bool on) : prev_(GradMode::enabled()) { GradMode::set_enabled(on); }
  ~GradModeGuard() { GradMode::set_enabled(prev_); }
  GradModeGuard(const GradModeGuard&) = delete;
  GradModeGuard& operator=(const GradModeGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace ebm
