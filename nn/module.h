// Module: a tree of layers with named parameters and buffers, in the spirit of torch.nn.Module.
// Names follow PyTorch's state_dict naming for the same architecture ("blocks.0.conv1.weight"),
// so checkpoints line up tensor for tensor with the PyTorch replicas in tests/reference/.
//
// Registration returns a stable Tensor* slot: a layer keeps the pointer and reads through it,
// so to(device) and load_state_dict can replace or overwrite the tensor without the layer
// noticing. Order = registration order, as in PyTorch: a module's own parameters, then its own
// buffers, then each child's entries (depth first).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ebm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using StateDict = NamedTensors;

// What a non-strict load_state_dict left unmatched (strict loads throw instead).
struct LoadResult {
  std::vector<std::string> missing;     // in the module, not in the state dict
  std::vector<std::string> unexpected;  // in the state dict, not in the module
};

class Module {
 public:
  explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type_name() const { return type_name_; }

  // ---- traversal (prefix-qualified names, registration order)
  NamedTensors named_parameters() const;
  std::vector<Tensor> parameters() const;
  NamedTensors named_buffers() const;  // persistent and non-persistent
  std::vector<std::pair<std::string, Module*>> named_modules();  // self first, as ""
  std::vector<std::pair<std::string, Module*>> named_children();
  int64_t num_parameters() const;  // elements over all parameters

  // ---- mode: train() / eval() set the flag on the whole subtree
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter and buffer to `device` (parameters stay leaves with requires_grad;
  // accumulated gradients are dropped). Children's own on_device_changed hooks run after.
  void to(Device device);
  Device device() const { return device_; }

  void zero_grad();  // drops every parameter's gradient

  // ---- state dict: parameters and persistent buffers, detached, sharing storage
  StateDict state_dict() const;
  // Copies values into the existing tensors (devices may differ; dtypes and shapes must
  // match). strict: missing or unexpected names throw a ValueError listing every one of them.
  // A shape or dtype mismatch always throws, naming the tensor and both sides.
  LoadResult load_state_dict(const StateDict& state, bool strict = true);

 protected:
  // Registers a parameter (marked requires_grad) / buffer under `name`; returns its slot.
  Tensor* register_parameter(const std::string& name, Tensor value);
  Tensor* register_buffer(const std::string& name, Tensor value, bool persistent = true);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
    add_child(name, child);
    return child;
  }
  // Called on every module of the tree after train()/to() changed its state.
  virtual void on_mode_changed() {}

 private:
  struct Entry {
    std::string name;
    Tensor value;
    bool persistent = true;
  };
  void add_child(const std::string& name, std::shared_ptr<Module> child);
  void check_new_name(const std::string& name) const;
  void collect(const std::string& prefix, bool params, bool buffers, bool persistent_only,
               std::vector<std::pair<std::string, Tensor*>>& out) const;

  std::string type_name_;
  bool training_ = true;
  Device device_ = Device::cpu();
  std::deque<Entry> params_;   // deque: slots stay valid as entries are added
  std::deque<Entry> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// torch.nn.ModuleList: children named "0", "1", ... in order.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <class M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> m) {
    return register_module(std::to_string(size_++), std::move(m));
  }
  int64_t size() const { return size_; }

 private:
  int64_t size_ = 0;
};

// Joins a prefix and a name with a dot ("" + "w" = "w").
std::string join_name(const std::string& prefix, const std::string& name);

}  // namespace ebm::nn
