// ebm_eval's run: generation, features, reference statistics with their cache, metrics, and the
// protocol record (see evaluator.h).
#include "apps/eval/evaluator.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "apps/common/progress.h"
#include "apps/eval/image_sets.h"
#include "core/io/atomic_file.h"
#include "core/io/image_grid.h"
#include "core/io/npz.h"
#include "core/io/png.h"
#include "core/io/sha256.h"
#include "eval/classifier_features.h"
#include "eval/inception.h"
#include "eval/metrics.h"

#ifndef EBM_VERSION
#define EBM_VERSION "unknown"
#endif

namespace ebm::app {

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A float tensor as a .npz member (float64 or float32 bytes, C order).
NpyArray npy_of(const Tensor& t) {
  NpyArray a;
  a.type = t.dtype() == DType::Float64 ? NpyType::Float64 : NpyType::Float32;
  for (int i = 0; i < t.dim(); ++i) a.shape.push_back(t.size(i));
  Tensor h = t.to(Device::cpu());
  a.data.resize(h.nbytes());
  std::memcpy(a.data.data(), h.data_ptr(), h.nbytes());
  return a;
}

struct Features {
  Tensor features;  // float32 [N, d] on the CPU
  Tensor logits;    // float32 [N, K] on the CPU, or undefined
};

Features extract(eval::FeatureNetwork& net, const ImageSet& s, int64_t batch, bool want_logits, Device device) {
  std::vector<float> f, l;
  for (int64_t b = 0; b < s.count; b += batch) {
    eval::FeatureOutputs o = net.forward(s.batch(b, std::min(s.count, b + batch), device), want_logits);
    std::vector<float> fb = o.features.to_vector<float>();
    f.insert(f.end(), fb.begin(), fb.end());
    if (want_logits) {
      std::vector<float> lb = o.logits.to_vector<float>();
      l.insert(l.end(), lb.begin(), lb.end());
    }
  }
  Features out;
  out.features = Tensor::from_vector(f, Shape{s.count, net.feature_dim()});
  if (want_logits) out.logits = Tensor::from_vector(l, Shape{s.count, net.num_classes()});
  return out;
}

json::Value network_record(eval::FeatureNetwork& net, const std::string& path) {
  json::Value v = json::Value::object();
  v.set("name", net.name());
  v.set("description", net.description());
  v.set("preprocessing", net.preprocessing());
  v.set("feature_dim", net.feature_dim());
  v.set("weights_file", path);
  v.set("weights_sha256", net.weights_sha256());
  return v;
}

// The reference side of FID / KID for one feature network.
struct Reference {
  eval::GaussianStats stats;
  Tensor features;  // undefined when only mu/sigma are known
  json::Value info = json::Value::object();
};

class Evaluator {
 public:
  explicit Evaluator(const EvalConfig& c) : cfg_(c), device_(Device::parse(c.device)) {}

  EvalOutcome run() {
    const auto t0 = std::chrono::steady_clock::now();
    fs::create_directories(cfg_.out);
    rec_ = json::Value::object();
    rec_.set("engine", "ebm " EBM_VERSION);
    rec_.set("app", "ebm_eval");
    rec_.set("device", device_.to_string());
    rec_.set("seed", cfg_.seed);
    if (!cfg_.checkpoint.empty()) generate();
    else score_images();
    rec_.set("num_samples", scored_.count);
    rec_.set("image_shape", json::Value(json::Value::Array{scored_.channels, scored_.height, scored_.width}));
    rec_.set("scored_pixels_sha256", scored_.pixels_sha256);
    results_ = json::Value::object();
    metrics_ = json::Value::object();
    if (cfg_.wants("classifier_fid") || cfg_.wants("classifier_is") || cfg_.wants("classifier_kid")) {
      auto net = eval::ClassifierFeatures::from_file(cfg_.classifier, device_);
      feature_metrics(*net, cfg_.classifier, "classifier_");
    }
    if (cfg_.wants("fid") || cfg_.wants("is") || cfg_.wants("kid")) {
      auto net = eval::FidInceptionV3::from_file(cfg_.inception, eval::InceptionOptions{}, device_);
      feature_metrics(*net, cfg_.inception, "");
    }
    if (cfg_.wants("ood_auroc")) ood();
    rec_.set("metrics", metrics_);
    rec_.set("results", results_);
    rec_.set("seconds", seconds_since(t0));
    EvalOutcome out;
    out.json_path = cfg_.out + "/eval.json";
    json::DumpOptions o;
    o.indent = 2;
    write_file_atomic(out.json_path, json::dump(rec_, o) + "\n");
    out.record = rec_;
    out.summary = summary_;
    return out;
  }

 private:
  void write_grid(const std::string& name) {
    const int64_t n = std::min(cfg_.grid_size, scored_.count);
    const int cols = std::max(1, static_cast<int>(std::lround(std::ceil(std::sqrt(static_cast<double>(n))))));
    io::write_png(cfg_.out + "/" + name, io::make_grid(scored_.batch(0, n, Device::cpu()), 0.0, 1.0, cols));
  }

  void generate() {
    model_ = load_eval_model(cfg_.checkpoint, cfg_.sampler, cfg_.device);
    json::Value src = model_->info();
    src.set("kind", "checkpoint");
    rec_.set("source", src);
    rec_.set("sampler", model_->sampler_settings());
    rec_.set("ema", model_->ema());
    rec_.set("uint8_quantization", model_->quantize() == io::Quantize::Truncate ? "truncate" : "round");
    auto [lo, hi] = model_->pixel_range();
    Generator gen(static_cast<uint64_t>(cfg_.seed) * 0x9E3779B97F4A7C15ull + 0xE7A1);
    const int64_t n = cfg_.num_samples, batches = (n + cfg_.batch_size - 1) / cfg_.batch_size;
    std::printf("ebm_eval: %lld samples from %s (%s, step %lld) on %s, %lld batches\n", static_cast<long long>(n),
                src.at("path").as_string().c_str(), model_->recipe().c_str(),
                static_cast<long long>(src.at("step").as_int()), device_.to_string().c_str(),
                static_cast<long long>(batches));
    std::fflush(stdout);
    Progress progress(0, batches, cfg_.batch_size, std::max<int64_t>(1, batches / 10));
    progress.set_value_name("mean E");
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<uint8_t> nhwc;
    for (int64_t b = 0; b < batches; ++b) {
      const int64_t first = b * cfg_.batch_size, m = std::min(cfg_.batch_size, n - first);
      Tensor x = model_->sample(first, m, gen);
      std::vector<uint8_t> q = io::to_uint8_nhwc(x, lo, hi, model_->quantize());
      nhwc.insert(nhwc.end(), q.begin(), q.end());
      double mean_e = 0;
      for (float e : model_->energy(x).to_vector<float>()) mean_e += e / static_cast<double>(m);
      progress.update(b + 1, mean_e, "");
    }
    progress.finish();
    const int64_t c = model_->channels(), s = model_->image_size();
    io::write_npz(cfg_.out + "/samples.npz", {{"arr_0", io::uint8_images(nhwc, n, s, s, c)}});
    // The scored set is exactly what samples.npz holds.
    scored_ = load_npz_images(cfg_.out + "/samples.npz");
    scored_.description = std::to_string(n) + " samples of the checkpoint (" + cfg_.out + "/samples.npz)";
    write_grid("samples.png");
    json::Value outputs = json::Value::object();
    outputs.set("samples_npz", cfg_.out + "/samples.npz");
    outputs.set("grid_png", cfg_.out + "/samples.png");
    rec_.set("outputs", outputs);
    rec_.set("generation_seconds", seconds_since(t0));
  }

  void score_images() {
    int64_t ch = cfg_.images_channels;
    scored_ = load_image_spec(cfg_.images, cfg_.data_dir, cfg_.limit, ch == 0 ? 3 : ch);
    json::Value src = json::Value::object();
    src.set("kind", "images");
    src.set("spec", cfg_.images);
    src.set("description", scored_.description);
    if (fs::is_regular_file(cfg_.images)) src.set("file_sha256", io::sha256_file_hex(cfg_.images));
    rec_.set("source", src);
    rec_.set("sampler", "none: images given with --images");
    rec_.set("ema", "n/a");
    write_grid("images.png");
    json::Value outputs = json::Value::object();
    outputs.set("grid_png", cfg_.out + "/images.png");
    rec_.set("outputs", outputs);
    std::printf("ebm_eval: scoring %s\n", scored_.description.c_str());
    std::fflush(stdout);
  }

  // The reference images (loaded once, at the scored images' size).
  const ImageSet& reference_images() {
    if (ref_loaded_) return ref_;
    std::string name = cfg_.ref_dataset, dir = cfg_.ref_data_dir;
    if (name.empty()) {
      EBM_CHECK(model_, ValueError, "ebm_eval: give --ref-dataset (and --ref-data-dir) or --ref-stats: "
                "images given with --images have no training set to compare with");
      name = model_->dataset();
      if (dir.empty()) dir = model_->data_dir();
    }
    ref_ = load_dataset_images(name, dir, cfg_.ref_split == "train", cfg_.ref_limit, scored_.height,
                               scored_.channels);
    EBM_CHECK(ref_.channels == scored_.channels && ref_.height == scored_.height && ref_.width == scored_.width,
              ValueError, "ebm_eval: the reference images are ", ref_.channels, "x", ref_.height, "x", ref_.width,
              " but the scored ones ", scored_.channels, "x", scored_.height, "x", scored_.width);
    ref_name_ = name;
    ref_loaded_ = true;
    return ref_;
  }

  Reference reference(eval::FeatureNetwork& net, bool need_features) {
    Reference r;
    if (!cfg_.ref_stats.empty()) {
      r.stats = eval::load_stats_npz(cfg_.ref_stats);
      for (auto& [k, a] : io::read_npz(cfg_.ref_stats))
        if (k == "features") r.features = npy_array_to_tensor(a, cfg_.ref_stats);
      EBM_CHECK(!need_features || r.features.defined(), ValueError, "ebm_eval: KID needs the reference features, and --ref-stats '",
                cfg_.ref_stats, "' holds only mu/sigma (leave out --ref-stats to compute them from a dataset)");
      r.info.set("stats_file", cfg_.ref_stats);
      r.info.set("stats_sha256", io::sha256_file_hex(cfg_.ref_stats));
      r.info.set("size", r.features.defined() ? json::Value(r.features.size(0)) : json::Value("unknown (given statistics)"));
      r.info.set("cached", "given with --ref-stats");
      return r;
    }
    const ImageSet& ref = reference_images();
    std::string key = io::sha256_hex(net.name() + "|" + net.weights_sha256() + "|" + net.preprocessing() + "|" +
                                     ref.pixels_sha256).substr(0, 16);
    std::string file = cfg_.ref_cache + "/" + net.name() + "_" + ref_name_ + "_" + cfg_.ref_split + "_" +
                       std::to_string(ref.count) + "_" + key + ".npz";
    r.info.set("dataset", ref_name_);
    r.info.set("split", cfg_.ref_split);
    r.info.set("size", ref.count);
    r.info.set("description", ref.description);
    r.info.set("pixels_sha256", ref.pixels_sha256);
    r.info.set("stats_file", file);
    if (fs::is_regular_file(file)) {
      r.stats = eval::load_stats_npz(file);
      for (auto& [k, a] : io::read_npz(file))
        if (k == "features") r.features = npy_array_to_tensor(a, file);
      r.info.set("cached", true);
      return r;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::printf("ebm_eval: reference statistics of %s with %s (cached afterwards in %s)\n", ref.description.c_str(),
                net.name().c_str(), file.c_str());
    std::fflush(stdout);
    r.features = extract(net, ref, cfg_.batch_size, false, device_).features;
    r.stats = eval::feature_stats(r.features);
    fs::create_directories(cfg_.ref_cache);
    io::write_npz(file, {{"mu", npy_of(r.stats.mu)}, {"sigma", npy_of(r.stats.sigma)}, {"features", npy_of(r.features)}});
    r.info.set("cached", false);
    r.info.set("seconds", seconds_since(t0));
    return r;
  }

  void feature_metrics(eval::FeatureNetwork& net, const std::string& path, const std::string& prefix) {
    const bool want_fid = cfg_.wants(prefix + "fid"), want_is = cfg_.wants(prefix + "is"),
               want_kid = cfg_.wants(prefix + "kid");
    EBM_CHECK(!want_is || net.num_classes() > 0, ValueError, "ebm_eval: ", prefix + "is needs logits, and ",
              net.name(), " has no classifier head");
    const auto t0 = std::chrono::steady_clock::now();
    Features f = extract(net, scored_, cfg_.batch_size, want_is, device_);
    json::Value netrec = network_record(net, path);
    if (want_fid || want_kid) {
      Reference ref = reference(net, want_kid);
      if (want_fid) {
        eval::FidResult fr = eval::frechet_distance(eval::feature_stats(f.features), ref.stats);
        json::Value m = json::Value::object();
        m.set("value", fr.fid);
        m.set("mean_term", fr.mean_term);
        m.set("trace_term", fr.trace_term);
        m.set("method", "eigh: tr sqrt(S1 S2) from the eigenvalues of sqrt(S1) S2 sqrt(S1), float64; negative "
                        "eigenvalues from rounding set to 0 (eval/metrics.h)");
        m.set("clamped_eigenvalues", fr.clamped_eigenvalues);
        m.set("num_samples", scored_.count);
        m.set("feature_network", netrec);
        m.set("reference", ref.info);
        metrics_.set(prefix + "fid", m);
        results_.set(prefix + "fid", fr.fid);
        line(prefix + "fid", fr.fid, "");
      }
      if (want_kid) {
        eval::KidOptions ko;
        ko.subsets = cfg_.kid_subsets;
        ko.subset_size = cfg_.kid_subset_size;
        ko.seed = static_cast<uint64_t>(cfg_.seed);
        eval::KidResult kr = eval::kernel_inception_distance(f.features, ref.features, ko);
        json::Value m = json::Value::object();
        m.set("value", kr.mean);
        m.set("std", kr.std);
        m.set("subsets", kr.subsets);
        m.set("subset_size", kr.subset_size);
        m.set("kernel", "(x.y/d + 1)^3, unbiased MMD^2 per subset");
        m.set("num_samples", scored_.count);
        m.set("feature_network", netrec);
        m.set("reference", ref.info);
        metrics_.set(prefix + "kid", m);
        results_.set(prefix + "kid", kr.mean);
        line(prefix + "kid", kr.mean, "+- " + std::to_string(kr.std));
      }
    }
    if (want_is) {
      eval::InceptionScoreResult ir = eval::inception_score_from_logits(f.logits, static_cast<int>(cfg_.is_splits));
      json::Value m = json::Value::object();
      m.set("value", ir.mean);
      m.set("std", ir.std);
      m.set("splits", static_cast<int64_t>(ir.splits));
      m.set("classes", net.num_classes());
      m.set("num_samples", scored_.count);
      m.set("feature_network", netrec);
      metrics_.set(prefix + "is", m);
      results_.set(prefix + "is", ir.mean);
      line(prefix + "is", ir.mean, "+- " + std::to_string(ir.std));
    }
    (void)t0;
  }

  void ood() {
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t s = model_->image_size(), c = model_->channels();
    ImageSet id = load_dataset_images(model_->dataset(), model_->data_dir(), cfg_.id_split == "train", cfg_.ood_limit, s, c);
    ImageSet od = load_dataset_images(cfg_.ood_dataset, cfg_.ood_data_dir, cfg_.ood_split == "train", cfg_.ood_limit, s, c);
    EBM_CHECK(od.channels == c && od.height == s && od.width == s, ValueError, "ebm_eval: --ood-dataset images are ",
              od.channels, "x", od.height, "x", od.width, ", the model takes ", c, "x", s, "x", s);
    const data::PixelScale scale = model_->data_scale();
    auto scores = [&](const ImageSet& set) {
      std::vector<double> out;
      for (int64_t b = 0; b < set.count; b += cfg_.batch_size) {
        Tensor x = set.batch(b, std::min(set.count, b + cfg_.batch_size), Device::cpu());
        if (scale != data::PixelScale::Unit255) {  // k/255 -> the model's data scale
          std::vector<float> v = x.to_vector<float>();
          for (float& p : v) {
            const float k = std::round(p * 255.0f);
            p = scale == data::PixelScale::Dequantized256 ? (k + 0.5f) / 256.0f : k / 127.5f - 1.0f;
          }
          x = Tensor::from_vector(v, x.shape());
        }
        for (float e : model_->energy(x.to(device_)).to_vector<float>()) out.push_back(-static_cast<double>(e));
      }
      return out;
    };
    std::vector<double> sid = scores(id), sod = scores(od);
    double a = eval::auroc(sid, sod);
    auto mean = [](const std::vector<double>& v) {
      double m = 0;
      for (double x : v) m += x / static_cast<double>(v.size());
      return m;
    };
    json::Value m = json::Value::object();
    m.set("value", a);
    m.set("score", "-E(x): higher means in-distribution (positives: the in-distribution set)");
    m.set("pixels", scale == data::PixelScale::Dequantized256 ? "(k + 0.5)/256, the mean of the training dequantisation"
                    : scale == data::PixelScale::Symmetric ? "k/127.5 - 1" : "k/255");
    m.set("in_distribution", id.description);
    m.set("out_of_distribution", od.description);
    m.set("in_distribution_mean_energy", -mean(sid));
    m.set("out_of_distribution_mean_energy", -mean(sod));
    m.set("auroc", "rank statistic with ties counted one half (= sklearn roc_auc_score)");
    m.set("seconds", seconds_since(t0));
    metrics_.set("ood_auroc", m);
    results_.set("ood_auroc", a);
    line("ood_auroc", a, "(" + model_->dataset() + " vs " + cfg_.ood_dataset + ")");
  }

  void line(const std::string& name, double v, const std::string& extra) {
    char b[160];
    std::snprintf(b, sizeof b, "%-16s %.6g %s\n", name.c_str(), v, extra.c_str());
    summary_ += b;
  }

  const EvalConfig& cfg_;
  Device device_;
  std::unique_ptr<EvalModel> model_;
  ImageSet scored_, ref_;
  bool ref_loaded_ = false;
  std::string ref_name_;
  json::Value rec_, results_, metrics_;
  std::string summary_;
};

}  // namespace

EvalOutcome run_eval(const EvalConfig& config) {
  int networks = (config.wants("classifier_fid") || config.wants("classifier_kid")) +
                 (config.wants("fid") || config.wants("kid"));
  EBM_CHECK(config.ref_stats.empty() || networks <= 1, ValueError,
            "ebm_eval: --ref-stats holds statistics of one feature network; ask for the classifier's or "
            "the Inception's FID/KID, not both");
  return Evaluator(config).run();
}

}  // namespace ebm::app
