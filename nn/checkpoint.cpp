// Checkpoint sections and metadata over safetensors (see checkpoint.h).
#include "nn/checkpoint.h"

#include <algorithm>

namespace ebm::nn {

namespace {

std::string prefix_of(const std::string& section) { return section.empty() ? "" : section + "/"; }

bool in_section(const std::string& name, const std::string& section) {
  if (section.empty()) return name.find('/') == std::string::npos;
  std::string p = prefix_of(section);
  return name.compare(0, p.size(), p) == 0;
}

}  // namespace

void Checkpoint::set_section(const std::string& section, const NamedTensors& state) {
  EBM_CHECK(section.find('/') == std::string::npos, ValueError, "checkpoint: section name '",
            section, "' must not contain '/'");
  tensors_.erase(std::remove_if(tensors_.begin(), tensors_.end(),
                                [&](const auto& e) { return in_section(e.first, section); }),
                 tensors_.end());
  for (const auto& [name, t] : state) {
    EBM_CHECK(!section.empty() || name.find('/') == std::string::npos, ValueError,
              "checkpoint: model tensor name '", name, "' must not contain '/'");
    tensors_.emplace_back(prefix_of(section) + name, t);
  }
}

NamedTensors Checkpoint::section(const std::string& section) const {
  NamedTensors out;
  size_t skip = prefix_of(section).size();
  for (const auto& [name, t] : tensors_)
    if (in_section(name, section)) out.emplace_back(name.substr(skip), t);
  return out;
}

bool Checkpoint::has_section(const std::string& section) const {
  return std::any_of(tensors_.begin(), tensors_.end(),
                     [&](const auto& e) { return in_section(e.first, section); });
}

void Checkpoint::save(const std::string& path) const {
  json::Value r = json::Value::object();
  for (const auto& [name, st] : rng) {
    json::Value pair = json::Value::array();
    pair.push_back(std::to_string(st.seed));
    pair.push_back(std::to_string(st.offset));
    r.set(name, pair);
  }
  SafetensorsMetadata meta = {{"format", kFormat},
                              {"step", std::to_string(step)},
                              {"config", json::dump(config)},
                              {"rng", json::dump(r)}};
  write_safetensors(path, tensors_, meta);
}

Checkpoint Checkpoint::load(const std::string& path) {
  SafetensorsFile f = read_safetensors(path);
  auto meta = [&](const char* key) -> const std::string& {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end())
      EBM_THROW(IOError, "checkpoint ", path, ": metadata has no '", key,
                "' (not a checkpoint written by this engine?)");
    return it->second;
  };
  EBM_CHECK(meta("format") == kFormat, IOError, "checkpoint ", path, ": format '", meta("format"),
            "', expected '", kFormat, "'");
  Checkpoint c;
  try {
    size_t used = 0;
    c.step = std::stoll(meta("step"), &used);
    if (used != meta("step").size() || c.step < 0) throw std::invalid_argument("step");
    c.config = json::parse(meta("config"));
    json::Value r = json::parse(meta("rng"));
    for (const auto& [name, v] : r.as_object()) {
      const auto& a = v.as_array();
      if (a.size() != 2) throw std::invalid_argument("rng");
      c.rng[name] = {std::stoull(a[0].as_string()), std::stoull(a[1].as_string())};
    }
  } catch (const IOError&) {
    throw;
  } catch (const std::exception& e) {
    EBM_THROW(IOError, "checkpoint ", path, ": malformed metadata (step, config or rng): ", e.what());
  }
  c.tensors_ = std::move(f.tensors);
  return c;
}

void load_model_from_checkpoint(Module& model, const Checkpoint& ckpt, const std::string& source,
                                bool strict) {
  ExpectedTensors expected;
  for (const auto& [name, t] : model.state_dict()) expected.emplace_back(name, TensorSpec::of(t));
  check_safetensors(ckpt.model(), expected, strict, source);
  model.load_state_dict(ckpt.model(), strict);
}

}  // namespace ebm::nn
