// The classifier feature network's architecture and input handling (see classifier_features.h).
#include "eval/classifier_features.h"

#include <cstdio>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/io/sha256.h"
#include "nn/checkpoint.h"

namespace ebm::eval {

nn::WrnOptions ClassifierArch::wrn_options() const {
  nn::WrnOptions o;
  o.depth = depth;
  o.widen_factor = widen_factor;
  o.base_width = base_width;
  o.in_channels = in_channels;
  o.num_classes = num_classes;
  o.norm = nn::WrnNorm::Batch;
  o.bn_momentum = 0.1;  // torch's default (JEM's 0.9 is a quirk of its code, not wanted here)
  o.dropout = 0.0;
  o.time_embedding = false;
  return o;
}

json::Value ClassifierArch::to_json() const {
  json::Value v = json::Value::object();
  v.set("format", kClassifierFormat);
  v.set("network", "wrn");
  v.set("depth", depth);
  v.set("widen_factor", widen_factor);
  v.set("base_width", base_width);
  v.set("in_channels", in_channels);
  v.set("num_classes", num_classes);
  v.set("image_size", image_size);
  v.set("input", "[0,1] pixels k/255; 28x28 zero-padded to 32x32");
  return v;
}

ClassifierArch ClassifierArch::from_json(const json::Value& v) {
  const json::Value* f = v.find("format");
  EBM_CHECK(f && f->is_string() && f->as_string() == kClassifierFormat, ValueError,
            "classifier: config format must be '", kClassifierFormat, "' (a file written by "
            "classifier_train), got ", f ? json::dump(*f) : std::string("none"));
  ClassifierArch a;
  a.depth = v.at("depth").as_int();
  a.widen_factor = v.at("widen_factor").as_int();
  a.base_width = v.at("base_width").as_int();
  a.in_channels = v.at("in_channels").as_int();
  a.num_classes = v.at("num_classes").as_int();
  a.image_size = v.at("image_size").as_int();
  EBM_CHECK(a.image_size == 32, ValueError, "classifier: image_size must be 32, got ", a.image_size);
  return a;
}

std::shared_ptr<nn::WideResNet> make_classifier(const ClassifierArch& arch, Generator& gen) {
  return std::make_shared<nn::WideResNet>(arch.wrn_options(), gen);
}

Tensor classifier_input(const Tensor& images, const ClassifierArch& arch) {
  EBM_CHECK(images.defined() && images.dim() == 4 && images.size(1) == arch.in_channels &&
                (images.size(2) == 32 || images.size(2) == 28) && images.size(3) == images.size(2),
            ShapeError, "classifier features: images must be [N, ", arch.in_channels,
            ", 32, 32] or [N, ", arch.in_channels, ", 28, 28] in [0, 1], got ",
            images.defined() ? images.description() : std::string("an undefined tensor"));
  Tensor x = images.dtype() == DType::Float32 ? images : images.to(DType::Float32);
  if (x.size(2) == 32) return x;
  // 28 -> 32: zero border of 2 (host copy; the evaluation's batches are small next to the network).
  const int64_t n = x.size(0), c = x.size(1);
  std::vector<float> src = x.to_vector<float>(), dst(static_cast<size_t>(n * c * 32 * 32), 0.0f);
  for (int64_t p = 0; p < n * c; ++p)
    for (int64_t y = 0; y < 28; ++y)
      for (int64_t i = 0; i < 28; ++i) dst[(p * 32 + y + 2) * 32 + i + 2] = src[(p * 28 + y) * 28 + i];
  return Tensor::from_vector(dst, Shape{n, c, 32, 32}).to(images.device());
}

std::unique_ptr<ClassifierFeatures> ClassifierFeatures::from_file(const std::string& path, Device device) {
  nn::Checkpoint c = nn::Checkpoint::load(path);
  ClassifierArch arch;
  try {
    arch = ClassifierArch::from_json(c.config);
  } catch (const Error& e) {
    EBM_THROW(ValueError, "classifier file '", path, "': ", e.message());
  }
  Generator gen(0);  // placeholder init; every tensor is overwritten by the file's
  auto model = make_classifier(arch, gen);
  nn::load_model_from_checkpoint(*model, c, path);
  model->to(device);
  return std::make_unique<ClassifierFeatures>(model, arch, io::sha256_file_hex(path), c.config);
}

ClassifierFeatures::ClassifierFeatures(std::shared_ptr<nn::WideResNet> model, const ClassifierArch& arch,
                                       std::string weights_sha256, json::Value info)
    : model_(std::move(model)), arch_(arch), sha256_(std::move(weights_sha256)), info_(std::move(info)) {
  model_->eval();
}

FeatureOutputs ClassifierFeatures::forward(const Tensor& images, bool want_logits) {
  NoGradGuard no_grad;
  model_->eval();
  Tensor x = classifier_input(images, arch_).to(model_->device());
  FeatureOutputs out;
  out.features = model_->features(x);
  if (want_logits) out.logits = model_->forward(x, Tensor());  // the head on the same features
  return out;
}

std::string ClassifierFeatures::description() const {
  char b[320];
  std::snprintf(b, sizeof b, "WRN-%lld-%lld (base width %lld, batch norm, LReLU 0.2, %lld parameters) "
                "classifier; features: %lld-d global average pool after the last BN+LReLU (penultimate "
                "layer); logits: %lld classes",
                static_cast<long long>(arch_.depth), static_cast<long long>(arch_.widen_factor),
                static_cast<long long>(arch_.base_width), static_cast<long long>(model_->num_parameters()),
                static_cast<long long>(model_->last_dim()), static_cast<long long>(arch_.num_classes));
  std::string s = b;
  if (const json::Value* d = info_.find("dataset")) s += "; trained on " + d->as_string();
  if (const json::Value* a = info_.find("test_accuracy")) {
    std::snprintf(b, sizeof b, " (test accuracy %.4f)", a->as_double());
    s += b;
  }
  return s;
}

std::string ClassifierFeatures::preprocessing() const {
  return "none on 32x32 [0,1] images; 28x28 zero-padded to 32x32 (centred, as the training data)";
}

}  // namespace ebm::eval
