// Run-state helpers shared by the training apps (see run_state.h).
#include "apps/common/run_state.h"

#include <filesystem>
#include <vector>

#include "apps/common/run_dir.h"
#include "core/io/image_grid.h"
#include "core/io/npz.h"

namespace ebm::app {

uint64_t stream_seed(int64_t seed, uint64_t purpose) {
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull;
  z ^= z >> 31;
  return z * 0x94D049BB133111EBull;
}

nn::NamedTensors epoch_sampler_section(const data::EpochSampler& sampler) {
  const data::EpochSampler::State s = sampler.state();
  return {{"state", Tensor::from_vector(std::vector<int64_t>{static_cast<int64_t>(s.seed), s.epoch, s.position},
                                        Shape{3})}};
}

void restore_epoch_sampler(data::EpochSampler& sampler, const nn::NamedTensors& section) {
  EBM_CHECK(section.size() == 1 && section[0].first == "state" && section[0].second.numel() == 3, IOError,
            "checkpoint: the data section must hold one 3-element 'state' tensor");
  const std::vector<int64_t> s = section[0].second.to_vector<int64_t>();
  sampler.set_state({static_cast<uint64_t>(s[0]), s[1], s[2]});
}

std::string resume_checkpoint_path(const std::string& program, const std::string& dir, int64_t resume_iter) {
  const std::string p = resume_iter >= 0 ? dir + "/checkpoints/step_" + step_name(resume_iter) + ".safetensors"
                                         : dir + "/checkpoints/latest.safetensors";
  EBM_CHECK(std::filesystem::exists(p), IOError, program, ": no checkpoint '", p, "' to resume from (is '", dir,
            "' a run directory?)");
  return p;
}

std::string checkpoint_file(const std::string& program, const std::string& checkpoint) {
  std::string path = checkpoint;
  if (std::filesystem::is_directory(path)) path += "/checkpoints/latest.safetensors";
  EBM_CHECK(std::filesystem::is_regular_file(path), IOError, program, ": no checkpoint '", path,
            "' (give a run directory or a .safetensors checkpoint)");
  return path;
}

nn::Checkpoint load_app_checkpoint(const std::string& path, const std::string& app) {
  nn::Checkpoint c = nn::Checkpoint::load(path);
  const json::Value* written_by = c.config.find("app");
  EBM_CHECK(written_by && written_by->is_string() && written_by->as_string() == app, ValueError, "'", path,
            "' is not a checkpoint of ", app, " (config app: ",
            written_by ? json::dump(*written_by) : std::string("missing"), ")");
  return c;
}

std::string write_sample_files(const std::string& dir, int64_t step, const Tensor& images, double lo, double hi,
                               io::Quantize q) {
  const std::string png = dir + "/samples/sample_step_" + step_name(step) + ".png";
  const std::string npz = dir + "/samples_step_" + step_name(step) + ".npz";
  std::filesystem::create_directories(dir + "/samples");
  io::write_png(png, io::make_grid(images, lo, hi, 8));
  io::write_npz(npz, {{"arr_0", io::uint8_images(io::to_uint8_nhwc(images, lo, hi, q), images.size(0), images.size(2),
                                                 images.size(3), images.size(1))}});
  return png + " and " + npz;
}

}  // namespace ebm::app
