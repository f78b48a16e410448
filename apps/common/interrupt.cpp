// SIGINT/SIGTERM → a flag (see interrupt.h).
#include "apps/common/interrupt.h"

#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace ebm::app {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int) {
  if (g_interrupted) std::_Exit(130);  // second Ctrl-C: the user means it
  g_interrupted = 1;
  const char msg[] = "\ninterrupted: finishing this step, writing a checkpoint (Ctrl-C again to abort)\n";
  ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
  (void)ignored;
}
}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_interrupted != 0; }
void reset_interrupted() { g_interrupted = 0; }

}  // namespace ebm::app
