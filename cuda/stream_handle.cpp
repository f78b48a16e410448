// stream_handle.h: current_stream behind a header without CUDA types.
#include "cuda/stream_handle.h"

#include "cuda/device.h"

namespace ebm::cuda {

StreamHandle stream_for(int device) { return current_stream(device); }

}  // namespace ebm::cuda
