// Pieces of a training run's state that every app handles the same way: independent Philox
// streams per purpose from the one --seed, the data sampler's position in a checkpoint, the
// checkpoint a --resume / --sample command reads, and the sampling mode's outputs
// (DIR/samples/sample_step_NNNNNNN.png and DIR/samples_step_NNNNNNN.npz, uint8 NHWC "arr_0", the
// layout pytorch-fid and torch-fidelity read).
#pragma once

#include <cstdint>
#include <string>

#include "core/io/image_grid.h"
#include "data/batches.h"
#include "nn/checkpoint.h"

namespace ebm::app {

// The seed of the stream for `purpose` (any small number an app assigns) under --seed.
uint64_t stream_seed(int64_t seed, uint64_t purpose);

// The epoch sampler's state as a checkpoint section {"state": int64 [seed, epoch, position]}.
nn::NamedTensors epoch_sampler_section(const data::EpochSampler& sampler);
void restore_epoch_sampler(data::EpochSampler& sampler, const nn::NamedTensors& section);

// DIR/checkpoints/step_<resume_iter>.safetensors, or latest.safetensors when resume_iter < 0;
// IOError (prefixed with `program`) when it does not exist.
std::string resume_checkpoint_path(const std::string& program, const std::string& dir, int64_t resume_iter);

// The checkpoint file `checkpoint` names: a run directory's checkpoints/latest.safetensors, or the
// file itself; IOError "<program>: no checkpoint ..." when it does not exist.
std::string checkpoint_file(const std::string& program, const std::string& checkpoint);
// Loads a checkpoint and checks that `app` wrote it (its config's "app"); ValueError otherwise.
nn::Checkpoint load_app_checkpoint(const std::string& path, const std::string& app);

// Writes the sampling mode's PNG grid (8 columns) and .npz of images [N, C, H, W] with pixel
// range [lo, hi]; the .npz bytes are quantised by `q` (the recipe's reference rule); returns
// "<png> and <npz>".
std::string write_sample_files(const std::string& dir, int64_t step, const Tensor& images, double lo, double hi,
                               io::Quantize q);

}  // namespace ebm::app
