// CUDA graph capture (core/graph.h, cuda/graph.h): the scoped guard, the instantiated graph and
// its replay, the per-thread capture state that the memory pool (graph pools) and the Philox
// draws (graph-relative offsets) consult. After tiny-cuda-nn's capture guard: capture on a fresh
// non-blocking stream, never on the legacy one, in thread-local capture mode (other threads keep
// working eagerly), instantiate once.
#include "cuda/graph.h"

#include <cuda_runtime_api.h>

#include <array>
#include <optional>
#include <vector>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/memory_pool.h"

namespace ebm {

namespace cuda {
namespace {

// As the memory pools: devices from index 64 on are refused by check_device.
constexpr int kMaxCaptureDevices = 64;

// A generator a capture drew from, and the graph's device-side {seed, base offset} for it.
struct GraphRng {
  CapturedGenerator gen;
  uint64_t* state = nullptr;
};

// This thread's open capture on one device.
struct CaptureState {
  int device = 0;
  GraphPool* pool = nullptr;
  std::vector<GraphRng> rngs;
};

thread_local std::array<CaptureState*, kMaxCaptureDevices> t_captures{};

CaptureState* capture_of(int device) {
  return device >= 0 && device < kMaxCaptureDevices ? t_captures[device] : nullptr;
}

// Makes `device` current for a scope, for the noexcept paths (a failure leaves the device as it
// is; the calls that follow then report their own errors).
class QuietDevice {
 public:
  explicit QuietDevice(int device) noexcept {
    try {
      guard_.emplace(device);
    } catch (...) {
    }
  }

 private:
  std::optional<DeviceGuard> guard_;
};

// Frees the graph's Philox states and closes its pool (after its work is done).
void release_memory(int device, GraphPool* pool, std::vector<GraphRng>& rngs) noexcept {
  for (GraphRng& r : rngs) pool_free(r.state, device);
  rngs.clear();
  graph_pool_close(device, pool);
}

}  // namespace

bool capturing(int device) { return capture_of(device) != nullptr; }

bool stream_capturing(StreamHandle stream) {
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  EBM_CUDA_CHECK(cudaStreamIsCapturing(stream, &status));
  return status != cudaStreamCaptureStatusNone;
}

PhiloxDraw philox_draw(Generator& gen, uint64_t words, int device) {
  CaptureState* c = capture_of(device);
  if (!c) return {gen.seed(), gen.reserve(words), nullptr};
  GraphRng* r = nullptr;
  for (GraphRng& u : c->rngs)
    if (&u.gen.generator() == &gen) r = &u;
  if (!r) {
    c->rngs.reserve(c->rngs.size() + 1);  // so that push_back cannot fail after the allocation
    auto* state = static_cast<uint64_t*>(graph_pool_allocate(c->pool, 2 * sizeof(uint64_t)));
    c->rngs.push_back({CapturedGenerator(gen), state});
    r = &c->rngs.back();
  }
  EBM_CHECK(gen.seed() == r->gen.seed(), ValueError, "a generator was reseeded (from ",
            r->gen.seed(), " to ", gen.seed(), ") inside a CUDA graph capture on cuda:", device,
            ": reseed it before the capture or between replays");
  return {gen.seed(), r->gen.reserve(words), r->state};
}

RelaxedCaptureMode::RelaxedCaptureMode() {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  EBM_CUDA_CHECK(cudaThreadExchangeStreamCaptureMode(&mode));
  previous_ = static_cast<int>(mode);
}

RelaxedCaptureMode::~RelaxedCaptureMode() {
  auto mode = static_cast<cudaStreamCaptureMode>(previous_);
  EBM_CUDA_CHECK_LOG(cudaThreadExchangeStreamCaptureMode(&mode));
}

}  // namespace cuda

// ---- the graph

struct CudaGraph::Impl {
  int device = 0;
  cudaGraphExec_t exec = nullptr;
  cudaEvent_t done = nullptr;          // recorded after each replay
  cudaStream_t last_stream = nullptr;  // of the last replay
  cuda::GraphPool* pool = nullptr;
  std::vector<cuda::GraphRng> rngs;
  size_t nodes = 0;
  int64_t replays = 0;

  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  // Waits for the last replay (launches of one graph run in order), then gives everything back.
  // The wait is allowed even inside another capture on this thread (the event was recorded
  // outside any capture).
  ~Impl() {
    cuda::QuietDevice on(device);
    if (done) {
      if (replays > 0) {
        cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
        const bool relaxed = cudaThreadExchangeStreamCaptureMode(&mode) == cudaSuccess;
        EBM_CUDA_CHECK_LOG(cudaEventSynchronize(done));
        if (relaxed) EBM_CUDA_CHECK_LOG(cudaThreadExchangeStreamCaptureMode(&mode));
      }
      EBM_CUDA_CHECK_LOG(cudaEventDestroy(done));
    }
    if (exec) EBM_CUDA_CHECK_LOG(cudaGraphExecDestroy(exec));
    cuda::release_memory(device, pool, rngs);
  }
};

CudaGraph::CudaGraph() = default;
CudaGraph::CudaGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CudaGraph::~CudaGraph() = default;
CudaGraph::CudaGraph(CudaGraph&& other) noexcept = default;
CudaGraph& CudaGraph::operator=(CudaGraph&& other) noexcept = default;

Device CudaGraph::device() const {
  EBM_CHECK(impl_, ValueError, "CudaGraph::device: the graph is empty");
  return Device::cuda(impl_->device);
}

int64_t CudaGraph::replays() const { return impl_ ? impl_->replays : 0; }
size_t CudaGraph::nodes() const { return impl_ ? impl_->nodes : 0; }

device_hooks::CudaPoolStats CudaGraph::memory_stats() const {
  return impl_ ? cuda::graph_pool_stats(impl_->pool) : device_hooks::CudaPoolStats{};
}

void CudaGraph::replay() {
  EBM_CHECK(impl_, ValueError,
            "CudaGraph::replay: the graph is empty (default-constructed or moved from)");
  Impl& g = *impl_;
  EBM_CHECK(!cuda::capturing(g.device), DeviceError, "CudaGraph::replay on cuda:", g.device,
            ": this thread is capturing a CUDA graph on the device; replay after end()");
  cuda::DeviceGuard on(g.device);
  cudaStream_t s = cuda::current_stream(g.device);
  // The previous replay may still run on another stream; the state writes must come after it.
  if (g.replays > 0 && s != g.last_stream) EBM_CUDA_CHECK(cudaStreamWaitEvent(s, g.done, 0));
  for (cuda::GraphRng& r : g.rngs)
    cuda::write_philox_state(r.state, r.gen.generator().seed(), r.gen.replay(), s);
  EBM_CUDA_CHECK(cudaGraphLaunch(g.exec, s));
  EBM_CUDA_CHECK(cudaEventRecord(g.done, s));
  g.last_stream = s;
  ++g.replays;
}

// ---- the capture guard

struct CudaGraphCapture::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;  // the capture stream
  std::optional<cuda::StreamGuard> redirect;
  cuda::CaptureState state;
  bool capturing = false;  // cudaStreamBeginCapture succeeded, cudaStreamEndCapture not called
  bool open = false;       // constructed, end() not called

  // Ends the capture (handing out the graph, if it was valid, through *graph), undoes the
  // redirection and the routing, gives the generators back their offsets and destroys the
  // stream. Returns cudaStreamEndCapture's error. The pool stays open (the graph's or closed by
  // the caller).
  cudaError_t stop(cudaGraph_t* graph) noexcept {
    cuda::QuietDevice on(device);
    cudaError_t err = cudaSuccess;
    if (capturing) {
      err = cudaStreamEndCapture(stream, graph);
      if (err != cudaSuccess) cudaGetLastError();  // not sticky: keep later checks clean
      capturing = false;
    }
    if (cuda::capture_of(device) == &state) cuda::t_captures[device] = nullptr;
    if (state.pool) cuda::graph_pool_stop_routing(device);
    redirect.reset();
    for (cuda::GraphRng& r : state.rngs) r.gen.finish();
    if (stream) {
      EBM_CUDA_CHECK_LOG(cudaStreamDestroy(stream));
      stream = nullptr;
    }
    open = false;
    return err;
  }

  // stop() without a graph, and the pool closed: the guard left by an exception.
  void abandon() noexcept {
    cudaGraph_t graph = nullptr;
    stop(&graph);
    if (graph) EBM_CUDA_CHECK_LOG(cudaGraphDestroy(graph));
    cuda::release_memory(device, state.pool, state.rngs);
    state.pool = nullptr;
  }
};

CudaGraphCapture::CudaGraphCapture(Device device) : device_(device) {
  EBM_CHECK(device.is_cuda(), ValueError, "CUDA graph capture needs a CUDA device, got ", device);
  EBM_CHECK(cuda::device_count() > 0, DeviceError, "CUDA graph capture on ", device,
            " requested but CUDA is not usable: ", cuda::unavailable_reason());
  cuda::check_device(device.index);
  EBM_CHECK(!cuda::capturing(device.index), DeviceError, "CUDA graph capture on ", device,
            ": this thread is already capturing on the device (captures do not nest)");
  const int d = device.index;
  auto impl = std::make_unique<Impl>();
  impl->device = d;
  impl->state.device = d;
  cuda::DeviceGuard on(d);
  cudaStream_t origin = cuda::current_stream(d);
  EBM_CHECK(!cuda::stream_capturing(origin), DeviceError, "CUDA graph capture on ", device,
            ": the current stream is already being captured");
  // The memory the graph's pool is lent was last used by work on `origin`: let that work finish
  // (before the capture, not inside it), so that replays on any stream are safe.
  EBM_CUDA_CHECK(cudaStreamSynchronize(origin));
  EBM_CUDA_CHECK(cudaStreamCreateWithFlags(&impl->stream, cudaStreamNonBlocking));
  impl->open = true;
  try {
    impl->state.pool = cuda::graph_pool_open(d, origin, impl->stream);
    impl->redirect.emplace(impl->stream, d);
    cuda::t_captures[d] = &impl->state;
    EBM_CUDA_CHECK(cudaStreamBeginCapture(impl->stream, cudaStreamCaptureModeThreadLocal));
    impl->capturing = true;
  } catch (...) {
    impl->abandon();
    throw;
  }
  impl_ = std::move(impl);
}

CudaGraphCapture::~CudaGraphCapture() {
  if (impl_ && impl_->open) impl_->abandon();
}

bool CudaGraphCapture::active() const { return impl_ && impl_->open; }

CudaGraph CudaGraphCapture::end() {
  EBM_CHECK(active(), ValueError, "CudaGraphCapture::end: the capture on ", device_,
            " has already ended");
  Impl& c = *impl_;
  cudaGraph_t graph = nullptr;
  const cudaError_t err = c.stop(&graph);
  if (err != cudaSuccess || !graph) {
    if (graph) EBM_CUDA_CHECK_LOG(cudaGraphDestroy(graph));
    cuda::release_memory(c.device, c.state.pool, c.state.rngs);
    c.state.pool = nullptr;
    const char* why =
        err == cudaErrorStreamCaptureInvalidated || err == cudaErrorStreamCaptureUnsupported
            ? "; the captured region contained an operation that a capture does not allow: a "
              "host synchronisation (cudaStreamSynchronize, cudaDeviceSynchronize, a copy between "
              "the device and host memory), a cudaMalloc or cudaFree outside the engine's pool, "
              "or work on the legacy default stream. Move it before or after the capture"
            : "";
    EBM_THROW(CudaError, "CUDA graph capture on ", device_, " failed: cudaStreamEndCapture: ",
              err != cudaSuccess ? cuda::describe_cuda_error(err) : "no graph", why);
  }
  // The graph owns the pool from here: its destructor gives it back.
  auto g = std::make_unique<CudaGraph::Impl>();
  g->device = c.device;
  g->pool = c.state.pool;
  g->rngs = std::move(c.state.rngs);
  c.state.pool = nullptr;
  c.state.rngs.clear();
  cuda::DeviceGuard on(c.device);
  cudaError_t e = cudaGraphGetNodes(graph, nullptr, &g->nodes);
  if (e == cudaSuccess) e = cudaGraphInstantiate(&g->exec, graph, 0);
  EBM_CUDA_CHECK_LOG(cudaGraphDestroy(graph));  // the executable graph is independent of it
  if (e != cudaSuccess) {
    cudaGetLastError();  // not sticky: keep later checks clean
    EBM_THROW(CudaError, "CUDA graph capture on ", device_, ": cannot instantiate the captured ",
              "graph of ", g->nodes, " nodes: ", cuda::describe_cuda_error(e));
  }
  EBM_CUDA_CHECK(cudaEventCreateWithFlags(&g->done, cudaEventDisableTiming));
  return CudaGraph(std::move(g));
}

}  // namespace ebm
