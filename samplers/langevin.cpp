// Langevin chains with the fused update (see langevin.h).
#include "samplers/langevin.h"

#include "autograd/ops.h"

namespace ebm::samplers {

namespace {

// The optional element-wise gradient clip (c > 0) and value clamp of the Igebm/Sgld updates.
void set_clamps(LangevinParams& p, double grad_clip, bool clamp, double lo, double hi) {
  p.clamp_grad = grad_clip > 0;
  p.grad_min = -grad_clip;
  p.grad_max = grad_clip;
  p.clamp_value = clamp;
  p.value_min = lo;
  p.value_max = hi;
}

}  // namespace

Tensor energy_grad(const Tensor& x, const EnergyFn& energy) {
  Tensor leaf = x.detach();
  leaf.set_requires_grad(true);
  Tensor e = energy(leaf);
  EBM_CHECK(e.defined() && e.dim() == 1 && e.size(0) == x.size(0), ShapeError,
            "langevin: the energy must return one value per sample, shape [", x.size(0), "], got ",
            e.defined() ? e.description() : std::string("an undefined tensor"));
  return grad(sum(e), {leaf})[0];
}

Tensor igebm_langevin_(Tensor& x, const EnergyFn& energy, const IgebmLangevinOptions& o,
                       Generator& gen) {
  EBM_CHECK(o.steps >= 1 && o.step_lr >= 0 && o.noise_std >= 0 && (!o.clamp || o.lo < o.hi),
            ValueError, "igebm_langevin: need steps >= 1, step_lr >= 0, noise_std >= 0 and lo < hi; got ",
            o.steps, ", ", o.step_lr, ", ", o.noise_std, ", [", o.lo, ", ", o.hi, "]");
  if (o.noise_std > 0) {
    LangevinParams first = LangevinParams::noise_only(o.noise_std);
    ops::langevin_step_(x, Tensor(), first, gen);
  }
  Tensor g;
  for (int k = 1; k <= o.steps; ++k) {
    g = energy_grad(x, energy);
    LangevinParams p;
    p.mode = LangevinMode::Igebm;
    p.step = o.step_lr;
    set_clamps(p, o.grad_clip, o.clamp, o.lo, o.hi);
    p.add_noise = k < o.steps && o.noise_std > 0;  // the next step's noise
    p.noise_std = p.add_noise ? o.noise_std : 0.0;
    ops::langevin_step_(x, g, p, gen);
  }
  NoGradGuard no_grad;
  return mean(abs(g));
}

void sgld_(Tensor& x, const EnergyFn& energy, const SgldOptions& o, Generator& gen) {
  EBM_CHECK(o.steps >= 0 && o.noise_std >= 0 && (!o.clamp || o.lo < o.hi), ValueError,
            "sgld: need steps >= 0, noise_std >= 0 and lo < hi");
  EnergyFn log_p = [&](const Tensor& v) { return neg(energy(v)); };
  for (int k = 0; k < o.steps; ++k) {
    Tensor g = energy_grad(x, log_p);
    LangevinParams p = LangevinParams::sgld(o.step, o.noise_std);
    p.add_noise = o.noise_std > 0;
    set_clamps(p, o.grad_clip, o.clamp, o.lo, o.hi);
    ops::langevin_step_(x, g, p, gen);
  }
}

}  // namespace ebm::samplers
