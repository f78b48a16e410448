// classifier_train: trains the Wide ResNet classifier whose penultimate features are ebm_eval's
// offline "classifier FID" network (eval/classifier_features.h). Flags: --help. The recipe is
// apps/classifier/classifier_trainer.h; the documented Fashion-MNIST command is in the README.
#include <cstdio>

#include "apps/classifier/classifier_trainer.h"
#include "apps/common/flags.h"

int main(int argc, char** argv) {
  using namespace ebm;
  app::ClassifierConfig cfg;
  app::Flags flags("classifier_train",
                   "trains a Wide ResNet image classifier; its penultimate features serve ebm_eval's "
                   "classifier FID (writes RUN_DIR/classifier.safetensors)");
  cfg.declare(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    cfg.finalize(flags);
    app::ClassifierOutcome out = app::train_classifier(cfg);
    std::printf("classifier_train: %s\n", out.message.c_str());
    if (out.diverged) return 3;
    if (out.interrupted) return 130;
    return 0;
  } catch (const app::UsageError& e) {
    std::fprintf(stderr, "%s\n", e.message().c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "classifier_train: error: %s\n", e.message().c_str());
    return 1;
  }
}
