// A run directory, the same for every app:
//   DIR/config.json                        every setting, engine version, device (atomic write)
//   DIR/metrics.jsonl                      one JSON object per logged step (appended, flushed)
//   DIR/events.out.tfevents.*              TensorBoard scalars and sample grids
//   DIR/samples/step_NNNNNNN.png           sample grids
//   DIR/checkpoints/step_NNNNNNN.safetensors and checkpoints/latest.safetensors
// Resuming appends to metrics.jsonl after dropping lines past the resumed step, so a resumed run
// leaves the same log as an uninterrupted one.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "core/io/json.h"
#include "core/io/tensorboard.h"

namespace ebm::app {

class RunDir {
 public:
  // Creates DIR and its subdirectories. resume_step >= 0: keep metrics lines with step <= it.
  explicit RunDir(const std::string& dir, int64_t resume_step = -1);
  ~RunDir();
  RunDir(const RunDir&) = delete;
  RunDir& operator=(const RunDir&) = delete;

  const std::string& dir() const { return dir_; }
  std::string sample_path(int64_t step, const std::string& tag = "") const;
  std::string checkpoint_path(int64_t step) const;
  std::string latest_checkpoint() const;  // DIR/checkpoints/latest.safetensors
  bool has_checkpoint() const;

  void write_config(const json::Value& config) const;
  // Appends one line (must be an object with "step") and mirrors its numbers to TensorBoard.
  void log_metrics(const json::Value& metrics);
  io::EventWriter& events() { return *events_; }
  // A sample grid of `step`: samples/[file_tag_]step_N.png and the TensorBoard image `event_tag`.
  void write_grid(const io::Image8& grid, int64_t step, const std::string& file_tag,
                  const std::string& event_tag);

 private:
  std::string dir_;
  FILE* metrics_ = nullptr;
  std::unique_ptr<io::EventWriter> events_;
};

// "0001234" style zero-padded step (7 digits, more when needed).
std::string step_name(int64_t step);

}  // namespace ebm::app
