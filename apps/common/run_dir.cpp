// Run directory layout and logging (see run_dir.h).
#include "apps/common/run_dir.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/io/atomic_file.h"
#include "core/io/png.h"

namespace ebm::app {

namespace fs = std::filesystem;

std::string step_name(int64_t step) {
  char b[32];
  std::snprintf(b, sizeof b, "%07lld", static_cast<long long>(step));
  return b;
}

RunDir::RunDir(const std::string& dir, int64_t resume_step) : dir_(dir) {
  std::error_code ec;
  for (const char* sub : {"", "/samples", "/checkpoints"}) {
    fs::create_directories(dir + sub, ec);
    EBM_CHECK(!ec, IOError, "run directory: cannot create '", dir + sub, "': ", ec.message());
  }
  std::string metrics = dir + "/metrics.jsonl";
  if (resume_step >= 0 && fs::exists(metrics)) {
    // Keep the lines up to the resumed step, rewritten atomically.
    std::ifstream in(metrics);
    std::string line, kept;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      try {
        if (json::parse(line).at("step").as_int() > resume_step) continue;
      } catch (const Error&) {
        continue;  // a torn last line from a killed run
      }
      kept += line + "\n";
    }
    write_file_atomic(metrics, kept);
  }
  metrics_ = std::fopen(metrics.c_str(), resume_step >= 0 ? "ab" : "wb");
  EBM_CHECK(metrics_ != nullptr, IOError, "run directory: cannot open '", metrics, "': ",
            std::strerror(errno));
  events_ = std::make_unique<io::EventWriter>(dir);
}

RunDir::~RunDir() {
  if (metrics_) std::fclose(metrics_);
}

std::string RunDir::sample_path(int64_t step, const std::string& tag) const {
  return dir_ + "/samples/" + (tag.empty() ? "" : tag + "_") + "step_" + step_name(step) + ".png";
}

std::string RunDir::checkpoint_path(int64_t step) const {
  return dir_ + "/checkpoints/step_" + step_name(step) + ".safetensors";
}

std::string RunDir::latest_checkpoint() const { return dir_ + "/checkpoints/latest.safetensors"; }

bool RunDir::has_checkpoint() const { return fs::exists(latest_checkpoint()); }

void RunDir::write_grid(const io::Image8& grid, int64_t step, const std::string& file_tag,
                        const std::string& event_tag) {
  io::write_png(sample_path(step, file_tag), grid);
  events_->add_image(event_tag, grid, step);
}

void RunDir::write_config(const json::Value& config) const {
  json::DumpOptions o;
  o.indent = 2;
  write_file_atomic(dir_ + "/config.json", json::dump(config, o) + "\n");
}

void RunDir::log_metrics(const json::Value& m) {
  std::string line = json::dump(m) + "\n";
  if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() || std::fflush(metrics_) != 0)
    EBM_THROW(IOError, "run directory: writing metrics.jsonl failed: ", std::strerror(errno));
  int64_t step = m.at("step").as_int();
  std::vector<std::pair<std::string, double>> scalars;
  for (const auto& [k, v] : m.as_object())
    if (k != "step" && v.is_number()) scalars.emplace_back(k, v.as_double());
  events_->add_scalars(scalars, step);
}

}  // namespace ebm::app
