// cuDNN convolutions (see cudnn_conv.h): per-device handle, descriptors and algorithm choices
// cached per shape, the Find-based search, per-stream workspaces, and the three directions
// written once through a small traits struct each.
#include "cuda/cudnn_conv.h"

#include <cudnn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "core/common.h"
#include "core/device_hooks.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/pool.h"

namespace ebm::cuda {

namespace {

constexpr int kMaxDevices = 64;

enum Dir { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };
const char* const kDirName[] = {"forward", "backward data", "backward filter"};

// The chosen algorithm of one direction (algo as int: the three directions' enums differ).
struct Choice {
  bool searched = false;
  int algo = 0;
  cudnnMathType_t math = CUDNN_DEFAULT_MATH;
  size_t workspace = 0;
  bool deterministic = true;
};

// Descriptors of one cache key, and the choices of the directions used so far. Never destroyed
// (the cache lives as long as the process; destroying descriptors at exit races the library's
// own teardown).
struct Plan {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  std::array<Choice, 3> choice;
};

// Cache key: everything the algorithm choice may depend on.
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int,
                       int /*dtype*/, bool /*tf32*/, bool /*16-byte aligned*/>;

struct Workspace {
  void* ptr = nullptr;
  size_t bytes = 0;
};

struct DnnState {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
  std::map<Key, std::unique_ptr<Plan>> plans;
  std::map<StreamHandle, Workspace> workspaces;
  int64_t searches = 0;
};

DnnState& dnn_state(int device) {
  EBM_CHECK(device >= 0 && device < kMaxDevices, DeviceError, "cuDNN: device index ", device,
            " out of range");
  // Never destroyed (see Plan).
  static std::array<DnnState, kMaxDevices>* states = new std::array<DnnState, kMaxDevices>();
  return (*states)[device];
}

cudnnDataType_t cudnn_dtype(DType dt, const char* op) {
  switch (dt) {
    case DType::Float32: return CUDNN_DATA_FLOAT;
    case DType::Float64: return CUDNN_DATA_DOUBLE;
    default:
      EBM_THROW(DTypeError, op, " (cuda): dtype ", dtype_name(dt),
                " is not supported by the cuDNN convolutions (expected float32 or float64)");
  }
}

// float32 without TF32 must not touch tensor cores: FMA only. Otherwise cuDNN's default
// (TF32 allowed for float32; float64 has no tensor-core path either way).
cudnnMathType_t wanted_math(DType dt, bool allow_tf32) {
  return dt == DType::Float32 && !allow_tf32 ? CUDNN_FMA_MATH : CUDNN_DEFAULT_MATH;
}

std::string geom_string(DType dt, const ConvGeom2d& g) {
  return str(dtype_name(dt), " x[", g.n, ",", g.c, ",", g.h, ",", g.w, "] w[", g.co, ",", g.c,
             ",", g.kh, ",", g.kw, "] s", g.stride, " p", g.padding);
}

int to_int(int64_t v, const char* what, DType dt, const ConvGeom2d& g) {
  EBM_CHECK(v >= 0 && v <= INT_MAX, ValueError, "conv2d (cuda): ", what, " = ", v,
            " does not fit cuDNN's int (", geom_string(dt, g), ")");
  return static_cast<int>(v);
}

std::unique_ptr<Plan> make_plan(DType dt, const ConvGeom2d& g, bool allow_tf32) {
  const cudnnDataType_t cdt = cudnn_dtype(dt, "conv2d");
  for (int64_t count : {g.n * g.c * g.h * g.w, g.n * g.co * g.ho * g.wo, g.co * g.c * g.kh * g.kw})
    to_int(count, "tensor element count", dt, g);
  const int n = to_int(g.n, "batch", dt, g), c = to_int(g.c, "C_in", dt, g);
  const int h = to_int(g.h, "H", dt, g), w = to_int(g.w, "W", dt, g);
  const int co = to_int(g.co, "C_out", dt, g), kh = to_int(g.kh, "kH", dt, g);
  const int kw = to_int(g.kw, "kW", dt, g);
  auto plan = std::make_unique<Plan>();
  EBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->x));
  EBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->y));
  EBM_CUDNN_CHECK(cudnnCreateTensorDescriptor(&plan->bias));
  EBM_CUDNN_CHECK(cudnnCreateFilterDescriptor(&plan->w));
  EBM_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&plan->conv));
  EBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->x, CUDNN_TENSOR_NCHW, cdt, n, c, h, w));
  EBM_CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->w, cdt, CUDNN_TENSOR_NCHW, co, c, kh, kw));
  EBM_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv, g.padding, g.padding, g.stride,
                                                  g.stride, 1, 1, CUDNN_CROSS_CORRELATION, cdt));
  EBM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv, wanted_math(dt, allow_tf32)));
  int on = 0, oc = 0, oh = 0, ow = 0;
  EBM_CUDNN_CHECK(
      cudnnGetConvolution2dForwardOutputDim(plan->conv, plan->x, plan->w, &on, &oc, &oh, &ow));
  EBM_CHECK(on == g.n && oc == g.co && oh == g.ho && ow == g.wo, ShapeError,
            "conv2d (cuda): cuDNN's output [", on, ",", oc, ",", oh, ",", ow,
            "] differs from the expected [", g.n, ",", g.co, ",", g.ho, ",", g.wo, "] for ",
            geom_string(dt, g));
  EBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->y, CUDNN_TENSOR_NCHW, cdt, on, oc, oh, ow));
  EBM_CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->bias, CUDNN_TENSOR_NCHW, cdt, 1, co, 1, 1));
  return plan;
}

// The operands of one direction: a, b in, out written.
//   forward: a = x, b = w, out = y;  backward data: a = dy, b = w, out = dx;
//   backward filter: a = dy, b = x, out = dw.
struct Operands {
  const void* a;
  const void* b;
  void* out;
};

// One struct per direction with the same static interface, so search and run are written once.
struct ForwardOps {
  using Perf = cudnnConvolutionFwdAlgoPerf_t;
  using Algo = cudnnConvolutionFwdAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionForwardAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y,
                                                   static_cast<Algo>(algo), bytes);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Operands& o, int requested,
                            int* returned, Perf* perf, void* ws, size_t ws_bytes) {
    return cudnnFindConvolutionForwardAlgorithmEx(h, p.x, o.a, p.w, o.b, p.conv, p.y, o.out,
                                                  requested, returned, perf, ws, ws_bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Plan& p, const Operands& o, int algo, void* ws,
                           size_t ws_bytes, const void* one, const void* zero) {
    return cudnnConvolutionForward(h, one, p.x, o.a, p.w, o.b, p.conv, static_cast<Algo>(algo), ws,
                                   ws_bytes, zero, p.y, o.out);
  }
};

struct BackwardDataOps {
  using Perf = cudnnConvolutionBwdDataAlgoPerf_t;
  using Algo = cudnnConvolutionBwdDataAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardDataAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x,
                                                        static_cast<Algo>(algo), bytes);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Operands& o, int requested,
                            int* returned, Perf* perf, void* ws, size_t ws_bytes) {
    return cudnnFindConvolutionBackwardDataAlgorithmEx(h, p.w, o.b, p.y, o.a, p.conv, p.x, o.out,
                                                       requested, returned, perf, ws, ws_bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Plan& p, const Operands& o, int algo, void* ws,
                           size_t ws_bytes, const void* one, const void* zero) {
    return cudnnConvolutionBackwardData(h, one, p.w, o.b, p.y, o.a, p.conv,
                                        static_cast<Algo>(algo), ws, ws_bytes, zero, p.x, o.out);
  }
};

struct BackwardFilterOps {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  using Algo = cudnnConvolutionBwdFilterAlgo_t;
  static constexpr int kAlgoCount = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
  static cudnnStatus_t max_count(cudnnHandle_t h, int* n) {
    return cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(h, n);
  }
  static cudnnStatus_t workspace(cudnnHandle_t h, const Plan& p, int algo, size_t* bytes) {
    return cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w,
                                                          static_cast<Algo>(algo), bytes);
  }
  static cudnnStatus_t find(cudnnHandle_t h, const Plan& p, const Operands& o, int requested,
                            int* returned, Perf* perf, void* ws, size_t ws_bytes) {
    return cudnnFindConvolutionBackwardFilterAlgorithmEx(h, p.x, o.b, p.y, o.a, p.conv, p.w,
                                                         o.out, requested, returned, perf, ws,
                                                         ws_bytes);
  }
  static cudnnStatus_t run(cudnnHandle_t h, const Plan& p, const Operands& o, int algo, void* ws,
                           size_t ws_bytes, const void* one, const void* zero) {
    return cudnnConvolutionBackwardFilter(h, one, p.x, o.b, p.y, o.a, p.conv,
                                          static_cast<Algo>(algo), ws, ws_bytes, zero, p.w, o.out);
  }
};

const char* math_name(cudnnMathType_t m) {
  switch (m) {
    case CUDNN_DEFAULT_MATH: return "default";
    case CUDNN_TENSOR_OP_MATH: return "tensor-op";
    case CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: return "tensor-op+conversion";
    case CUDNN_FMA_MATH: return "fma";
  }
  return "?";
}

// Device memory for work queued on `stream`. The caching pool files a block under the stream
// that is current when it is allocated and reuses it in that stream's order, so the allocation
// is made with `stream` current.
void* alloc_for_stream(size_t bytes, int device, StreamHandle stream) {
  StreamGuard on(stream, device);
  return device_hooks::cuda_alloc(bytes, device);
}

// A device buffer of `bytes` for `stream`, freed when the scope ends (the search's scratch).
class ScopedBuffer {
 public:
  ScopedBuffer(size_t bytes, int device, StreamHandle stream) : device_(device) {
    if (bytes) ptr_ = alloc_for_stream(bytes, device, stream), bytes_ = bytes;
  }
  ~ScopedBuffer() { device_hooks::cuda_free(ptr_, device_); }
  ScopedBuffer(const ScopedBuffer&) = delete;
  ScopedBuffer& operator=(const ScopedBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
  int device_;
};

// The search workspace: as much as the greediest supported candidate wants, capped by
// kSearchWorkspaceCap and half the free memory. If even that cannot be had, the search goes on
// without one (cuDNN then times only the algorithms that need none).
template <class Ops>
std::unique_ptr<ScopedBuffer> search_workspace(cudnnHandle_t h, const Plan& p, int device,
                                               StreamHandle stream) {
  size_t want = 0;
  for (int algo = 0; algo < Ops::kAlgoCount; ++algo) {
    size_t bytes = 0;
    if (Ops::workspace(h, p, algo, &bytes) == CUDNN_STATUS_SUCCESS) want = std::max(want, bytes);
  }
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) {
    cudaGetLastError();
    free_b = 0;
  }
  want = std::min({want, kSearchWorkspaceCap, free_b / 2});
  try {
    return std::make_unique<ScopedBuffer>(want, device, stream);
  } catch (const CudaError&) {
    return std::make_unique<ScopedBuffer>(0, device, stream);
  }
}

// Times the candidates (cudnnFind*Ex) and returns the fastest usable one: status success, the
// math mode asked for (FMA when float32 must not use TF32), deterministic if any such exists.
template <class Ops>
Choice search(DnnState& st, const Plan& plan, Dir dir, DType dt, bool allow_tf32,
              const ConvGeom2d& g, const Operands& o, int device, StreamHandle stream) {
  int max_count = 0;
  EBM_CUDNN_CHECK(Ops::max_count(st.handle, &max_count));
  max_count = std::max(max_count, 1);
  std::vector<typename Ops::Perf> perf(static_cast<size_t>(max_count));
  int returned = 0;
  cudnnStatus_t status;
  {
    std::unique_ptr<ScopedBuffer> ws = search_workspace<Ops>(st.handle, plan, device, stream);
    // Candidates are timed under the math mode asked for (a run of another direction of this
    // plan may have left the descriptor at its own choice's mode).
    EBM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, wanted_math(dt, allow_tf32)));
    status = Ops::find(st.handle, plan, o, max_count, &returned, perf.data(), ws->get(),
                       ws->bytes());
    // Find waits for its own timings; wait for the stream as well before the scratch is freed.
    EBM_CUDA_CHECK(cudaStreamSynchronize(stream));
  }
  ++st.searches;
  if (status != CUDNN_STATUS_SUCCESS && dt == DType::Float64)
    EBM_THROW(DTypeError, "conv2d ", kDirName[dir], " (cuda): cuDNN cannot run float64 for ",
              geom_string(dt, g), ": ", describe_cudnn_status(status));
  EBM_CUDNN_CHECK(status);
  const cudnnMathType_t wanted = wanted_math(dt, allow_tf32);
  const typename Ops::Perf* best = nullptr;
  const typename Ops::Perf* best_any = nullptr;
  for (int i = 0; i < returned; ++i) {  // sorted by time, fastest first
    const auto& r = perf[static_cast<size_t>(i)];
    if (r.status != CUDNN_STATUS_SUCCESS) continue;
    if (wanted == CUDNN_FMA_MATH && r.mathType != CUDNN_FMA_MATH) continue;
    if (!best_any) best_any = &r;
    if (r.determinism == CUDNN_DETERMINISTIC) {
      best = &r;
      break;
    }
  }
  if (!best) best = best_any;
  if (!best) {
    if (dt == DType::Float64)
      EBM_THROW(DTypeError, "conv2d ", kDirName[dir], " (cuda): cuDNN has no float64 algorithm for ",
                geom_string(dt, g));
    EBM_THROW(CudaError, "conv2d ", kDirName[dir], " (cuda): cuDNN found no usable algorithm for ",
              geom_string(dt, g), " (", returned, " candidates, math ", math_name(wanted), ")");
  }
  Choice c;
  c.searched = true;
  c.algo = static_cast<int>(best->algo);
  c.math = best->mathType;
  c.workspace = best->memory;
  c.deterministic = best->determinism == CUDNN_DETERMINISTIC;
  return c;
}

// The workspace of `stream`, grown to at least `bytes`. Growing frees the old buffer first:
// only work on this very stream used it, and the allocator orders the reuse after that work.
Workspace& stream_workspace(DnnState& st, StreamHandle stream, size_t bytes, int device) {
  Workspace& ws = st.workspaces[stream];
  if (ws.bytes < bytes) {
    device_hooks::cuda_free(ws.ptr, device);
    ws = Workspace{};
    ws.ptr = alloc_for_stream(bytes, device, stream);
    ws.bytes = bytes;
  }
  return ws;
}

bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// A locked call on one device: guard, handle on the stream, and the plan of the key.
class DnnCall {
 public:
  DnnCall(int device, StreamHandle stream)
      : guard_(device), st_(dnn_state(device)), lock_(st_.mutex) {
    if (!st_.handle) EBM_CUDNN_CHECK(cudnnCreate(&st_.handle));
    EBM_CUDNN_CHECK(cudnnSetStream(st_.handle, stream));
  }
  DnnState& state() { return st_; }
  Plan& plan(DType dt, const ConvGeom2d& g, bool allow_tf32, bool aligned) {
    if (dt != DType::Float32) allow_tf32 = false;  // no TF32 path for float64
    Key key{g.n, g.c, g.h, g.w, g.co, g.kh, g.kw, g.stride, g.padding, static_cast<int>(dt),
            allow_tf32, aligned};
    std::unique_ptr<Plan>& p = st_.plans[key];
    if (!p) {
      try {
        p = make_plan(dt, g, allow_tf32);
      } catch (...) {
        st_.plans.erase(key);
        throw;
      }
    }
    return *p;
  }

 private:
  DeviceGuard guard_;
  DnnState& st_;
  std::lock_guard<std::mutex> lock_;
};

void check_geom(const char* op, DType dt, const ConvGeom2d& g) {
  EBM_CHECK(g.n >= 1 && g.c >= 1 && g.h >= 1 && g.w >= 1 && g.co >= 1 && g.kh >= 1 && g.kw >= 1 &&
                g.ho >= 1 && g.wo >= 1 && g.stride >= 1 && g.padding >= 0,
            ValueError, op, " (cuda): empty or invalid geometry ", geom_string(dt, g), " -> [",
            g.ho, ",", g.wo, "] (the op entry handles empty tensors)");
}

template <class Ops>
void run_direction(Dir dir, const char* op, DType dt, const ConvGeom2d& g, const Operands& o,
                   bool allow_tf32, int device, StreamHandle stream) {
  check_geom(op, dt, g);
  EBM_CHECK(o.a && o.b && o.out, ValueError, op, " (cuda): null pointer");
  DnnCall call(device, stream);
  Plan& plan = call.plan(dt, g, allow_tf32, aligned16({o.a, o.b, o.out}));
  Choice& choice = plan.choice[dir];
  if (!choice.searched)
    choice = search<Ops>(call.state(), plan, dir, dt, allow_tf32, g, o, device, stream);
  Workspace& ws = stream_workspace(call.state(), stream, choice.workspace, device);
  EBM_CUDNN_CHECK(cudnnSetConvolutionMathType(plan.conv, choice.math));
  const float onef = 1.0f, zerof = 0.0f;
  const double oned = 1.0, zerod = 0.0;
  const bool dbl = dt == DType::Float64;  // cuDNN takes double scaling factors for double data
  EBM_CUDNN_CHECK(Ops::run(call.state().handle, plan, o, choice.algo, ws.ptr, ws.bytes,
                           dbl ? static_cast<const void*>(&oned) : &onef,
                           dbl ? static_cast<const void*>(&zerod) : &zerof));
}

const char* algo_name(int dir, int algo) {
  static const char* const fwd[] = {"IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT",
                                    "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"};
  static const char* const bwd_data[] = {"ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD",
                                         "WINOGRAD_NONFUSED"};
  static const char* const bwd_filter[] = {"ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD",
                                           "WINOGRAD_NONFUSED", "FFT_TILING"};
  if (dir == kForward && algo >= 0 && algo < 8) return fwd[algo];
  if (dir == kBackwardData && algo >= 0 && algo < 6) return bwd_data[algo];
  if (dir == kBackwardFilter && algo >= 0 && algo < 7) return bwd_filter[algo];
  return "?";
}

}  // namespace

void conv2d_forward(DType dtype, const ConvGeom2d& g, const void* x, const void* w, const void* b,
                    void* y, bool allow_tf32, int device, StreamHandle stream) {
  run_direction<ForwardOps>(kForward, "conv2d", dtype, g, Operands{x, w, y}, allow_tf32, device,
                            stream);
  if (!b) return;
  if (dtype == DType::Float32)
    add_channel_bias(static_cast<float*>(y), static_cast<const float*>(b), g.n, g.co,
                     g.ho * g.wo, device, stream);
  else
    add_channel_bias(static_cast<double*>(y), static_cast<const double*>(b), g.n, g.co,
                     g.ho * g.wo, device, stream);
}

void conv2d_backward_data(DType dtype, const ConvGeom2d& g, const void* dy, const void* w,
                          void* dx, bool allow_tf32, int device, StreamHandle stream) {
  run_direction<BackwardDataOps>(kBackwardData, "conv2d_backward_input", dtype, g,
                                 Operands{dy, w, dx}, allow_tf32, device, stream);
}

void conv2d_backward_filter(DType dtype, const ConvGeom2d& g, const void* dy, const void* x,
                            void* dw, bool allow_tf32, int device, StreamHandle stream) {
  run_direction<BackwardFilterOps>(kBackwardFilter, "conv2d_backward_weight", dtype, g,
                                   Operands{dy, x, dw}, allow_tf32, device, stream);
}

void conv2d_backward_bias(DType dtype, const ConvGeom2d& g, const void* dy, void* db, int device,
                          StreamHandle stream) {
  const char* op = "conv2d_backward_bias";
  check_geom(op, dtype, g);
  EBM_CHECK(dy && db, ValueError, op, " (cuda): null pointer");
  DnnCall call(device, stream);
  // The plan only lends its y and bias descriptors; no algorithm is involved.
  Plan& plan = call.plan(dtype, g, false, aligned16({dy, db}));
  const float onef = 1.0f, zerof = 0.0f;
  const double oned = 1.0, zerod = 0.0;
  const bool dbl = dtype == DType::Float64;
  EBM_CUDNN_CHECK(cudnnConvolutionBackwardBias(
      call.state().handle, dbl ? static_cast<const void*>(&oned) : &onef, plan.y, dy,
      dbl ? static_cast<const void*>(&zerod) : &zerof, plan.bias, db));
}

ConvAlgoCacheStats conv_algo_cache_stats(int device) {
  DnnState& st = dnn_state(device);
  std::lock_guard<std::mutex> lock(st.mutex);
  ConvAlgoCacheStats s;
  s.searches = st.searches;
  for (const auto& kv : st.plans)
    for (const Choice& c : kv.second->choice) s.entries += c.searched ? 1 : 0;
  for (const auto& kv : st.workspaces) s.workspace_bytes += kv.second.bytes;
  return s;
}

std::vector<std::string> conv_algo_cache_entries(int device) {
  DnnState& st = dnn_state(device);
  std::lock_guard<std::mutex> lock(st.mutex);
  std::vector<std::string> lines;
  for (const auto& kv : st.plans) {
    const Key& k = kv.first;
    ConvGeom2d g;
    std::tie(g.n, g.c, g.h, g.w, g.co, g.kh, g.kw, g.stride, g.padding, std::ignore, std::ignore,
             std::ignore) = k;
    const DType dt = static_cast<DType>(std::get<9>(k));
    for (int dir = 0; dir < 3; ++dir) {
      const Choice& c = kv.second->choice[static_cast<size_t>(dir)];
      if (!c.searched) continue;
      lines.push_back(str(geom_string(dt, g), std::get<10>(k) ? " tf32" : "",
                          std::get<11>(k) ? "" : " unaligned", " ", kDirName[dir], ": ",
                          algo_name(dir, c.algo), " (", math_name(c.math), ", ",
                          c.deterministic ? "deterministic" : "NON-deterministic", ", ",
                          format_bytes(static_cast<double>(c.workspace)), ")"));
    }
  }
  return lines;
}

}  // namespace ebm::cuda
