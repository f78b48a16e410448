// ebm_demo: a small end-to-end energy-based model trained with the engine's autograd, until the
// image recipes (igebm_train) arrive. Data: a ring of 8 Gaussians in 2-D. Model: MLP energy
// E(x) (2-64-64-1, swish). Training: contrastive divergence with persistent Langevin chains
//   x <- x - (eps^2 / 2) * grad_x E(x) + eps * N(0, I),
// loss = mean E(x+) - mean E(x-) + alpha * mean(E(x+)^2 + E(x-)^2) (the IGEBM regulariser), Adam.
// Reports how many modes the chains cover and the fraction of samples near a mode.
//
// defines: main. uses: autograd/ops.h (tensors, linear, silu, grad, backward).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/ops/linalg.h"

namespace {

using namespace ebm;

struct Options {
  int iters = 600;
  int batch = 128;
  int langevin_steps = 40;
  double eps = 0.1;
  double alpha = 0.1;
  double lr = 2e-3;
  uint64_t seed = 1;
  std::string out = "runs/demo";
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "ebm_demo: %s\nflags: --iters N (600) --batch N (128) --langevin-steps K (40) "
                       "--seed S (1) --out DIR (runs/demo)\n", msg.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help") usage_error("trains a 2-D energy model on 8 Gaussians");
    if (i + 1 >= argc) usage_error("flag " + flag + " needs a value");
    std::string v = argv[++i];
    try {
      if (flag == "--iters") o.iters = std::stoi(v);
      else if (flag == "--batch") o.batch = std::stoi(v);
      else if (flag == "--langevin-steps") o.langevin_steps = std::stoi(v);
      else if (flag == "--seed") o.seed = std::stoull(v);
      else if (flag == "--out") o.out = v;
      else usage_error("unknown flag " + flag);
    } catch (const std::logic_error&) {
      usage_error("bad value '" + v + "' for " + flag);
    }
  }
  if (o.iters < 1 || o.batch < 1 || o.langevin_steps < 1) usage_error("--iters, --batch and --langevin-steps must be >= 1");
  return o;
}

constexpr int kModes = 8;
constexpr double kRadius = 2.0, kStd = 0.1;

Tensor sample_data(int n, std::mt19937_64& rng) {
  std::normal_distribution<float> noise(0.f, kStd);
  std::uniform_int_distribution<int> mode(0, kModes - 1);
  std::vector<float> v(2 * n);
  for (int i = 0; i < n; ++i) {
    double a = 2 * M_PI * mode(rng) / kModes;
    v[2 * i] = static_cast<float>(kRadius * std::cos(a)) + noise(rng);
    v[2 * i + 1] = static_cast<float>(kRadius * std::sin(a)) + noise(rng);
  }
  return Tensor::from_vector(v, {n, 2});
}

Tensor uniform(const Shape& s, double lo, double hi, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(s.numel());
  for (auto& x : v) x = d(rng);
  return Tensor::from_vector(v, s);
}

Tensor normal(const Shape& s, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(s.numel());
  for (auto& x : v) x = d(rng);
  return Tensor::from_vector(v, s);
}

struct Mlp {
  std::vector<Tensor> params;  // w1 b1 w2 b2 w3 b3, PyTorch's nn.Linear layout and init
  explicit Mlp(std::mt19937_64& rng) {
    int sizes[] = {2, 64, 64, 1};
    for (int l = 0; l < 3; ++l) {
      double bound = 1.0 / std::sqrt(sizes[l]);
      params.push_back(uniform({sizes[l + 1], sizes[l]}, -bound, bound, rng).set_requires_grad());
      params.push_back(uniform({sizes[l + 1]}, -bound, bound, rng).set_requires_grad());
    }
  }
  Tensor energy(const Tensor& x) const {  // [N, 2] -> [N]
    Tensor h = silu(linear(x, params[0], params[1]));
    h = silu(linear(h, params[2], params[3]));
    return reshape(linear(h, params[4], params[5]), {x.size(0)});
  }
};

struct Adam {
  double lr, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  int t = 0;
  std::vector<std::vector<float>> m, v;
  void step(std::vector<Tensor>& ps) {
    if (m.empty())
      for (auto& p : ps) {
        m.emplace_back(p.numel(), 0.f);
        v.emplace_back(p.numel(), 0.f);
      }
    ++t;
    double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
    for (size_t k = 0; k < ps.size(); ++k) {
      float* w = ps[k].data<float>();
      const float* g = ps[k].grad().data<float>();
      for (int64_t i = 0; i < ps[k].numel(); ++i) {
        m[k][i] = b1 * m[k][i] + (1 - b1) * g[i];
        v[k][i] = b2 * v[k][i] + (1 - b2) * g[i] * g[i];
        w[i] -= lr * (m[k][i] / c1) / (std::sqrt(v[k][i] / c2) + eps);
      }
      ps[k].bump_version();
      ps[k].zero_grad();
    }
  }
};

// Fraction of points within 3 std of a mode, and the number of modes holding >= 2% of them.
std::pair<double, int> mode_stats(const Tensor& x) {
  auto v = x.to_vector<float>();
  int n = x.size(0), near = 0;
  std::vector<int> count(kModes, 0);
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < kModes; ++k) {
      double a = 2 * M_PI * k / kModes;
      double dx = v[2 * i] - kRadius * std::cos(a), dy = v[2 * i + 1] - kRadius * std::sin(a);
      if (std::sqrt(dx * dx + dy * dy) < 3 * kStd) {
        ++near;
        ++count[k];
        break;
      }
    }
  int covered = 0;
  for (int c : count) covered += c >= 0.02 * n;
  return {static_cast<double>(near) / n, covered};
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse(argc, argv);
  try {
    std::mt19937_64 rng(opt.seed);
    Mlp model(rng);
    Adam adam{opt.lr};
    std::filesystem::create_directories(opt.out);
    std::ofstream metrics(opt.out + "/metrics.jsonl");
    const int chains = 1024;
    Tensor buffer = uniform({chains, 2}, -3, 3, rng);  // persistent chains
    auto [near0, modes0] = mode_stats(buffer);
    std::printf("ebm_demo: 8-Gaussian ring, MLP energy, %d iterations, batch %d, K=%d Langevin steps\n",
                opt.iters, opt.batch, opt.langevin_steps);
    std::printf("start: %.1f%% of chain samples near a mode, %d/8 modes covered\n", 100 * near0, modes0);
    std::uniform_int_distribution<int> pick(0, chains - 1);
    for (int it = 1; it <= opt.iters; ++it) {
      // Negative samples: continue a random batch of chains (5% restarted from noise).
      std::vector<int> idx(opt.batch);
      for (auto& i : idx) i = pick(rng);
      std::vector<float> xv(2 * opt.batch);
      auto bv = buffer.to_vector<float>();
      std::uniform_real_distribution<float> restart(-3, 3), coin(0, 1);
      for (int b = 0; b < opt.batch; ++b)
        for (int d = 0; d < 2; ++d)
          xv[2 * b + d] = coin(rng) < 0.05f ? restart(rng) : bv[2 * idx[b] + d];
      Tensor x = Tensor::from_vector(xv, {opt.batch, 2});
      for (int k = 0; k < opt.langevin_steps; ++k) {
        x.set_requires_grad(true);
        Tensor gx = grad(sum(model.energy(x)), {x})[0];
        NoGradGuard ng;
        x = x.detach() - gx * (0.5 * opt.eps * opt.eps) + normal(x.shape(), rng) * opt.eps;
      }
      auto xn = x.to_vector<float>();
      float* bp = buffer.data<float>();
      for (int b = 0; b < opt.batch; ++b) bp[2 * idx[b]] = xn[2 * b], bp[2 * idx[b] + 1] = xn[2 * b + 1];

      Tensor e_pos = model.energy(sample_data(opt.batch, rng));
      Tensor e_neg = model.energy(x);
      Tensor loss = mean(e_pos) - mean(e_neg) + opt.alpha * (mean(square(e_pos)) + mean(square(e_neg)));
      backward(loss);
      adam.step(model.params);
      double l = loss.item();
      if (!std::isfinite(l)) {
        std::fprintf(stderr, "ebm_demo: loss became %f at iteration %d; stopping\n", l, it);
        return 3;
      }
      if (it % 100 == 0 || it == opt.iters) {
        auto [near, modes] = mode_stats(buffer);
        std::printf("iter %4d  loss %+.4f  E+ %+.3f  E- %+.3f  near-mode %.1f%%  modes %d/8\n", it, l,
                    mean(e_pos).item(), mean(e_neg).item(), 100 * near, modes);
        metrics << "{\"step\": " << it << ", \"loss\": " << l << ", \"near_mode\": " << near
                << ", \"modes\": " << modes << "}\n";
        std::fflush(stdout);
      }
    }
    auto [near1, modes1] = mode_stats(buffer);
    std::ofstream samples(opt.out + "/samples.csv");
    auto bv = buffer.to_vector<float>();
    samples << "x,y\n";
    for (int i = 0; i < chains; ++i) samples << bv[2 * i] << "," << bv[2 * i + 1] << "\n";
    std::printf("end: %.1f%% of chain samples near a mode (was %.1f%%), %d/8 modes covered; samples in %s/samples.csv\n",
                100 * near1, 100 * near0, modes1, opt.out.c_str());
    return 0;
  } catch (const ebm::Error& e) {
    std::fprintf(stderr, "ebm_demo: error: %s\n", e.what());
    return 1;
  }
}
