// The differentiable op API: include this to build models. Each header lists one op family.
#pragma once

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "autograd/ops/conv.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/index.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/random.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"
#include "autograd/ops/spectral_norm.h"
