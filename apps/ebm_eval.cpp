// ebm_eval: sample-quality and OOD evaluation with a recorded protocol (issue 7). Draws samples
// from a checkpoint of any recipe (or takes images made by another program), writes samples.npz
// and a PNG grid, computes FID / IS / KID with the FID Inception or the engine-trained classifier
// against cached reference statistics, OOD AUROC from energies, and writes eval.json saying
// exactly what was measured. Flags: --help. The run is apps/eval/evaluator.h.
#include <cstdio>

#include "apps/common/flags.h"
#include "apps/eval/evaluator.h"

int main(int argc, char** argv) {
  using namespace ebm;
  app::EvalConfig cfg;
  app::Flags flags("ebm_eval",
                   "evaluates an energy-based model's samples (FID, IS, KID, classifier FID) or energies "
                   "(OOD AUROC), or scores images made elsewhere; writes OUT/eval.json with the protocol");
  cfg.declare(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    cfg.finalize(flags);
    app::EvalOutcome out = app::run_eval(cfg);
    std::fputs(out.summary.c_str(), stdout);
    std::printf("ebm_eval: wrote %s\n", out.json_path.c_str());
    return 0;
  } catch (const app::UsageError& e) {
    std::fprintf(stderr, "%s\n", e.message().c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "ebm_eval: error: %s\n", e.message().c_str());
    return 1;
  }
}
