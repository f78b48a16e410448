// igebm_train: trains an IGEBM energy model (Du & Mordatch 2019) or, with --sample, draws samples
// from a trained run. Flags: --help. The recipe is apps/igebm/igebm_trainer.h; main() is
// apps/common/app_main.h.
#include "apps/common/app_main.h"
#include "apps/igebm/igebm_trainer.h"

int main(int argc, char** argv) {
  using namespace ebm::app;
  return training_app_main<IgebmConfig>(
      argc, argv, "igebm_train",
      "trains an energy-based model of images with Langevin sampling and a replay buffer (IGEBM, Du & Mordatch 2019)",
      train_igebm, sample_igebm);
}
