// The main() of a training app: flags (--help prints them), then the sampling mode (--sample) or
// training. Exit codes: 0 done (or --help), 1 error, 2 bad flags, 3 diverged, 130 interrupted.
// Errors are printed as "<program>: error: <message>", bad flags as the UsageError's message.
#pragma once

#include <cstdio>
#include <string>

#include "apps/common/flags.h"
#include "apps/common/training_loop.h"

namespace ebm::app {

// Config: declare(Flags&), finalize(const Flags&), bool sample. train(Config) -> TrainOutcome;
// sample(Config) -> a description of the files written.
template <class Config, class Train, class Sample>
int training_app_main(int argc, char** argv, const char* program, const char* summary, Train train, Sample sample) {
  Config cfg;
  Flags flags(program, summary);
  cfg.declare(flags);
  try {
    if (!flags.parse(argc, argv)) {
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    cfg.finalize(flags);
    if (cfg.sample) {
      std::printf("%s: wrote %s\n", program, std::string(sample(cfg)).c_str());
      return 0;
    }
    const TrainOutcome out = train(cfg);
    std::printf("%s: %s\n", program, out.message.c_str());
    if (out.diverged) return 3;
    if (out.interrupted) return 130;
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "%s\n", e.message().c_str());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.message().c_str());
    return 1;
  }
}

}  // namespace ebm::app
