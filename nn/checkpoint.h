// Training checkpoints: one safetensors file (core/io/safetensors.h, written atomically) holding
//   <name>              the model's state_dict, names exactly as PyTorch's (no prefix), so a
//                       PyTorch user loads it with
//                         sd = safetensors.torch.load_file(path)
//                         model.load_state_dict({k: v for k, v in sd.items() if "/" not in k})
//   ema/<name>          EMA weights (same names)
//   optim/<name>        optimizer state (nn/optim.h state_dict)
//   <section>/<name>    any other state (replay buffer, data sampler, ...)
// and in __metadata__ (strings): "format" = "ebm.checkpoint.v1", "step", "config" (the run's
// settings as JSON), "rng" (JSON object name -> [seed, offset] as decimal strings: uint64s).
// PyTorch state_dict keys never contain '/', so the sections cannot collide with model names.
#pragma once

#include <map>
#include <string>

#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "core/random.h"
#include "nn/module.h"

namespace ebm::nn {

class Checkpoint {
 public:
  static constexpr const char* kFormat = "ebm.checkpoint.v1";

  int64_t step = 0;
  json::Value config = json::Value::object();
  std::map<std::string, Generator::State> rng;

  // The model's tensors go in unprefixed; sections get "<section>/".
  void set_model(const NamedTensors& state) { set_section("", state); }
  void set_section(const std::string& section, const NamedTensors& state);
  NamedTensors model() const { return section(""); }
  NamedTensors section(const std::string& section) const;  // names without the prefix
  bool has_section(const std::string& section) const;
  const NamedTensors& tensors() const { return tensors_; }

  void save(const std::string& path) const;
  // Reads and validates the file and its metadata; IOError naming the file and the field.
  static Checkpoint load(const std::string& path);

 private:
  NamedTensors tensors_;
};

// Loads a checkpoint's model section into the module: every name, shape and dtype checked, all
// problems listed in one error that names the file (strict: missing and unexpected names too).
void load_model_from_checkpoint(Module& model, const Checkpoint& ckpt, const std::string& source,
                                bool strict = true);

}  // namespace ebm::nn
