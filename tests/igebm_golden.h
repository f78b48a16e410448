// Shared by tests/cpu/test_igebm_models.cpp and tests/cuda/test_igebm_models_cuda.cpp: reading
// the IGEBM goldens (tests/reference/make_igebm_goldens.py -> tests/data/models/igebm_*), building
// the golden's network with its state, and comparing energy, ∇ₓ ΣE, every parameter gradient of
// ΣE + ΣE² and (training-mode case) the power-iterated u, v with what PyTorch computed.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "nn/igebm_models.h"
#include "test_util.h"

namespace ebm::test::igebm {

// Tolerances against the float64 goldens; close when |a - g| <= tol·(|g| + max|G|) (the second
// term covers elements that are small through cancellation, e.g. gradients summed over a batch).
// float64: both sides compute the same formulas in a different summation order: a few ulp per
// op over ~15 layers of sums of <= 2·32·32 terms, ~1e-13 (measured: <= 3e-15); 1e-10 still
// catches a wrong slope.
constexpr double kTolFloat64 = 1e-10;
// float32: inputs and weights are exactly float32 in the goldens; each conv is a dot product of
// <= 9·128 terms (forward) or 2·32·32 terms (weight gradients), error <= L·2^-24 ~ 1e-4 of the
// sum of magnitudes in the worst case, ~sqrt(L)·2^-24 ~ 2e-6 typically, through ~15 stages and
// the spectral norm's σ: 1e-4 (measured: <= 3e-6). A pre-activation that falls on
// the other side of a ReLU kink would break it: the generator keeps all >= 1e-5·rms away.
constexpr double kTolFloat32 = 1e-4;

// tests/data, where the goldens live. ebm_cuda_tests is built without EBM_TEST_DATA_DIR: there
// the first of these that holds models/ wins: $EBM_TEST_DATA_DIR; data/ beside this header's
// __FILE__ (relative to the build directory when ccache rewrites paths, and ctest runs there);
// tests/data in a directory above the executable (build trees inside the source tree).
inline std::string test_data_dir() {
#ifdef EBM_TEST_DATA_DIR
  return EBM_TEST_DATA_DIR;
#else
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("EBM_TEST_DATA_DIR")) return env;
  std::vector<fs::path> candidates{fs::path(__FILE__).parent_path() / "data"};
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec)
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path())
      candidates.push_back(p / "tests" / "data");
  for (const fs::path& c : candidates)
    if (fs::is_directory(c / "models", ec)) return c.string();
  return candidates.front().string();
#endif
}

inline std::string golden_path(const std::string& name) {
  return str(test_data_dir(), "/models/igebm_", name);
}

struct Golden {
  std::string name;
  SafetensorsFile file;
  json::Value config;
  const Tensor& at(const std::string& n) const { return file.at(n); }
  std::string mode() const { return config.at("mode").as_string(); }
  std::vector<std::string> names(const char* key) const {
    std::vector<std::string> out;
    for (const auto& v : config.at(key).as_array()) out.push_back(v.as_string());
    return out;
  }
};

inline Golden load_golden(const std::string& name) {
  Golden g{name, read_safetensors(golden_path(name + ".safetensors")), {}};
  g.config = json::parse(g.file.metadata.at("config"));
  return g;
}

inline nn::IgebmModelOptions options_of(const json::Value& c, DType dt) {
  nn::IgebmModelOptions o;
  if (auto* v = c.find("in_channels")) o.in_channels = v->as_int();
  if (auto* v = c.find("image_size")) o.image_size = v->as_int();
  if (auto* v = c.find("num_classes")) o.num_classes = v->as_int();
  if (auto* v = c.find("num_filters")) o.num_filters = v->as_int();
  if (auto* v = c.find("dropout")) o.dropout = v->as_double();
  o.dtype = dt;
  return o;
}

// The golden's network in dtype dt, its state loaded, in the golden's mode.
inline std::shared_ptr<nn::IgebmResNet> model_of(const Golden& g, DType dt,
                                      nn::SpectralNormSchedule s = nn::SpectralNormSchedule::EveryForward) {
  Generator gen(7);
  nn::IgebmModelOptions o = options_of(g.config, dt);
  o.sn_schedule = s;
  auto model = nn::make_igebm_model(g.config.at("model").as_string(), o, gen);
  nn::StateDict state;
  for (const auto& name : g.names("state_dict")) state.emplace_back(name, g.at("state." + name).to(dt));
  model->load_state_dict(state);
  model->train(g.mode() == "train");
  return model;
}

inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// Compares and returns the error as a fraction of the tolerance (<= 1 passes).
inline double expect_matches(const Tensor& actual, const Tensor& golden, double tol, const std::string& what) {
  EXPECT_TRUE(actual.defined()) << what << " is undefined";
  if (!actual.defined()) return INFINITY;
  EXPECT_EQ(actual.shape(), golden.shape()) << what;
  if (actual.shape() != golden.shape()) return INFINITY;
  double ratio = test::close_ratio(actual.to(Device::cpu()), golden, tol, tol * max_abs(golden));
  EXPECT_LE(ratio, 1.0) << what << " differs from PyTorch (tolerance " << tol << ", ratio " << ratio << ")";
  return ratio;
}

inline std::vector<std::string> names_of(const nn::NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

// Runs the golden's forward and the two gradients and compares everything it stored.
inline void check_golden(const Golden& g, nn::IgebmResNet& model, DType dt) {
  double tol = dt == DType::Float64 ? kTolFloat64 : kTolFloat32;
  Device dev = model.device();
  Tensor x = g.at("x").to(dt).to(dev).clone().set_requires_grad(true);
  Tensor labels = g.file.find("labels") ? g.at("labels").to(dev) : Tensor();
  model.zero_grad();
  Tensor e = model.forward(x, labels);
  EXPECT_EQ(e.dtype(), dt);
  double worst = expect_matches(e, g.at("energy"), tol, g.name + "/energy");
  Tensor gx = grad(sum(e), {x})[0];
  worst = std::max(worst, expect_matches(gx, g.at("grad_x"), tol, g.name + "/grad_x"));
  backward(sum(e) + sum(square(e)));
  int compared = 0;
  for (const auto& [name, p] : model.named_parameters()) {
    worst = std::max(worst, expect_matches(p.grad(), g.at("grad." + name), tol, g.name + "/grad." + name));
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(g.names("parameters").size()));
  if (g.mode() == "train") {
    int after = 0;
    for (const auto& [name, t] : model.state_dict())
      if (g.file.find("after." + name)) {
        worst = std::max(worst, expect_matches(t, g.at("after." + name), tol, g.name + "/after." + name));
        ++after;
      }
    EXPECT_GT(after, 0);
  }
  std::printf("  %s %s on %s: worst error %.2g of the tolerance %.0e\n", g.name.c_str(),
              dtype_name(dt), dev.is_cuda() ? "cuda" : "cpu", worst, tol);
}

inline const std::vector<std::string> kCases{"small_cond3_c3_eval",  "small_cond3_c1_eval",
                                      "small_cond3_c3_train", "large_uncond_c3_eval",
                                      "large_cond3_c1_eval",  "wider_cond3_c3_eval"};

}  // namespace ebm::test::igebm
