// Optimizers, gradient clipping and learning-rate schedules (nn/optim.h, nn/grad_clip.h,
// nn/lr_schedule.h, core/ops/optim.h) against PyTorch 1.13: parameter trajectories of
// torch.optim.Adam / AdamW / SGD (and rosinality's IGEBM clip) over 6 steps under a warm-up +
// multi-step schedule, with parameters missing a gradient at some steps
// (tests/reference/make_optim_goldens.py wrote tests/data/optim/); clip_grad_norm_; the
// schedules replayed from the JEM and DRL training loops. Also: the TF-order Adam with IGEBM's
// official clip against its formulas, the kernel bodies over their launch grid, state_dict round
// trips that resume bit for bit, and the errors.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "core/io/npy.h"
#include "core/ops/optim.h"
#include "nn/grad_clip.h"
#include "nn/lr_schedule.h"
#include "nn/optim.h"
#include "test_util.h"

namespace ebm {
namespace {

using nn::Adam;
using nn::AdamOptions;
using nn::LrSchedule;
using nn::NamedTensors;
using nn::Sgd;
using nn::SgdOptions;
using test::expect_error;

Tensor load(const std::string& dir, const std::string& name) {
  return read_npy(str(EBM_TEST_DATA_DIR, "/optim/", dir, "/", name, ".npy"));
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::fabs(v));
  return m;
}

// |a − g| <= tol·(|g| + max|G|) element-wise (close_ratio <= 1), as tests/cpu/test_goldens.cpp.
void expect_close(const Tensor& actual, const Tensor& golden, double tol, const std::string& what) {
  ASSERT_EQ(actual.shape(), golden.shape()) << what;
  EXPECT_LE(test::close_ratio(actual, golden, tol, tol * max_abs(golden)), 1.0)
      << what << "\nebm   " << actual << "\ntorch " << golden;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return std::memcmp(ha.data_ptr(), hb.data_ptr(), ha.nbytes()) == 0;
}

// ---- PyTorch trajectories

// Tolerances per dtype. PyTorch's CPU kernels may fuse add(alpha) / addcmul / addcdiv into FMAs,
// ebm never fuses: each of the ~10 operations of an update may differ by an ulp, which moves a
// parameter by about an ulp of itself per step; over 6 steps a few ulp, i.e. a few 1e-7 of |p| in
// float32 and 1e-16 in float64. Measured with torch 1.13: Adam, AdamW and the IGEBM-port clip bit
// for bit; Adam with L2 decay and SGD within 1.3e-7 (float32) and 1.3e-16 (float64) of the
// tolerance's scale. A wrong bias correction, β, ε placement or decay term is off by far more.
constexpr double kTolF32 = 1e-6, kTolF64 = 1e-12;

struct Case {
  const char* name;
  bool adam;
  AdamOptions adam_options;
  SgdOptions sgd_options;
  double base_lr;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  auto adam = [&](const char* name, AdamOptions o) { c.push_back({name, true, o, {}, o.lr}); };
  auto sgd = [&](const char* name, SgdOptions o) { c.push_back({name, false, {}, o, o.lr}); };
  AdamOptions a;
  a.lr = 0.01;
  adam("adam", a);
  a.beta1 = 0.8;
  a.beta2 = 0.99;
  a.eps = 1e-6;
  a.weight_decay = 0.05;
  adam("adam_wd", a);
  adam("adamw", AdamOptions::adamw(0.01, 0.1));
  a = AdamOptions::igebm_port();
  a.lr = 0.01;
  adam("adam_igebm_port", a);
  SgdOptions s;
  s.lr = 0.1;
  s.weight_decay = 1e-3;
  sgd("sgd", s);
  s.momentum = 0.9;
  s.weight_decay = 5e-4;
  sgd("sgd_momentum", s);
  s = SgdOptions{};
  s.lr = 0.1;
  s.momentum = 0.8;
  s.dampening = 0.3;
  sgd("sgd_dampening", s);
  s = SgdOptions{};
  s.lr = 0.1;
  s.momentum = 0.9;
  s.nesterov = true;
  s.weight_decay = 1e-3;
  sgd("sgd_nesterov", s);
  return c;
}

void run_trajectory(const Case& c, DType dt) {
  const std::string dir = str(c.name, dt == DType::Float32 ? "_f32" : "_f64");
  SCOPED_TRACE(dir);
  const double tol = dt == DType::Float32 ? kTolF32 : kTolF64;
  const Tensor has = load(dir, "has_grad"), lrs = load(dir, "lr");
  const int64_t steps = has.size(0), nparams = has.size(1);
  const std::vector<int64_t> has_v = has.to_vector<int64_t>();
  std::vector<Tensor> traj, grads;
  NamedTensors params;
  for (int64_t i = 0; i < nparams; ++i) {
    traj.push_back(load(dir, str("param", i)));
    grads.push_back(load(dir, str("grad", i)));
    ASSERT_EQ(traj.back().dtype(), dt);
    params.emplace_back(str("p", i), traj.back().select(0).clone().set_requires_grad(true));
  }
  std::unique_ptr<nn::Optimizer> opt;
  if (c.adam) opt = std::make_unique<Adam>(params, c.adam_options);
  else opt = std::make_unique<Sgd>(params, c.sgd_options);
  // The references' loop: warm-up over 2 updates, × 0.5 from epoch 2 (2 updates per epoch).
  const LrSchedule schedule = LrSchedule::warmup_multistep(c.base_lr, 2, {2}, 2, 0.5);
  const std::vector<double> lr_v = lrs.to_vector<double>();
  for (int64_t s = 0; s < steps; ++s) {
    const double lr = schedule.at(opt->steps());
    EXPECT_NEAR(lr, lr_v[s], 1e-15 * lr_v[s]) << "step " << s;
    opt->set_lr(lr);
    for (int64_t i = 0; i < nparams; ++i) {
      Tensor& p = params[i].second;
      if (has_v[s * nparams + i]) p.set_grad(grads[i].select(s).clone());
      else p.zero_grad();
    }
    opt->step();
    for (int64_t i = 0; i < nparams; ++i)
      expect_close(params[i].second, traj[i].select(s + 1), tol, str("param ", i, " after step ", s));
  }
  // Skipped steps are not counted: parameter 1 missed step 2, parameter 2 step 0.
  EXPECT_EQ(opt->steps(), steps);
  EXPECT_EQ(opt->param_steps(0), steps);
  EXPECT_EQ(opt->param_steps(1), steps - 1);
  EXPECT_EQ(opt->param_steps(2), steps - 1);
}

TEST(OptimTorch, TrajectoriesMatchPyTorch) {
  for (const Case& c : cases())
    for (DType dt : {DType::Float64, DType::Float32}) run_trajectory(c, dt);
}

// ---- TF order and IGEBM's official clip, from the formulas of custom_adam.py / ApplyAdam

TEST(OptimTf, AdamWithIgebmClipFollowsTheFormulas) {
  const int64_t n = 300;
  for (AdamClip clip : {AdamClip::Official, AdamClip::None}) {
    AdamOptions o = AdamOptions::igebm();  // β = (0, 0.999), ε-hat 1e-8, lr 3e-4
    o.clip = clip;
    o.beta1 = clip == AdamClip::None ? 0.9 : 0.0;
    Tensor p = test::randn({n}), g = test::randn({n});
    Adam opt(NamedTensors{{"w", p.set_requires_grad(true)}}, o);
    std::vector<double> rp = p.to_vector<double>(), m(n, 0.0), v(n, 0.0);
    for (int t = 1; t <= 5; ++t) {
      // Gradients of mixed scales: most entries far beyond the bound at t = 1 (0.1).
      Tensor gt = test::randn({n}, DType::Float64, t % 2 ? 3.0 : 0.05);
      p.set_grad(gt);
      opt.step();
      const std::vector<double> gv = gt.to_vector<double>();
      const double bc1 = 1.0 - std::pow(o.beta1, t), bc2 = 1.0 - std::pow(o.beta2, t);
      const double alpha = o.lr * std::sqrt(bc2) / bc1;
      int clipped = 0;
      for (int64_t i = 0; i < n; ++i) {
        double gi = gv[i];
        if (clip == AdamClip::Official) {
          const double b = 3.0 * std::sqrt(v[i] / bc2) + 0.1;
          clipped += std::fabs(gi) > b;
          gi = std::min(std::max(gi, -b), b);
        }
        m[i] = m[i] + (gi - m[i]) * (1.0 - o.beta1);
        v[i] = v[i] + (gi * gi - v[i]) * (1.0 - o.beta2);
        rp[i] = rp[i] - (m[i] * alpha) / (std::sqrt(v[i]) + o.eps);
      }
      if (clip == AdamClip::Official && t == 1) EXPECT_GT(clipped, n / 2) << "the bound at t = 1 is 0.1";
      // Same operations in the same order in float64: the same bits.
      EXPECT_TRUE(same_bits(p, Tensor::from_vector(rp, {n}))) << "step " << t;
    }
    const NamedTensors st = opt.state_dict();
    EXPECT_TRUE(same_bits(st[0].second, Tensor::from_vector(m, {n})));
    EXPECT_TRUE(same_bits(st[1].second, Tensor::from_vector(v, {n})));
  }
}

TEST(OptimTf, OneMinusBetaIsRoundedAsEachReferenceDoes) {
  AdamHyper h;
  h.beta1 = 0.9;
  h.beta2 = 0.999;
  h.epsilon = AdamEpsilon::Torch;  // torch: alpha = 1 − β in double, then to float
  EXPECT_EQ(adam_args<float>(h, 1, 1).one_minus_beta1, static_cast<float>(1.0 - 0.9));
  h.epsilon = AdamEpsilon::Tf;  // TF: T(1) − β in float
  EXPECT_EQ(adam_args<float>(h, 1, 1).one_minus_beta1, 1.0f - 0.9f);
  EXPECT_NE(1.0f - 0.9f, static_cast<float>(1.0 - 0.9));
  h.clip = AdamClip::Port;  // rosinality: off at the first update, 1 − β₂^(t−1) after
  EXPECT_FALSE(adam_args<double>(h, 1, 1).clip);
  EXPECT_EQ(adam_args<double>(h, 3, 1).clip_bc, 1.0 - std::pow(0.999, 2.0));
  h.clip = AdamClip::Official;
  EXPECT_TRUE(adam_args<double>(h, 1, 1).clip);
  EXPECT_EQ(adam_args<double>(h, 1, 1).clip_bc, 1.0 - 0.999);
}

// ---- the kernel bodies over their launch grid (what the CUDA kernels run)

TEST(OptimBody, GridStrideVisitsEveryElementOnce) {
  // SGD in place with lr −1, gradient 1 and no momentum adds 1 per visit: p counts the visits.
  for (int64_t n : {0, 1, 255, 256, 257, 1000, 5000}) {
    for (int64_t max_blocks : {1, 3, 64}) {
      std::vector<float> p(n + 8, 0.0f), g(n, 1.0f);
      SgdHyper h;
      h.lr = -1.0;
      const SgdArgs<float> a = sgd_args<float>(h, false, n);
      SgdPtrs<float> q;
      q.param = q.param_out = p.data();
      q.grad = g.data();
      const OptimLaunchDims d = optim_launch_dims(n, max_blocks);
      EXPECT_EQ(d.grid == 0, n == 0);
      EXPECT_LE(static_cast<int64_t>(d.grid), max_blocks);
      for (uint32_t b = 0; b < d.grid; ++b)
        for (uint32_t t = 0; t < d.block; ++t) sgd_body<false, float>(a, q, b, t, d.grid, d.block);
      int64_t bad = 0;
      for (int64_t i = 0; i < n + 8; ++i) bad += p[i] != (i < n ? 1.0f : 0.0f);
      EXPECT_EQ(bad, 0) << "n " << n << " max_blocks " << max_blocks;
    }
  }
}

TEST(OptimBody, AdamBodyIntoPoisonedOutputsEqualsTheOp) {
  const int64_t n = 3001;
  for (AdamEpsilon e : {AdamEpsilon::Torch, AdamEpsilon::Tf}) {
    AdamHyper h;
    h.lr = 0.01;
    h.weight_decay = 0.1;
    h.epsilon = e;
    h.clip = AdamClip::Official;
    Tensor p = test::randn({n}, DType::Float32), g = test::randn({n}, DType::Float32, 2.0);
    Tensor m = test::randn({n}, DType::Float32, 0.1), v = test::uniform({n}, 0.0, 0.5, DType::Float32);
    std::vector<float> po(n, NAN), mo(n, NAN), vo(n, NAN);
    const AdamArgs<float> a = adam_args<float>(h, 4, n);
    AdamPtrs<float> q{p.data<float>(), g.data<float>(), m.data<float>(), v.data<float>(),
                      po.data(), mo.data(), vo.data()};
    const OptimLaunchDims d = optim_launch_dims(n, 5);
    for (uint32_t b = 0; b < d.grid; ++b)
      for (uint32_t t = 0; t < d.block; ++t) {
        if (e == AdamEpsilon::Torch) adam_body<AdamEpsilon::Torch, float>(a, q, b, t, d.grid, d.block);
        else adam_body<AdamEpsilon::Tf, float>(a, q, b, t, d.grid, d.block);
      }
    ops::adam_step_(p, g, m, v, h, 4);
    EXPECT_TRUE(same_bits(Tensor::from_vector(po, {n}), p));
    EXPECT_TRUE(same_bits(Tensor::from_vector(mo, {n}), m));
    EXPECT_TRUE(same_bits(Tensor::from_vector(vo, {n}), v));
  }
}

// ---- gradient clipping

TEST(GradClip, NormMatchesPyTorch) {
  for (DType dt : {DType::Float64, DType::Float32}) {
    const std::string sfx = dt == DType::Float32 ? "_f32" : "_f64";
    const double tol = dt == DType::Float32 ? kTolF32 : kTolF64;
    const std::vector<std::tuple<std::string, double, double>> runs = {
        {"below", 1.5, 2.0}, {"above", 1e3, 2.0}, {"inf", 0.5, INFINITY}};
    for (const auto& [tag, max_norm, norm_type] : runs) {
      SCOPED_TRACE(tag + sfx);
      NamedTensors ps;
      for (int i = 0; i < 3; ++i) {
        Tensor g = load("clip", str("grad", i)).to(dt);
        ps.emplace_back(str("g", i), Tensor::zeros(g.shape(), dt).set_requires_grad(true));
        ps.back().second.set_grad(g);
      }
      ps.emplace_back("no_grad", Tensor::ones({4}, dt).set_requires_grad(true));  // skipped
      const double torch_norm = load("clip", "norm_" + tag + sfx).item();
      // float32: torch sums float32 squares in float; ebm in double, so within float rounding.
      EXPECT_NEAR(nn::grad_norm(ps, norm_type), torch_norm, tol * torch_norm);
      const double norm = nn::clip_grad_norm_(ps, max_norm, norm_type);
      EXPECT_NEAR(norm, torch_norm, tol * torch_norm);
      for (int i = 0; i < 3; ++i)
        expect_close(ps[i].second.grad(), load("clip", str("clipped", i, "_", tag, sfx)), tol,
                     str("clipped gradient ", i));
      EXPECT_FALSE(ps[3].second.grad().defined());
    }
  }
}

TEST(GradClip, NormOverManyChunksAgainstLongDouble) {
  for (int64_t n : {int64_t(0), int64_t(1), kNormChunk - 1, kNormChunk, kNormChunk + 1,
                    3 * kNormChunk + 77, int64_t(300) * kNormLanes * 7 + 3}) {
    Tensor x = test::randn({n}, DType::Float32);
    long double ss = 0, mx = 0;
    for (float v : x.to_vector<float>()) {
      ss += static_cast<long double>(v) * v;
      mx = std::max(mx, static_cast<long double>(std::fabs(v)));
    }
    const std::vector<double> sq = ops::norm_parts({x}, NormKind::SumSquares);
    const std::vector<double> ma = ops::norm_parts({x}, NormKind::MaxAbs);
    // n double additions of exact squares: relative error below n·2^-53 ≈ 1e-10 at worst.
    EXPECT_NEAR(sq[0], static_cast<double>(ss), 1e-12 * static_cast<double>(ss) + 1e-300) << n;
    EXPECT_EQ(ma[0], static_cast<double>(mx)) << n;
    // Deterministic: the split depends only on n.
    EXPECT_EQ(ops::norm_parts({x}, NormKind::SumSquares)[0], sq[0]);
  }
  Tensor y = Tensor::from_vector(std::vector<float>{1.0f, NAN, -3.0f}, {3});
  EXPECT_TRUE(std::isnan(ops::norm_parts({y}, NormKind::MaxAbs)[0]));
  EXPECT_TRUE(std::isnan(ops::norm_parts({y}, NormKind::SumSquares)[0]));
}

TEST(GradClip, TfFormAndValueClipAndErrors) {
  Tensor w = Tensor::zeros({4}, DType::Float64).set_requires_grad(true);
  w.set_grad(Tensor::from_vector(std::vector<double>{3.0, 4.0, 0.0, 0.0}, {4}));  // norm 5
  const std::vector<Tensor> ws = {w};
  EXPECT_EQ(nn::clip_grad_norm_(ws, 2.0, 2.0, false, nn::ClipForm::Tf), 5.0);
  const double s = 2.0 * std::min(1.0 / 5.0, 1.0 / 2.0);  // clip_by_global_norm's factor
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{3.0 * s, 4.0 * s, 0.0, 0.0}));
  w.set_grad(Tensor::from_vector(std::vector<double>{3.0, -4.0, 0.5, NAN}, {4}));
  nn::clip_grad_value_(ws, 1.0);
  const std::vector<double> c = w.grad().to_vector<double>();
  EXPECT_EQ(c[0], 1.0);
  EXPECT_EQ(c[1], -1.0);
  EXPECT_EQ(c[2], 0.5);
  EXPECT_TRUE(std::isnan(c[3]));
  expect_error<ValueError>([&] { nn::clip_grad_norm_(ws, 1.0, 2.0, true); },
                           {"clip_grad_norm_", "total norm", "cannot be clipped"});
  EXPECT_TRUE(std::isnan(w.grad().to_vector<double>()[3]));
  expect_error<ValueError>([&] { nn::clip_grad_norm_(ws, 1.0, 1.0); }, {"norm_type must be 2 or infinity"});
  expect_error<ValueError>([&] { nn::clip_grad_norm_(ws, -1.0); }, {"max_norm"});
  Tensor u = Tensor::zeros({2}).set_requires_grad(true);
  u.set_grad(Tensor::zeros({3}));
  expect_error<ShapeError>([&] { nn::clip_grad_norm_(NamedTensors{{"layer.bias", u}}, 1.0); },
                           {"'layer.bias'", "float32[3]", "float32[2]"});
  EXPECT_EQ(nn::clip_grad_norm_(std::vector<Tensor>{}, 1.0), 0.0);
}

// ---- learning-rate schedules

TEST(LrSchedule, MatchesTheReferenceLoops) {
  // JEM's loop (warm-up 5, 3 updates per epoch, × 0.2 at epochs 1, 3, 4: epoch 1 starts inside
  // the warm-up and its decay is lost).
  const std::vector<double> jem = load("lr", "jem").to_vector<double>();
  const LrSchedule js = LrSchedule::warmup_multistep(0.1, 5, {1, 3, 4}, 3, 0.2);
  for (size_t s = 0; s < jem.size(); ++s) EXPECT_NEAR(js.at(s), jem[s], 1e-15 * jem[s]) << s;
  // M-EBM: warm-up 1000, 390 updates per epoch, × 0.2 at epochs 60, 120, 180.
  const std::vector<int64_t> ms = load("lr", "mebm_steps").to_vector<int64_t>();
  const std::vector<double> mv = load("lr", "mebm").to_vector<double>();
  const LrSchedule me = LrSchedule::warmup_multistep(0.1, 1000, {60, 120, 180}, 390, 0.2);
  for (size_t k = 0; k < ms.size(); ++k) EXPECT_NEAR(me.at(ms[k]), mv[k], 1e-14 * mv[k]) << ms[k];
  // DRL: lr·min(1, s/W) (TF computes it in float32), with and without the cosine.
  const std::vector<double> drl = load("lr", "drl").to_vector<double>();
  const LrSchedule ds = LrSchedule::drl();
  for (size_t k = 0; k < drl.size(); ++k) EXPECT_NEAR(ds.at(7 * k), drl[k], 2e-7 * drl[k]) << 7 * k;
  LrSchedule dc = LrSchedule::drl(1e-4, 10);
  dc.cosine = true;
  dc.total_steps = 100;
  const std::vector<int64_t> cs = load("lr", "drl_cosine_steps").to_vector<int64_t>();
  const std::vector<double> cv = load("lr", "drl_cosine").to_vector<double>();
  for (size_t k = 0; k < cs.size(); ++k) EXPECT_NEAR(dc.at(cs[k]), cv[k], 1e-6 * 1e-4) << cs[k];
}

TEST(LrSchedule, PureFunctionAndValidation) {
  LrSchedule s = LrSchedule::warmup_multistep(1.0, 4, {2, 3}, 3, 0.5);  // milestones 6, 9
  EXPECT_EQ(s.at(0), 0.0);
  EXPECT_EQ(s.at(2), 0.5);
  EXPECT_EQ(s.at(4), 1.0);
  EXPECT_EQ(s.at(6), 0.5);
  EXPECT_EQ(s.at(100), 0.25);
  EXPECT_EQ(s.at(5), s.at(5));  // no hidden state
  EXPECT_EQ(LrSchedule::constant(0.3).at(12345), 0.3);
  s.milestones = {9, 6};
  expect_error<ValueError>([&] { s.at(1); }, {"strictly ascending"});
  expect_error<ValueError>([&] { LrSchedule::constant(1).at(-1); }, {"update index"});
  LrSchedule c = LrSchedule::drl(1.0, 10);
  c.cosine = true;
  expect_error<ValueError>([&] { c.at(1); }, {"total_steps > warmup_steps"});
  EXPECT_EQ(nn::epochs_to_steps({0, 2}, 390), (std::vector<int64_t>{0, 780}));
}

// ---- state_dict: resume bit for bit

template <class Opt, class Options>
void check_resume(const Options& o, DType dt) {
  const Shape shapes[] = {{4, 3}, {7}};
  NamedTensors a, b;
  for (int i = 0; i < 2; ++i) a.emplace_back(str("layer", i, ".weight"), test::randn(shapes[i], dt).set_requires_grad(true));
  std::vector<std::vector<Tensor>> grads(6);
  for (auto& gs : grads)
    for (const Shape& s : shapes) gs.push_back(test::randn(s, dt, 2.0));
  auto run = [&](nn::Optimizer& opt, NamedTensors& ps, int from, int to) {
    for (int k = from; k < to; ++k) {
      for (size_t i = 0; i < ps.size(); ++i) {
        if (k == 1 && i == 1) ps[i].second.zero_grad();  // a skipped update inside the first half
        else ps[i].second.set_grad(grads[k][i].clone());
      }
      opt.set_lr(0.01 * (k + 1));
      opt.step();
    }
  };
  Opt first(a, o);
  run(first, a, 0, 3);
  // A checkpoint: deep copies of the parameters and of the optimizer state.
  for (const auto& [name, p] : a) b.emplace_back(name, p.detach().clone().set_requires_grad(true));
  NamedTensors saved;
  for (const auto& [name, t] : first.state_dict()) saved.emplace_back(name, t.clone());
  Opt second(b, o);
  second.load_state_dict(saved);
  EXPECT_EQ(second.steps(), 3);
  EXPECT_EQ(second.param_steps(1), 2);
  run(first, a, 3, 6);
  run(second, b, 3, 6);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(same_bits(a[i].second, b[i].second)) << a[i].first;
  const NamedTensors sa = first.state_dict(), sb = second.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (size_t k = 0; k < sa.size(); ++k) {
    EXPECT_EQ(sa[k].first, sb[k].first);
    EXPECT_TRUE(same_bits(sa[k].second, sb[k].second)) << sa[k].first;
  }
}

TEST(OptimState, RoundTripResumesBitForBit) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    check_resume<Adam>(AdamOptions::igebm(), dt);
    check_resume<Adam>(AdamOptions::adamw(), dt);
    SgdOptions s = SgdOptions::mebm();
    s.nesterov = true;
    check_resume<Sgd>(s, dt);
  }
}

TEST(OptimState, NamesAndLoadErrors) {
  Tensor w = Tensor::zeros({2, 2}).set_requires_grad(true), bias = Tensor::zeros({2}).set_requires_grad(true);
  Adam opt(NamedTensors{{"fc.weight", w}, {"fc.bias", bias}}, AdamOptions::drl());
  w.set_grad(Tensor::ones({2, 2}));
  opt.step();  // bias had no gradient: no state for it
  std::map<std::string, Tensor> st;
  for (const auto& [k, t] : opt.state_dict()) st[k] = t;
  std::vector<std::string> keys;
  for (const auto& [k, t] : st) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"optimizer.exp_avg.fc.weight", "optimizer.exp_avg_sq.fc.weight",
                                            "optimizer.lr", "optimizer.step.fc.weight", "optimizer.steps"}));
  EXPECT_EQ(st["optimizer.step.fc.weight"].dtype(), DType::Int64);
  EXPECT_EQ(st["optimizer.lr"].item(), 1e-4);
  EXPECT_TRUE(st["optimizer.exp_avg.fc.weight"].shares_storage_with(opt.state_dict()[0].second));

  NamedTensors bad = {{"optimizer.exp_avg.fc.weight", Tensor::zeros({3})}};
  expect_error<ShapeError>([&] { opt.load_state_dict(bad); }, {"optimizer.exp_avg.fc.weight", "float32[3]", "fc.weight"});
  bad = {{"optimizer.exp_avg.fc.weight", Tensor::zeros({2, 2}, DType::Float64)}};
  expect_error<DTypeError>([&] { opt.load_state_dict(bad); }, {"float64[2, 2]"});
  bad = {{"optimizer.momentum_buffer.fc.weight", Tensor::zeros({2, 2})}, {"optimizer.zzz", Tensor::zeros({1})}};
  expect_error<ValueError>([&] { opt.load_state_dict(bad); },
                           {"unexpected entries", "optimizer.momentum_buffer.fc.weight", "optimizer.zzz"});
  bad = {{"optimizer.exp_avg.fc.weight", Tensor::zeros({2, 2})}, {"optimizer.step.fc.weight", st["optimizer.step.fc.weight"]}};
  expect_error<ValueError>([&] { opt.load_state_dict(bad); }, {"incomplete state", "fc.weight"});
  // A failed load changes nothing.
  EXPECT_EQ(opt.param_steps(0), 1);
  EXPECT_EQ(opt.steps(), 1);
  // Loading an empty state resets to fresh state.
  opt.load_state_dict({});
  EXPECT_EQ(opt.param_steps(0), 0);
  EXPECT_EQ(opt.state_dict().size(), 2u);  // steps and lr only
}

// ---- errors and bookkeeping

TEST(OptimErrors, GradientMismatchNamesTheParameterAndChangesNothing) {
  Tensor w = Tensor::ones({2, 3}).set_requires_grad(true), b = Tensor::ones({3}).set_requires_grad(true);
  Sgd opt(NamedTensors{{"conv1.weight", w}, {"conv1.bias", b}}, SgdOptions::mebm());
  w.set_grad(Tensor::ones({2, 3}));
  b.set_grad(Tensor::ones({4}));
  expect_error<ShapeError>([&] { opt.step(); },
                           {"sgd.step", "'conv1.bias'", "float32[4]", "float32[3]"});
  EXPECT_EQ(w.to_vector<float>(), std::vector<float>(6, 1.0f)) << "the good parameter moved";
  EXPECT_EQ(opt.steps(), 0);
  b.set_grad(Tensor::ones({3}, DType::Float64));
  expect_error<DTypeError>([&] { opt.step(); }, {"'conv1.bias'", "float64[3]"});
  b.set_grad(b.detach());
  expect_error<ValueError>([&] { opt.step(); }, {"'conv1.bias'", "shares storage"});
  b.zero_grad();
  opt.step();  // b skipped, w updated
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>(3, 1.0f));
  EXPECT_NE(w.to_vector<float>()[0], 1.0f);
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
}

TEST(OptimErrors, ConstructionAndOptions) {
  Tensor w = Tensor::ones({2}).set_requires_grad(true);
  expect_error<ValueError>([&] { Adam o(NamedTensors{{"a", w}, {"a", Tensor::ones({1})}}); },
                           {"'a' appears twice"});
  expect_error<ValueError>([&] { Adam o(NamedTensors{{"a", w}, {"b", w}}); },
                           {"'a' and 'b' are the same tensor"});
  expect_error<DTypeError>([&] { Sgd o(NamedTensors{{"idx", Tensor::zeros({2}, DType::Int64)}}); },
                           {"'idx'", "float32 or float64"});
  AdamOptions a;
  a.beta2 = 1.0;
  expect_error<ValueError>([&] { Adam o(std::vector<Tensor>{w}, a); }, {"betas"});
  SgdOptions s;
  s.nesterov = true;
  expect_error<ValueError>([&] { Sgd o(std::vector<Tensor>{w}, s); }, {"Nesterov"});
  Adam ok(std::vector<Tensor>{w});
  EXPECT_EQ(ok.params()[0].first, "0");
  expect_error<ValueError>([&] { ok.set_lr(-1); }, {"learning rate"});
  expect_error<ValueError>([&] { ok.set_lr(NAN); }, {"learning rate"});
}

TEST(OptimErrors, RawOpChecks) {
  Tensor p = Tensor::zeros({3}), g = Tensor::zeros({3}), m = Tensor::zeros({3}), v = Tensor::zeros({3});
  AdamHyper h;
  expect_error<ValueError>([&] { ops::adam_step_(p, g, m, v, h, 0); }, {"adam_step_", "step"});
  expect_error<ValueError>([&] { ops::adam_step_(p, g, m, m, h, 1); }, {"must not share storage"});
  Tensor m2 = Tensor::zeros({4});
  expect_error<ShapeError>([&] { ops::adam_step_(p, g, m2, v, h, 1); }, {"adam_step_"});
  SgdHyper sh;
  sh.momentum = 0.9;
  Tensor none;
  expect_error<ValueError>([&] { ops::sgd_step_(p, g, none, sh, true); }, {"sgd_step_", "'momentum_buffer'"});
  sh.momentum = 0;
  EXPECT_NO_THROW(ops::sgd_step_(p, g, none, sh, true));  // no buffer without momentum
  expect_error<ValueError>([&] { ops::grad_clamp_(p, 1.0, -1.0); }, {"lo <= hi"});
  Tensor e0 = Tensor::zeros({0}), e1 = Tensor::zeros({0}), e2 = Tensor::zeros({0}), e3 = Tensor::zeros({0});
  EXPECT_NO_THROW(ops::adam_step_(e0, e1, e2, e3, h, 1));
}

// A cuda gradient on a CPU parameter names the parameter (only where cuda tensors can be made).
TEST(OptimErrors, DeviceMismatch) {
  Tensor gc;
  try {
    gc = Tensor::zeros({2}, DType::Float32, Device::cuda());
  } catch (const Error& e) {
    GTEST_SKIP() << "no cuda tensors here: " << e.message();
  }
  Tensor w = Tensor::zeros({2}).set_requires_grad(true);
  w.set_grad(gc);
  Adam opt(NamedTensors{{"head.w", w}});
  expect_error<DeviceError>([&] { opt.step(); }, {"'head.w'", "cuda:0", "cpu"});
}

}  // namespace
}  // namespace ebm
