// Consumer of the installed / embedded ebm library: computes d/dx sum(tanh(a*x)) with autograd
// and checks it against the closed form a*(1 - tanh(a*x)^2). Exit code 0 only when it matches.
#include <cmath>
#include <cstdio>

#include "ebm.h"

int main() {
  using namespace ebm;
  Tensor x = Tensor::from_vector(std::vector<double>{-1.0, 0.25, 2.0}, Shape{3}).set_requires_grad();
  const double a = 0.7;
  Tensor y = sum(tanh(x * a));
  Tensor g = grad(y, {x})[0];
  auto gv = g.to_vector<double>(), xv = x.to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) {
    double t = std::tanh(a * xv[i]);
    double expected = a * (1 - t * t);
    if (std::fabs(gv[i] - expected) > 1e-12) {
      std::printf("consumer: gradient %zu is %.17g, expected %.17g\n", i, gv[i], expected);
      return 1;
    }
  }
  std::printf("consumer: ebm gradient matches the closed form\n");
  return 0;
}
