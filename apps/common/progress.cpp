// Terminal progress bar / plain log lines (see progress.h).
#include "apps/common/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace ebm::app {

std::string format_duration(double s) {
  char b[32];
  if (!std::isfinite(s) || s < 0) return "?";
  long t = std::lround(s);
  if (t >= 3600) std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(b, sizeof b, "%lds", t);
  return b;
}

Progress::Progress(int64_t first_step, int64_t total_steps, int64_t images_per_step, int64_t every)
    : first_(first_step), total_(total_steps), images_(images_per_step), every_(every > 0 ? every : 1),
      last_step_(first_step), tty_(isatty(fileno(stdout)) != 0), start_(std::chrono::steady_clock::now()) {}

double Progress::seconds_per_step() const {
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  int64_t done = last_step_ - first_;
  return done > 0 ? elapsed / done : 0.0;
}

double Progress::images_per_second() const {
  double sps = seconds_per_step();
  return sps > 0 ? images_ / sps : 0.0;
}

void Progress::update(int64_t step, double loss, const std::string& extra) {
  last_step_ = step;
  double eta = seconds_per_step() * (total_ - step);
  if (tty_) {
    const int width = 24;
    int filled = total_ > 0 ? static_cast<int>(width * static_cast<double>(step) / total_) : 0;
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::printf("\r[%s] %lld/%lld %s %.4f %s %.1f img/s ETA %s   ", bar.c_str(),
                static_cast<long long>(step), static_cast<long long>(total_), value_name_.c_str(), loss,
                extra.c_str(), images_per_second(), format_duration(eta).c_str());
    std::fflush(stdout);
  } else if (step % every_ == 0 || step == total_) {
    std::printf("step %lld/%lld %s %.5f %s %.1f img/s %.3f s/step ETA %s\n",
                static_cast<long long>(step), static_cast<long long>(total_), value_name_.c_str(), loss, extra.c_str(),
                images_per_second(), seconds_per_step(), format_duration(eta).c_str());
    std::fflush(stdout);
  }
}

void Progress::finish() {
  if (tty_) std::printf("\n");
  std::fflush(stdout);
}

}  // namespace ebm::app
