// Umbrella header of the ebm engine: tensors, ops, autograd.
#pragma once

#include "autograd/ops.h"
#include "core/philox.h"
#include "core/settings.h"
#include "core/tensor.h"
