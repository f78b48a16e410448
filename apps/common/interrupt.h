// Ctrl-C handling for training loops: the first SIGINT/SIGTERM only sets a flag, which the loop
// checks after each step to write a checkpoint and exit cleanly; a second one exits at once.
#pragma once

namespace ebm::app {

void install_interrupt_handler();
bool interrupted();
void reset_interrupted();  // tests

}  // namespace ebm::app
