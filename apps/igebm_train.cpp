// igebm_train: trains an IGEBM energy model (Du & Mordatch 2019) or, with --sample, draws samples
// from a trained run. Flags: --help. The recipe is apps/igebm/igebm_trainer.h.
#include <cstdio>

#include "apps/common/flags.h"
#include "apps/igebm/igebm_trainer.h"

int main(int argc, char** argv) {
  using namespace ebm;
  app::IgebmConfig cfg;
  app::Flags flags("igebm_train",
                   "trains an energy-based model of images with Langevin sampling and a replay buffer "
                   "(IGEBM, Du & Mordatch 2019)");
  cfg.declare(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    cfg.finalize(flags);
    if (cfg.sample) {
      std::printf("igebm_train: wrote %s\n", app::sample_igebm(cfg).c_str());
      return 0;
    }
    app::IgebmOutcome out = app::train_igebm(cfg);
    std::printf("igebm_train: %s\n", out.message.c_str());
    if (out.diverged) return 3;
    if (out.interrupted) return 130;
    return 0;
  } catch (const app::UsageError& e) {
    std::fprintf(stderr, "%s\n", e.message().c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "igebm_train: error: %s\n", e.message().c_str());
    return 1;
  }
}
