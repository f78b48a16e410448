// Optimizers (nn/optim.h): parameter bookkeeping, gradient checks naming the parameter, lazily
// created state and its state_dict, and the Adam / SGD steps over the fused kernels of
// core/ops/optim.h (torch.optim.Adam, AdamW and SGD semantics; TF's ApplyAdam order and IGEBM's
// clip as options, specs/igebm-drl.md §1.7 and §2.7).
#include "nn/optim.h"

#include <cmath>
#include <map>
#include <set>

namespace ebm::nn {

namespace {

constexpr const char* kPrefix = "optimizer.";

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i ? ", " : "") + names[i];
  return s;
}

Tensor int_scalar(int64_t v) { return Tensor::from_vector(std::vector<int64_t>{v}, Shape{}); }

int64_t read_int(const Tensor& t, const std::string& name) {
  EBM_CHECK(t.defined() && t.numel() == 1 && t.dtype() == DType::Int64, DTypeError,
            "Optimizer::load_state_dict: '", name, "' must be a one-element int64 tensor, got ",
            t.defined() ? t.description() : std::string("an undefined tensor"));
  return t.to_vector<int64_t>()[0];
}

}  // namespace

NamedTensors number_tensors(const std::vector<Tensor>& tensors) {
  NamedTensors out;
  out.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out.emplace_back(std::to_string(i), tensors[i]);
  return out;
}

Optimizer::Optimizer(std::string kind, NamedTensors params, double lr,
                     std::vector<std::string> slot_names)
    : kind_(std::move(kind)), params_(std::move(params)), slot_names_(std::move(slot_names)) {
  std::set<std::string> names;
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    EBM_CHECK(p.defined(), ValueError, kind_, ": parameter '", name, "' is undefined");
    EBM_CHECK(p.dtype() == DType::Float32 || p.dtype() == DType::Float64, DTypeError, kind_,
              ": parameter '", name, "' must be float32 or float64, got ", p.description());
    EBM_CHECK(p.is_leaf(), ValueError, kind_, ": parameter '", name,
              "' is not a leaf (it was computed by a recorded op); optimize the leaf instead");
    EBM_CHECK(names.insert(name).second, ValueError, kind_, ": parameter name '", name,
              "' appears twice");
    for (size_t j = 0; j < i; ++j)
      EBM_CHECK(!params_[j].second.same(p), ValueError, kind_, ": parameters '", params_[j].first,
                "' and '", name, "' are the same tensor");
  }
  state_.resize(params_.size());
  set_lr(lr);
}

void Optimizer::zero_grad() {
  for (auto& np : params_) np.second.zero_grad();
}

void Optimizer::set_lr(double lr) {
  EBM_CHECK(std::isfinite(lr) && lr >= 0, ValueError, kind_, ": learning rate must be finite and >= 0, got ",
            lr);
  lr_ = lr;
}

std::vector<Tensor> Optimizer::checked_grads() const {
  std::vector<Tensor> grads(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    Tensor g = p.grad();
    if (!g.defined()) continue;
    const std::string what = str(kind_, ".step: the gradient of parameter '", name, "' is ",
                                 g.description(), " but the parameter is ", p.description());
    if (g.device() != p.device()) throw DeviceError(what, __FILE__, __LINE__);
    if (g.dtype() != p.dtype()) throw DTypeError(what, __FILE__, __LINE__);
    if (g.shape() != p.shape()) throw ShapeError(what, __FILE__, __LINE__);
    EBM_CHECK(!g.shares_storage_with(p), ValueError, kind_, ".step: the gradient of parameter '",
              name, "' shares storage with the parameter");
    grads[i] = g;
  }
  return grads;
}

Optimizer::ParamState& Optimizer::state_for_update(size_t i, bool* fresh) {
  ParamState& s = state_[i];
  if (fresh) *fresh = s.slots.empty();
  if (s.slots.empty()) {
    const Tensor& p = params_[i].second;
    for (size_t k = 0; k < slot_names_.size(); ++k)
      s.slots.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
  }
  return s;
}

NamedTensors Optimizer::state_dict() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const ParamState& s = state_[i];
    const std::string& name = params_[i].first;
    for (size_t k = 0; k < s.slots.size(); ++k)
      out.emplace_back(kPrefix + slot_names_[k] + "." + name, s.slots[k].detach());
    if (s.step > 0 || !s.slots.empty()) out.emplace_back(kPrefix + std::string("step.") + name, int_scalar(s.step));
  }
  out.emplace_back(kPrefix + std::string("steps"), int_scalar(steps_));
  out.emplace_back(kPrefix + std::string("lr"), Tensor::scalar(lr_, DType::Float64));
  return out;
}

void Optimizer::load_state_dict(const NamedTensors& state) {
  const std::string op = kind_ + "::load_state_dict";
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < params_.size(); ++i) index[params_[i].first] = i;
  // Parse everything first; the optimizer changes only once all of it checked out.
  std::vector<ParamState> next(params_.size());
  std::vector<std::vector<bool>> seen(params_.size(), std::vector<bool>(slot_names_.size(), false));
  std::vector<bool> has_step(params_.size(), false);
  int64_t steps = steps_;
  double lr = lr_;
  std::vector<std::string> unknown;
  for (const auto& [key, t] : state) {
    if (key == std::string(kPrefix) + "steps") {
      steps = read_int(t, key);
      continue;
    }
    if (key == std::string(kPrefix) + "lr") {
      EBM_CHECK(t.defined() && t.numel() == 1, ShapeError, op, ": '", key, "' must hold one value");
      lr = t.to_vector<double>()[0];
      continue;
    }
    bool matched = false;
    if (key.rfind(std::string(kPrefix) + "step.", 0) == 0) {
      auto it = index.find(key.substr(std::string(kPrefix).size() + 5));
      if (it != index.end()) {
        next[it->second].step = read_int(t, key);
        has_step[it->second] = true;
        matched = true;
      }
    }
    for (size_t k = 0; k < slot_names_.size() && !matched; ++k) {
      const std::string pre = kPrefix + slot_names_[k] + ".";
      if (key.rfind(pre, 0) != 0) continue;
      auto it = index.find(key.substr(pre.size()));
      if (it == index.end()) continue;
      const Tensor& p = params_[it->second].second;
      EBM_CHECK(t.defined(), ValueError, op, ": '", key, "' is undefined");
      EBM_CHECK(t.shape() == p.shape(), ShapeError, op, ": '", key, "' is ", t.description(),
                " but parameter '", it->first, "' is ", p.description());
      EBM_CHECK(t.dtype() == p.dtype(), DTypeError, op, ": '", key, "' is ", t.description(),
                " but parameter '", it->first, "' is ", p.description());
      ParamState& s = next[it->second];
      if (s.slots.empty()) s.slots.resize(slot_names_.size());
      Tensor copy = Tensor::empty(p.shape(), p.dtype(), p.device());
      copy.copy_(t);
      s.slots[k] = copy;
      seen[it->second][k] = true;
      matched = true;
    }
    if (!matched) unknown.push_back(key);
  }
  EBM_CHECK(unknown.empty(), ValueError, op, ": unexpected entries (not state of this ", kind_,
            " over these parameters): ", join(unknown));
  std::vector<std::string> partial;
  for (size_t i = 0; i < params_.size(); ++i) {
    size_t n = 0;
    for (bool b : seen[i]) n += b;
    if (n != 0 && n != slot_names_.size()) partial.push_back(params_[i].first);
    if (n != 0 && !has_step[i]) partial.push_back(params_[i].first + " (no step count)");
    if (n == 0 && has_step[i] && !slot_names_.empty()) partial.push_back(params_[i].first + " (no slots)");
  }
  EBM_CHECK(partial.empty(), ValueError, op, ": incomplete state for parameters: ", join(partial));
  EBM_CHECK(std::isfinite(lr) && lr >= 0, ValueError, op, ": learning rate must be finite and >= 0, got ", lr);
  EBM_CHECK(steps >= 0, ValueError, op, ": negative step count ", steps);
  state_ = std::move(next);
  steps_ = steps;
  lr_ = lr;
}

// ---- Adam

AdamOptions AdamOptions::igebm() {
  AdamOptions o;
  o.lr = 3e-4;
  o.beta1 = 0.0;
  o.beta2 = 0.999;
  o.eps = 1e-8;
  o.epsilon = AdamEpsilon::Tf;
  o.clip = AdamClip::Official;
  return o;
}

AdamOptions AdamOptions::igebm_port() {
  AdamOptions o;
  o.lr = 1e-4;
  o.beta1 = 0.0;
  o.beta2 = 0.999;
  o.clip = AdamClip::Port;
  return o;
}

AdamOptions AdamOptions::drl(double beta1) {
  AdamOptions o;
  o.lr = 1e-4;
  o.beta1 = beta1;
  o.beta2 = 0.999;
  o.eps = 1e-7;
  o.epsilon = AdamEpsilon::Tf;
  return o;
}

AdamOptions AdamOptions::jem() {
  AdamOptions o;
  o.lr = 1e-4;
  return o;
}

AdamOptions AdamOptions::adamw(double lr, double weight_decay) {
  AdamOptions o;
  o.lr = lr;
  o.weight_decay = weight_decay;
  o.decoupled_weight_decay = true;
  return o;
}

namespace {
void check_adam(const AdamOptions& o) {
  EBM_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, ValueError,
            "adam: betas must lie in [0, 1), got (", o.beta1, ", ", o.beta2, ")");
  EBM_CHECK(std::isfinite(o.eps) && o.eps >= 0, ValueError, "adam: eps must be finite and >= 0, got ", o.eps);
  EBM_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, ValueError,
            "adam: weight_decay must be finite and >= 0, got ", o.weight_decay);
}
}  // namespace

Adam::Adam(NamedTensors params, const AdamOptions& options)
    : Optimizer("adam", std::move(params), options.lr, {"exp_avg", "exp_avg_sq"}), options_(options) {
  check_adam(options_);
}

Adam::Adam(const std::vector<Tensor>& params, const AdamOptions& options)
    : Adam(number_tensors(params), options) {}

void Adam::step() {
  const std::vector<Tensor> grads = checked_grads();
  AdamHyper h;
  h.lr = lr();
  h.beta1 = options_.beta1;
  h.beta2 = options_.beta2;
  h.eps = options_.eps;
  h.weight_decay = options_.weight_decay;
  h.decoupled_weight_decay = options_.decoupled_weight_decay;
  h.epsilon = options_.epsilon;
  h.clip = options_.clip;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    ParamState& s = state_for_update(i);
    ops::adam_step_(param(i), grads[i], s.slots[0], s.slots[1], h, s.step + 1);
    ++s.step;
  }
  ++steps_;
}

// ---- SGD

SgdOptions SgdOptions::mebm() {
  SgdOptions o;
  o.lr = 0.1;
  o.momentum = 0.9;
  o.weight_decay = 5e-4;
  return o;
}

namespace {
void check_sgd(const SgdOptions& o) {
  EBM_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, ValueError,
            "sgd: momentum must be finite and >= 0, got ", o.momentum);
  EBM_CHECK(std::isfinite(o.dampening), ValueError, "sgd: dampening must be finite, got ", o.dampening);
  EBM_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, ValueError,
            "sgd: weight_decay must be finite and >= 0, got ", o.weight_decay);
  EBM_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
            "sgd: Nesterov momentum requires a momentum and zero dampening, got momentum ",
            o.momentum, ", dampening ", o.dampening);
}
std::vector<std::string> sgd_slots(const SgdOptions& o) {
  return o.momentum != 0 ? std::vector<std::string>{"momentum_buffer"} : std::vector<std::string>{};
}
}  // namespace

Sgd::Sgd(NamedTensors params, const SgdOptions& options)
    : Optimizer("sgd", std::move(params), options.lr, sgd_slots(options)), options_(options) {
  check_sgd(options_);
}

Sgd::Sgd(const std::vector<Tensor>& params, const SgdOptions& options)
    : Sgd(number_tensors(params), options) {}

void Sgd::step() {
  const std::vector<Tensor> grads = checked_grads();
  SgdHyper h;
  h.lr = lr();
  h.momentum = options_.momentum;
  h.dampening = options_.dampening;
  h.weight_decay = options_.weight_decay;
  h.nesterov = options_.nesterov;
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) continue;
    bool fresh = false;
    ParamState& s = state_for_update(i, &fresh);
    Tensor none;
    ops::sgd_step_(param(i), grads[i], s.slots.empty() ? none : s.slots[0], h, fresh);
    ++s.step;
  }
  ++steps_;
}

}  // namespace ebm::nn
