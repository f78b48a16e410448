// Exponential moving average of parameters (nn/ema.h; DRL, specs/igebm-drl.md §2.7).
#include "nn/ema.h"

#include <algorithm>
#include <map>
#include <set>

namespace ebm::nn {

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

// Shape and dtype of `t` against the shadow `s` (devices are the caller's business).
void check_like(const Tensor& s, const Tensor& t, const std::string& name, const char* op) {
  EBM_CHECK(t.defined(), ValueError, op, ": '", name, "' is undefined");
  EBM_CHECK(t.shape() == s.shape(), ShapeError, op, ": '", name, "' is ", t.description(),
            " but its average is ", s.description());
  EBM_CHECK(t.dtype() == s.dtype(), DTypeError, op, ": '", name, "' is ", t.description(),
            " but its average is ", s.description());
}

}  // namespace

Ema::Ema(const NamedTensors& tensors, double decay, EmaForm form, bool warmup)
    : decay_(decay), form_(form), warmup_(warmup) {
  EBM_CHECK(decay >= 0 && decay <= 1, ValueError, "Ema: decay must lie in [0, 1], got ", decay);
  std::set<std::string> names;
  for (const auto& [name, t] : tensors) {
    EBM_CHECK(t.defined(), ValueError, "Ema: '", name, "' is undefined");
    EBM_CHECK(t.dtype() == DType::Float32 || t.dtype() == DType::Float64, DTypeError, "Ema: '", name,
              "' must be float32 or float64, got ", t.description());
    EBM_CHECK(names.insert(name).second, ValueError, "Ema: name '", name, "' appears twice");
    shadows_.emplace_back(name, t.detach().clone());
  }
}

void Ema::update(const NamedTensors& tensors) {
  const char* op = "Ema::update";
  EBM_CHECK(tensors.size() == shadows_.size(), ValueError, op, ": got ", tensors.size(),
            " tensors, the average has ", shadows_.size());
  for (size_t i = 0; i < tensors.size(); ++i) {  // check all before changing any
    const auto& [name, t] = tensors[i];
    EBM_CHECK(name == shadows_[i].first, ValueError, op, ": tensor ", i, " is '", name,
              "' but the average's tensor ", i, " is '", shadows_[i].first, "'");
    check_like(shadows_[i].second, t, name, op);
    EBM_CHECK(t.device() == shadows_[i].second.device(), DeviceError, op, ": '", name, "' is on ",
              t.device(), " but its average on ", shadows_[i].second.device());
  }
  const double decay = next_decay();
  for (size_t i = 0; i < tensors.size(); ++i)
    ops::ema_update_(shadows_[i].second, tensors[i].second, decay, form_);
  ++updates_;
}

double Ema::next_decay() const {
  if (!warmup_) return decay_;
  const double n = static_cast<double>(updates_);
  return std::min(decay_, (1.0 + n) / (10.0 + n));
}

void Ema::copy_to(const NamedTensors& targets) const {
  const char* op = "Ema::copy_to";
  std::map<std::string, const Tensor*> by_name;
  std::vector<std::string> unexpected, missing;
  for (const auto& [name, t] : targets) by_name[name] = &t;
  std::set<std::string> own;
  for (const auto& [name, s] : shadows_) {
    own.insert(name);
    auto it = by_name.find(name);
    if (it == by_name.end()) missing.push_back(name);
    else check_like(s, *it->second, name, op);
  }
  for (const auto& [name, t] : targets)
    if (!own.count(name)) unexpected.push_back(name);
  EBM_CHECK(missing.empty() && unexpected.empty(), ValueError, op, ": targets do not match the averages;",
            missing.empty() ? "" : " missing: ", join(missing),
            unexpected.empty() ? "" : " unexpected: ", join(unexpected));
  for (const auto& [name, s] : shadows_) {
    Tensor target = *by_name[name];
    target.copy_(s);
  }
}

NamedTensors Ema::state_dict() const {
  NamedTensors out;
  for (const auto& [name, s] : shadows_) out.emplace_back("ema." + name, s.detach());
  out.emplace_back("ema.updates", Tensor::from_vector(std::vector<int64_t>{updates_}, Shape{}));
  return out;
}

void Ema::load_state_dict(const NamedTensors& state) {
  const char* op = "Ema::load_state_dict";
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < shadows_.size(); ++i) index["ema." + shadows_[i].first] = i;
  std::vector<const Tensor*> found(shadows_.size(), nullptr);
  std::vector<std::string> unexpected, missing;
  int64_t updates = -1;
  for (const auto& [key, t] : state) {
    if (key == "ema.updates") {
      EBM_CHECK(t.defined() && t.numel() == 1 && t.dtype() == DType::Int64, DTypeError, op,
                ": 'ema.updates' must be a one-element int64 tensor");
      updates = t.to_vector<int64_t>()[0];
      continue;
    }
    auto it = index.find(key);
    if (it == index.end()) {
      unexpected.push_back(key);
      continue;
    }
    check_like(shadows_[it->second].second, t, key, op);
    found[it->second] = &t;
  }
  for (size_t i = 0; i < shadows_.size(); ++i)
    if (!found[i]) missing.push_back("ema." + shadows_[i].first);
  if (updates < 0) missing.push_back("ema.updates");
  EBM_CHECK(missing.empty() && unexpected.empty(), ValueError, op,
            ": the state does not match this average;", missing.empty() ? "" : " missing: ",
            join(missing), unexpected.empty() ? "" : " unexpected: ", join(unexpected));
  for (size_t i = 0; i < shadows_.size(); ++i) shadows_[i].second.copy_(*found[i]);
  updates_ = updates;
}

}  // namespace ebm::nn
