// drl_train: trains an energy-based model by Diffusion Recovery Likelihood (Gao et al., ICLR 2021)
// or, with --sample, generates images from a trained run through all T noise levels. Flags:
// --help. The recipe is apps/drl/drl_trainer.h, its sampler and loss samplers/drl.h; main() is
// apps/common/app_main.h.
#include "apps/common/app_main.h"
#include "apps/drl/drl_trainer.h"

int main(int argc, char** argv) {
  using namespace ebm::app;
  return training_app_main<DrlConfig>(
      argc, argv, "drl_train",
      "trains an energy-based model of images by diffusion recovery likelihood: conditional Langevin chains on "
      "a ladder of noise levels (DRL, Gao et al. 2021)",
      train_drl, sample_drl);
}
