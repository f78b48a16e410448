// Thread-local stack of FLOP counters (see flops.h).
#include "nn/flops.h"

namespace ebm::nn {

namespace {
thread_local FlopCounter* g_current = nullptr;
}

FlopCounter::FlopCounter() : outer_(g_current) { g_current = this; }

FlopCounter::~FlopCounter() {
  g_current = outer_;
  if (outer_) outer_->flops_ += flops_;  // nested counters roll up
}

void FlopCounter::add(int64_t flops) {
  if (g_current) g_current->flops_ += flops;
}

}  // namespace ebm::nn
