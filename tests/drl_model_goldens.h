// Shared by the DRL / WRN model tests (tests/cpu/test_drl_models.cpp, test_wrn_models.cpp,
// tests/cuda/test_drl_models_cuda.cpp): reads the PyTorch goldens of
// tests/reference/make_drl_goldens.py (tests/data/models/*.safetensors) and runs one golden case
// (load the weights, one forward in eval or train mode, compare outputs, ∇x, every parameter
// gradient and, in train mode, the updated SN u/v and BN running statistics).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "nn/module.h"
#include "test_util.h"

namespace ebm::test {

// float32 tolerance, relative per element and to the golden's largest magnitude (close when
// |a - g| <= tol·(|g| + max|G|)). The goldens are float64 results rounded to float32 (6e-8);
// ours are float32 end to end: a forward chains ~10-15 convolutions whose dot products have at
// most 640·9 = 5 760 terms, each with a rounding error bounded by L·2^-24 of the sum of the
// terms' magnitudes (~3e-4 worst case for the longest), but rounding errors are random, so the
// observed error grows like sqrt(L)·2^-24 ≈ 5e-6 per layer. Measured on the CPU: worst 5e-7
// (net_res_temb2_small) and 1.6e-6 (WRN small) of the golden scale, so 1e-4 leaves ~60x room;
// a layer with a wrong slope, a missing bias or a transposed weight is off by O(1).
constexpr double kModelTol = 1e-4;

inline std::string models_dir() {
#ifdef EBM_TEST_DATA_DIR
  return std::string(EBM_TEST_DATA_DIR) + "/models/";
#else  // the GPU test binary has no data-dir define: tests/<dir>/<this file> -> tests/data/models
  std::string here = __FILE__;
  return here.substr(0, here.find_last_of('/')) + "/data/models/";
#endif
}

inline SafetensorsFile read_golden(const std::string& name) {
  return read_safetensors(models_dir() + name + ".safetensors");
}

inline json::Value golden_meta(const SafetensorsFile& f) {
  auto it = f.metadata.find("golden");
  EXPECT_NE(it, f.metadata.end()) << "golden file without 'golden' metadata";
  return it == f.metadata.end() ? json::Value::object() : json::parse(it->second);
}

inline std::vector<std::string> json_strings(const json::Value& v) {
  std::vector<std::string> out;
  for (const auto& e : v.as_array()) out.push_back(e.as_string());
  return out;
}

inline std::vector<std::string> state_dict_names(const nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, t] : m.state_dict()) out.push_back(name);
  return out;
}

inline double max_abs_of(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// Worst close_ratio of actual vs golden over the run (printed by the tests).
inline double& worst_ratio() {
  static double w = 0;
  return w;
}

inline void expect_golden(const Tensor& actual, const Tensor& golden, const std::string& what,
                          double tol = kModelTol) {
  ASSERT_TRUE(actual.defined()) << what << " is undefined";
  ASSERT_EQ(actual.shape(), golden.shape()) << what;
  Tensor a = actual.to(Device::cpu()).to(DType::Float64), g = golden.to(DType::Float64);
  double r = close_ratio(a, g, tol, tol * max_abs_of(g));
  worst_ratio() = std::max(worst_ratio(), r);
  EXPECT_LE(r, 1.0) << what << " differs from PyTorch (tolerance " << tol << ")\nebm " << a
                    << "\ntorch " << g;
}

// Outputs of one forward by name: "out" (what the loss weights w multiply: f [N] or logits
// [N, K]) and optionally "energy", "uncond_f". ∇x is taken of sum(energy) when present, else of
// sum(out), as the golden script does.
using GoldenCall = std::function<std::map<std::string, Tensor>(const Tensor& x, const Tensor& t)>;

// Loads <tag>_weights into `model` (on `device`), runs <tag>_<mode> and compares everything.
inline void run_golden_case(nn::Module& model, const std::string& tag, const std::string& mode,
                            Device device, const GoldenCall& call) {
  SCOPED_TRACE(tag + " " + mode);
  SafetensorsFile weights = read_golden(tag + "_weights");
  SafetensorsFile c = read_golden(tag + "_" + mode);
  model.to(device);
  model.load_state_dict(weights.tensors);  // strict: names and shapes must match the replica
  model.train(mode == "train");
  model.zero_grad();

  Tensor x = c.at("x").to(device);
  x.set_requires_grad(true);
  Tensor t = c.find("t") ? c.at("t").to(device) : Tensor();
  Tensor w = c.at("w").to(device);
  auto outs = call(x, t);
  for (const auto& [name, value] : outs)
    if (c.find(name)) expect_golden(value, c.at(name), name);

  const Tensor& gx_of = outs.count("energy") ? outs.at("energy") : outs.at("out");
  Tensor gx = grad(sum(gx_of), {x})[0];
  expect_golden(gx, c.at("grad_x"), "grad_x");

  backward(sum(mul(outs.at("out"), w)));
  double gmax = 0;  // the largest parameter gradient of the case
  for (const auto& [name, v] : c.tensors)
    if (name.rfind("grad.", 0) == 0) gmax = std::max(gmax, max_abs_of(v));
  for (const auto& [name, p] : model.named_parameters()) {
    if (const Tensor* g = c.find("grad." + name)) {
      if (max_abs_of(*g) <= 1e-9 * gmax) {
        // Zero in exact arithmetic (a conv bias feeding training-mode BatchNorm, whose mean
        // subtraction cancels it; float64 leaves ~1e-17): ours is a float32 sum of thousands of
        // terms that cancel, so compare with the scale of the case's gradients instead.
        ASSERT_TRUE(p.grad().defined()) << name;
        EXPECT_LE(max_abs_of(p.grad()), kModelTol * gmax) << "grad of " << name << " should be ~0";
        continue;
      }
      expect_golden(p.grad(), *g, "grad of " + name);
    } else {  // unused by this forward in PyTorch (grad None): no gradient here either
      EXPECT_TRUE(!p.grad().defined() || max_abs_of(p.grad()) == 0.0) << name << " has a gradient";
    }
  }
  if (mode == "train") {
    int n = 0;
    for (const auto& [name, b] : model.named_buffers())
      if (const Tensor* after = c.find("after." + name)) {
        ++n;
        if (after->dtype() == DType::Int64)
          EXPECT_EQ(b.to(Device::cpu()).to_vector<int64_t>(), after->to_vector<int64_t>()) << name;
        else
          expect_golden(b, *after, name + " after the training forward");
      }
    int expected = 0;
    for (const auto& [name, v] : c.tensors) expected += name.rfind("after.", 0) == 0;
    EXPECT_EQ(n, expected) << "buffers updated by PyTorch but absent here";
  }
}

}  // namespace ebm::test
