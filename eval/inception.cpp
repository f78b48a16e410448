// The FID Inception network (eval/inception.h): torchvision's Inception3 layout with pytorch-fid's
// FID blocks, built from engine modules. Each block mirrors the PyTorch module of the same name
// (tests/reference/fid_inception.py is the replica the goldens come from), registering children in
// torchvision's order so state_dict() lists the names in the weight file's order.
#include "eval/inception.h"

#include <algorithm>
#include <set>

#include "autograd/ops.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"
#include "core/random.h"
#include "nn/batch_norm.h"
#include "nn/layers.h"

namespace ebm::eval {

// A block of the network: a module with one tensor in and one out.
class InceptionBlock : public nn::Module {
 public:
  using nn::Module::Module;
  virtual Tensor forward(const Tensor& x) = 0;
};

namespace {

constexpr double kBnEps = 1e-3;  // torchvision's BasicConv2d (the TF graph's value)
constexpr int64_t kInputSize = 299;

// The "conv" child of BasicConv2d: just the bias-free weight [out, in, kh, kw] under its name.
class ConvWeight : public nn::Module {
 public:
  ConvWeight(int64_t cin, int64_t cout, int64_t kh, int64_t kw, DType dt) : Module("Conv2d") {
    w_ = register_parameter("weight", Tensor::zeros({cout, cin, kh, kw}, dt));
  }
  const Tensor& weight() const { return *w_; }

 private:
  Tensor* w_;
};

struct ConvSpec {
  int64_t cin, cout, kh, kw;
  int stride = 1;
  int pad_h = 0, pad_w = 0;
};

// conv (no bias) -> BatchNorm2d(eps 0.001, eval) -> ReLU, with the batch norm folded into the
// conv's weight and bias at every forward (eval/inception.h).
class BasicConv2d : public InceptionBlock {
 public:
  BasicConv2d(const ConvSpec& s, DType dt) : InceptionBlock("BasicConv2d"), s_(s) {
    conv_ = register_module("conv", std::make_shared<ConvWeight>(s.cin, s.cout, s.kh, s.kw, dt));
    nn::BatchNorm2dOptions bo;
    bo.num_features = s.cout;
    bo.eps = kBnEps;
    bo.dtype = dt;
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm2d>(bo));
  }

  Tensor forward(const Tensor& x) override {
    const auto params = bn_->named_parameters();  // "weight" (gamma), "bias" (beta)
    const Tensor& gamma = params.at(0).second;
    const Tensor& beta = params.at(1).second;
    const Tensor scale = gamma / sqrt(affine(bn_->running_var(), 1.0, kBnEps));
    const Tensor w = conv_->weight() * reshape(scale, {s_.cout, 1, 1, 1});
    const Tensor b = beta - bn_->running_mean() * scale;
    Tensor in = x;
    int pad = s_.pad_h;
    if (s_.pad_h != s_.pad_w) {  // 1xk / kx1: zero-pad explicitly (conv2d pads both dims alike)
      in = zero_pad(in, 2, s_.pad_h);
      in = zero_pad(in, 3, s_.pad_w);
      pad = 0;
    }
    return relu(conv2d(in, w, b, s_.stride, pad));
  }

 private:
  static Tensor zero_pad(const Tensor& x, int dim, int p) {
    if (p == 0) return x;
    Shape zs = x.shape();
    zs[dim] = p;
    const Tensor z = Tensor::zeros(zs, x.dtype(), x.device());
    return concat({z, x, z}, dim);
  }

  ConvSpec s_;
  std::shared_ptr<ConvWeight> conv_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};

// Registers BasicConv2d children by name and runs chains of them.
class MixedBlock : public InceptionBlock {
 protected:
  MixedBlock(const char* type, int64_t div, DType dt) : InceptionBlock(type), div_(div), dt_(dt) {}
  // A branch layer; channel counts are the full network's, divided here (cin as given).
  void add(const std::string& name, int64_t cin, int64_t cout, int64_t kh, int64_t kw,
           int stride = 1, int pad_h = 0, int pad_w = 0) {
    convs_.emplace_back(name, register_module(name, std::make_shared<BasicConv2d>(
                                                        ConvSpec{cin, cout / div_, kh, kw, stride,
                                                                 pad_h, pad_w},
                                                        dt_)));
  }
  int64_t ch(int64_t c) const { return c / div_; }
  Tensor run(const std::string& name, const Tensor& x) {
    for (auto& [n, m] : convs_)
      if (n == name) return m->forward(x);
    EBM_THROW(ValueError, "FidInceptionV3: no layer ", name, " in ", type_name());
  }
  Tensor chain(std::initializer_list<const char*> names, Tensor x) {
    for (const char* n : names) x = run(n, x);
    return x;
  }
  static Tensor avg3(const Tensor& x) { return avg_pool2d(x, 3, 1, 1, /*count_include_pad=*/false); }

 private:
  int64_t div_;
  DType dt_;
  std::vector<std::pair<std::string, std::shared_ptr<BasicConv2d>>> convs_;
};

// FIDInceptionA (Mixed_5b-5d).
class InceptionA : public MixedBlock {
 public:
  InceptionA(int64_t cin, int64_t pool_features, int64_t d, DType dt) : MixedBlock("FIDInceptionA", d, dt) {
    add("branch1x1", cin, 64, 1, 1);
    add("branch5x5_1", cin, 48, 1, 1);
    add("branch5x5_2", ch(48), 64, 5, 5, 1, 2, 2);
    add("branch3x3dbl_1", cin, 64, 1, 1);
    add("branch3x3dbl_2", ch(64), 96, 3, 3, 1, 1, 1);
    add("branch3x3dbl_3", ch(96), 96, 3, 3, 1, 1, 1);
    add("branch_pool", cin, pool_features, 1, 1);
  }
  Tensor forward(const Tensor& x) override {
    return concat({run("branch1x1", x), chain({"branch5x5_1", "branch5x5_2"}, x),
                   chain({"branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"}, x),
                   run("branch_pool", avg3(x))},
                  1);
  }
};

// InceptionB (Mixed_6a), as torchvision.
class InceptionB : public MixedBlock {
 public:
  InceptionB(int64_t cin, int64_t d, DType dt) : MixedBlock("InceptionB", d, dt) {
    add("branch3x3", cin, 384, 3, 3, 2);
    add("branch3x3dbl_1", cin, 64, 1, 1);
    add("branch3x3dbl_2", ch(64), 96, 3, 3, 1, 1, 1);
    add("branch3x3dbl_3", ch(96), 96, 3, 3, 2);
  }
  Tensor forward(const Tensor& x) override {
    return concat({run("branch3x3", x),
                   chain({"branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"}, x),
                   max_pool2d(x, 3, 2)},
                  1);
  }
};

// FIDInceptionC (Mixed_6b-6e).
class InceptionC : public MixedBlock {
 public:
  InceptionC(int64_t cin, int64_t c7, int64_t d, DType dt) : MixedBlock("FIDInceptionC", d, dt) {
    add("branch1x1", cin, 192, 1, 1);
    add("branch7x7_1", cin, c7, 1, 1);
    add("branch7x7_2", ch(c7), c7, 1, 7, 1, 0, 3);
    add("branch7x7_3", ch(c7), 192, 7, 1, 1, 3, 0);
    add("branch7x7dbl_1", cin, c7, 1, 1);
    add("branch7x7dbl_2", ch(c7), c7, 7, 1, 1, 3, 0);
    add("branch7x7dbl_3", ch(c7), c7, 1, 7, 1, 0, 3);
    add("branch7x7dbl_4", ch(c7), c7, 7, 1, 1, 3, 0);
    add("branch7x7dbl_5", ch(c7), 192, 1, 7, 1, 0, 3);
    add("branch_pool", cin, 192, 1, 1);
  }
  Tensor forward(const Tensor& x) override {
    return concat({run("branch1x1", x), chain({"branch7x7_1", "branch7x7_2", "branch7x7_3"}, x),
                   chain({"branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3", "branch7x7dbl_4",
                          "branch7x7dbl_5"},
                         x),
                   run("branch_pool", avg3(x))},
                  1);
  }
};

// InceptionD (Mixed_7a), as torchvision.
class InceptionD : public MixedBlock {
 public:
  InceptionD(int64_t cin, int64_t d, DType dt) : MixedBlock("InceptionD", d, dt) {
    add("branch3x3_1", cin, 192, 1, 1);
    add("branch3x3_2", ch(192), 320, 3, 3, 2);
    add("branch7x7x3_1", cin, 192, 1, 1);
    add("branch7x7x3_2", ch(192), 192, 1, 7, 1, 0, 3);
    add("branch7x7x3_3", ch(192), 192, 7, 1, 1, 3, 0);
    add("branch7x7x3_4", ch(192), 192, 3, 3, 2);
  }
  Tensor forward(const Tensor& x) override {
    return concat({chain({"branch3x3_1", "branch3x3_2"}, x),
                   chain({"branch7x7x3_1", "branch7x7x3_2", "branch7x7x3_3", "branch7x7x3_4"}, x),
                   max_pool2d(x, 3, 2)},
                  1);
  }
};

// FIDInceptionE_1 (Mixed_7b: average pool without padding in the count) and FIDInceptionE_2
// (Mixed_7c: max pool).
class InceptionE : public MixedBlock {
 public:
  InceptionE(int64_t cin, int64_t d, bool max_pool, DType dt)
      : MixedBlock(max_pool ? "FIDInceptionE_2" : "FIDInceptionE_1", d, dt), max_pool_(max_pool) {
    add("branch1x1", cin, 320, 1, 1);
    add("branch3x3_1", cin, 384, 1, 1);
    add("branch3x3_2a", ch(384), 384, 1, 3, 1, 0, 1);
    add("branch3x3_2b", ch(384), 384, 3, 1, 1, 1, 0);
    add("branch3x3dbl_1", cin, 448, 1, 1);
    add("branch3x3dbl_2", ch(448), 384, 3, 3, 1, 1, 1);
    add("branch3x3dbl_3a", ch(384), 384, 1, 3, 1, 0, 1);
    add("branch3x3dbl_3b", ch(384), 384, 3, 1, 1, 1, 0);
    add("branch_pool", cin, 192, 1, 1);
  }
  Tensor forward(const Tensor& x) override {
    const Tensor b = run("branch3x3_1", x);
    const Tensor c = chain({"branch3x3dbl_1", "branch3x3dbl_2"}, x);
    const Tensor p = max_pool_ ? max_pool2d(x, 3, 1, 1) : avg3(x);
    return concat({run("branch1x1", x),
                   concat({run("branch3x3_2a", b), run("branch3x3_2b", b)}, 1),
                   concat({run("branch3x3dbl_3a", c), run("branch3x3dbl_3b", c)}, 1),
                   run("branch_pool", p)},
                  1);
  }

 private:
  bool max_pool_;
};

}  // namespace

FidInceptionV3::FidInceptionV3(const InceptionOptions& o) : nn::Module("FidInceptionV3"), options_(o) {
  const int64_t d = o.width_divisor;
  EBM_CHECK(d >= 1 && 32 % d == 0, ValueError,
            "FidInceptionV3: width_divisor must divide every channel count (1, 2, 4, 8, 16 or 32), "
            "got ", d);
  EBM_CHECK(o.num_classes >= 1, ValueError, "FidInceptionV3: num_classes must be >= 1, got ",
            o.num_classes);
  EBM_CHECK(o.dtype == DType::Float32 || o.dtype == DType::Float64, DTypeError,
            "FidInceptionV3: dtype must be float32 or float64, got ", dtype_name(o.dtype));
  const DType dt = o.dtype;
  auto conv = [&](const char* name, int64_t cin, int64_t cout, int64_t k, int stride, int pad) {
    stem_.push_back(register_module(
        name, std::make_shared<BasicConv2d>(ConvSpec{cin, cout / d, k, k, stride, pad, pad}, dt)));
  };
  conv("Conv2d_1a_3x3", 3, 32, 3, 2, 0);
  conv("Conv2d_2a_3x3", 32 / d, 32, 3, 1, 0);
  conv("Conv2d_2b_3x3", 32 / d, 64, 3, 1, 1);
  conv("Conv2d_3b_1x1", 64 / d, 80, 1, 1, 0);
  conv("Conv2d_4a_3x3", 80 / d, 192, 3, 1, 0);
  auto mixed = [&](const char* name, std::shared_ptr<InceptionBlock> b) {
    mixed_.push_back(register_module(name, std::move(b)));
  };
  mixed("Mixed_5b", std::make_shared<InceptionA>(192 / d, 32, d, dt));
  mixed("Mixed_5c", std::make_shared<InceptionA>(256 / d, 64, d, dt));
  mixed("Mixed_5d", std::make_shared<InceptionA>(288 / d, 64, d, dt));
  mixed("Mixed_6a", std::make_shared<InceptionB>(288 / d, d, dt));
  mixed("Mixed_6b", std::make_shared<InceptionC>(768 / d, 128, d, dt));
  mixed("Mixed_6c", std::make_shared<InceptionC>(768 / d, 160, d, dt));
  mixed("Mixed_6d", std::make_shared<InceptionC>(768 / d, 160, d, dt));
  mixed("Mixed_6e", std::make_shared<InceptionC>(768 / d, 192, d, dt));
  mixed("Mixed_7a", std::make_shared<InceptionD>(768 / d, d, dt));
  mixed("Mixed_7b", std::make_shared<InceptionE>(1280 / d, d, false, dt));
  mixed("Mixed_7c", std::make_shared<InceptionE>(2048 / d, d, true, dt));
  nn::LinearOptions lo;
  lo.in_features = 2048 / d;
  lo.out_features = o.num_classes;
  lo.dtype = dt;
  Generator gen(0);  // placeholder initialisation; load_weights() overwrites it
  fc_ = register_module("fc", std::make_shared<nn::Linear>(lo, gen));
  eval();
}

FidInceptionV3::~FidInceptionV3() = default;

int64_t FidInceptionV3::feature_dim() const { return 2048 / options_.width_divisor; }

std::string FidInceptionV3::description() const {
  std::string s =
      "FID Inception v3 (pytorch-fid's port of the 2015 TF graph, pt_inception-2015-12-05): "
      "pool3 features (" + std::to_string(feature_dim()) + "-d), " +
      std::to_string(options_.num_classes) + "-class logits";
  if (options_.width_divisor != 1)
    s += ", channels divided by " + std::to_string(options_.width_divisor) + " (test network)";
  return s;
}

std::string FidInceptionV3::preprocessing() const {
  std::string s = "1-channel images repeated to 3";
  if (options_.resize_input)
    s += "; bilinear resize to 299x299 (torch F.interpolate, align_corners=False, no antialias)";
  if (options_.normalize_input) s += "; [0, 1] -> [-1, 1] by 2x - 1";
  return s + " (pytorch-fid)";
}

void FidInceptionV3::load_weights(const std::string& path) {
  const SafetensorsHeader header = read_safetensors_header(path);
  std::set<std::string> in_file;
  std::set<std::string> f64;
  for (const auto& e : header.entries) {
    in_file.insert(e.name);
    if (e.dtype == "F64") f64.insert(e.name);
  }
  // Every name this network has, with num_batches_tracked only where the file has it (eval
  // never reads it); float tensors may be stored as float32 or float64.
  ExpectedTensors expected;
  const std::string nbt = ".num_batches_tracked";
  for (const auto& [name, t] : state_dict()) {
    const bool is_nbt = name.size() > nbt.size() && name.compare(name.size() - nbt.size(), nbt.size(), nbt) == 0;
    if (is_nbt && !in_file.count(name)) continue;
    TensorSpec spec = TensorSpec::of(t);
    if (!is_nbt) spec.dtype = f64.count(name) ? DType::Float64 : DType::Float32;
    expected.emplace_back(name, spec);
  }
  SafetensorsFile file = read_safetensors_checked(path, expected, /*strict=*/true);
  nn::StateDict sd;
  for (auto& [name, t] : file.tensors)
    sd.emplace_back(name, t.dtype() == DType::Int64 ? t : t.to(options_.dtype));
  load_state_dict(sd, /*strict=*/false);  // names were checked strictly above
  weights_sha256_ = io::sha256_file_hex(path);
}

std::unique_ptr<FidInceptionV3> FidInceptionV3::from_file(const std::string& path,
                                                          const InceptionOptions& options,
                                                          Device device) {
  auto net = std::make_unique<FidInceptionV3>(options);
  net->load_weights(path);
  net->to(device);
  return net;
}

Tensor FidInceptionV3::prepare_input(const Tensor& images) const {
  const char* op = "FidInceptionV3";
  check_defined(images, op, "images");
  check_float(images, op, "images");
  EBM_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3), ShapeError, op,
            ": images must be [N, 1 or 3, H, W] in [0, 1], got ", images.description());
  EBM_CHECK(options_.resize_input || (images.size(2) >= 75 && images.size(3) >= 75), ShapeError,
            op, ": without resizing, images must be at least 75x75, got ", images.description());
  Tensor x = images.to(device()).to(options_.dtype);
  if (x.size(1) == 1) x = concat({x, x, x}, 1);
  if (options_.resize_input) x = resize_bilinear2d(x, kInputSize, kInputSize);
  if (options_.normalize_input) x = affine(x, 2.0, -1.0);
  return x;
}

std::vector<std::pair<std::string, Tensor>> FidInceptionV3::forward_blocks(const Tensor& images) {
  NoGradGuard no_grad;
  std::vector<std::pair<std::string, Tensor>> out;
  Tensor x = prepare_input(images);
  out.emplace_back("input", x);
  for (size_t i = 0; i < stem_.size(); ++i) {
    x = stem_[i]->forward(x);
    if (i == 2 || i == 4) x = max_pool2d(x, 3, 2);  // after Conv2d_2b_3x3 and Conv2d_4a_3x3
  }
  static const char* kNames[] = {"Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                                 "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                                 "Mixed_7a", "Mixed_7b", "Mixed_7c"};
  for (size_t i = 0; i < mixed_.size(); ++i) {
    x = mixed_[i]->forward(x);
    const std::string name = kNames[i];
    if (name == "Mixed_5d" || name == "Mixed_6e" || name == "Mixed_7c") out.emplace_back(name, x);
  }
  const Tensor pool3 = mean(x, {2, 3});
  out.emplace_back("pool3", pool3);
  out.emplace_back("logits", fc_->forward(pool3));
  return out;
}

FeatureOutputs FidInceptionV3::forward(const Tensor& images, bool want_logits) {
  NoGradGuard no_grad;
  Tensor x = prepare_input(images);
  for (size_t i = 0; i < stem_.size(); ++i) {
    x = stem_[i]->forward(x);
    if (i == 2 || i == 4) x = max_pool2d(x, 3, 2);
  }
  for (auto& m : mixed_) x = m->forward(x);
  FeatureOutputs r;
  r.features = mean(x, {2, 3});
  if (want_logits) r.logits = fc_->forward(r.features);
  return r;
}

}  // namespace ebm::eval
