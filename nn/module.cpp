// Module tree: registration, traversal, train/eval, device moves and state_dict loading.
#include "nn/module.h"

#include <algorithm>
#include <set>
#include <sstream>

namespace ebm::nn {

std::string join_name(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return name.empty() ? prefix : prefix + "." + name;
}

void Module::check_new_name(const std::string& name) const {
  EBM_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError, type_name_,
            ": invalid member name '", name, "' (must be non-empty, without '.')");
  auto taken = [&](const std::deque<Entry>& es) {
    return std::any_of(es.begin(), es.end(), [&](const Entry& e) { return e.name == name; });
  };
  bool child = std::any_of(children_.begin(), children_.end(),
                           [&](const auto& c) { return c.first == name; });
  EBM_CHECK(!taken(params_) && !taken(buffers_) && !child, ValueError, type_name_,
            ": member name '", name, "' is already registered");
}

Tensor* Module::register_parameter(const std::string& name, Tensor value) {
  check_new_name(name);
  check_defined(value, "register_parameter", name.c_str());
  check_float(value, "register_parameter", name.c_str());
  EBM_CHECK(value.is_leaf(), ValueError, type_name_, ": parameter '", name,
            "' must be a leaf tensor (detach it first)");
  value.set_requires_grad(true);
  params_.push_back({name, std::move(value), true});
  return &params_.back().value;
}

Tensor* Module::register_buffer(const std::string& name, Tensor value, bool persistent) {
  check_new_name(name);
  buffers_.push_back({name, std::move(value), persistent});
  return &buffers_.back().value;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
  check_new_name(name);
  EBM_CHECK(child != nullptr, ValueError, type_name_, ": child module '", name, "' is null");
  children_.emplace_back(name, std::move(child));
}

void Module::collect(const std::string& prefix, bool params, bool buffers, bool persistent_only,
                     std::vector<std::pair<std::string, Tensor*>>& out) const {
  auto* self = const_cast<Module*>(this);  // slots are handed out mutable; traversal is not
  if (params)
    for (Entry& e : self->params_) out.emplace_back(join_name(prefix, e.name), &e.value);
  if (buffers)
    for (Entry& e : self->buffers_)
      if (e.persistent || !persistent_only) out.emplace_back(join_name(prefix, e.name), &e.value);
  for (const auto& [name, child] : children_)
    child->collect(join_name(prefix, name), params, buffers, persistent_only, out);
}

namespace {

NamedTensors values_of(const std::vector<std::pair<std::string, Tensor*>>& slots) {
  NamedTensors out;
  out.reserve(slots.size());
  for (const auto& [name, slot] : slots) out.emplace_back(name, *slot);
  return out;
}

}  // namespace

NamedTensors Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", true, false, false, slots);
  return values_of(slots);
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

NamedTensors Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", false, true, false, slots);
  return values_of(slots);
}

std::vector<std::pair<std::string, Module*>> Module::named_children() {
  std::vector<std::pair<std::string, Module*>> out;
  for (auto& [name, child] : children_) out.emplace_back(name, child.get());
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out{{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(join_name(name, sub), m);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : named_parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  for (auto& [name, m] : named_modules()) {
    m->training_ = on;
    m->on_mode_changed();
  }
}

void Module::to(Device device) {
  for (auto& [name, m] : named_modules()) {
    for (Entry& e : m->params_) {
      if (e.value.device() == device) continue;
      e.value = e.value.detach().to(device);
      e.value.set_requires_grad(true);
    }
    for (Entry& e : m->buffers_)
      if (e.value.defined()) e.value = e.value.to(device);
    m->device_ = device;
    m->on_mode_changed();
  }
}

void Module::zero_grad() {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", true, false, false, slots);
  for (auto& [name, slot] : slots) slot->zero_grad();
}

StateDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", true, true, true, slots);
  StateDict out;
  out.reserve(slots.size());
  for (const auto& [name, slot] : slots) out.emplace_back(name, slot->detach());
  return out;
}

LoadResult Module::load_state_dict(const StateDict& state, bool strict) {
  std::vector<std::pair<std::string, Tensor*>> slots;
  collect("", true, true, true, slots);

  std::set<std::string> given;
  for (const auto& [name, t] : state) {
    EBM_CHECK(given.insert(name).second, ValueError, "load_state_dict: '", name,
              "' appears twice in the state dict");
  }
  LoadResult result;
  std::set<std::string> known;
  std::ostringstream mismatches;
  for (const auto& [name, slot] : slots) {
    known.insert(name);
    auto it = std::find_if(state.begin(), state.end(), [&](const auto& e) { return e.first == name; });
    if (it == state.end()) {
      result.missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined())
      mismatches << "\n  " << name << ": the state dict's tensor is undefined";
    else if (src.shape() != slot->shape())
      mismatches << "\n  size mismatch for " << name << ": checkpoint has " << src.shape()
                 << ", the model has " << slot->shape();
    else if (src.dtype() != slot->dtype())
      mismatches << "\n  dtype mismatch for " << name << ": checkpoint has "
                 << dtype_name(src.dtype()) << ", the model has " << dtype_name(slot->dtype());
  }
  for (const auto& [name, t] : state)
    if (!known.count(name)) result.unexpected.push_back(name);

  std::string bad = mismatches.str();
  auto list = [](const std::vector<std::string>& names) {
    std::string s;
    for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
    return s;
  };
  if (strict && !result.missing.empty()) bad += "\n  missing: " + list(result.missing);
  if (strict && !result.unexpected.empty()) bad += "\n  unexpected: " + list(result.unexpected);
  EBM_CHECK(bad.empty(), ValueError, "load_state_dict into ", type_name_, " failed:", bad);

  for (const auto& [name, slot] : slots) {
    auto it = std::find_if(state.begin(), state.end(), [&](const auto& e) { return e.first == name; });
    if (it == state.end()) continue;
    // In place, so views the layers hold and optimizer state keyed by the tensor stay valid.
    slot->detach().copy_(it->second);
  }
  return result;
}

}  // namespace ebm::nn
