// ebm_eval end to end on tiny synthetic MNIST-format sets: a tiny igebm_train run and a tiny
// classifier_train run, then ebm_eval writes samples.npz (uint8 NHWC arr_0), the PNG grid and
// eval.json with every protocol field; the cached reference statistics are reused with the same
// result; scoring samples.npz with --images gives the same classifier FID; the test split
// scores far closer to the train split than noise does; OOD AUROC is computed; bad flags, a
// missing reference and unknown checkpoints are refused with clear errors; a tiny drl_train
// checkpoint is sampled from its EMA weights with the DRL ladder.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app_test_util.h"
#include "apps/classifier/classifier_trainer.h"
#include "apps/drl/drl_trainer.h"
#include "apps/eval/evaluator.h"
#include "apps/igebm/igebm_trainer.h"
#include "core/io/npz.h"
#include "core/io/png.h"
#include "core/io/sha256.h"
#include "nn/checkpoint.h"
#include "synthetic_idx.h"
#include "test_util.h"

namespace ebm::app {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& tag) { return test::temp_path("ebm_eval_" + tag); }

// One fixture per process (gtest_discover_tests runs each test alone): data, an IGEBM run and a
// classifier, made in a few seconds.
struct World {
  std::string root, data, ood, run, classifier;
  World() {
    root = temp_dir("world");
    data = test::make_synthetic_idx(root + "/data", 64, 48);
    ood = test::make_synthetic_idx(root + "/ood", 16, 48, /*stripes=*/true);
    IgebmConfig c;
    c.dataset = "mnist";
    c.data_dir = data;
    c.model = "resnet32_small";
    c.num_filters = 8;
    c.batch_size = 16;
    c.num_steps = 5;
    c.buffer_size = 64;
    c.iters = 8;
    c.log_every = 4;
    c.sample_every = 0;
    c.ckpt_every = 0;
    c.lr = 1e-3;
    c.out = run = root + "/igebm";
    EXPECT_FALSE(train_igebm(c).diverged);
    ClassifierConfig k;
    k.dataset = "mnist";
    k.data_dir = data;
    k.base_width = 4;
    k.widen_factor = 1;
    k.epochs = 6;
    k.batch_size = 16;
    k.lr = 0.05;
    k.warmup = 2;
    k.out = root + "/classifier";
    classifier = train_classifier(k).model_path;
  }
  ~World() { fs::remove_all(root); }
  EvalConfig config(const std::string& out) const {
    EvalConfig e;
    e.checkpoint = run;
    e.num_samples = 24;
    e.batch_size = 10;
    e.sampler.steps = 3;
    e.classifier = classifier;
    e.metric_list = {"classifier_fid", "classifier_is", "classifier_kid"};
    e.kid_subsets = 5;
    e.kid_subset_size = 10;
    e.ref_cache = root + "/ref_cache";
    e.ood_data_dir = ood;
    e.out = out;
    return e;
  }
};

World& world() {
  static World w;
  return w;
}

json::Value read_json(const std::string& path) {
  std::ifstream f(path);
  return json::parse(std::string(std::istreambuf_iterator<char>(f), {}));
}

TEST(EbmEval, CheckpointSamplesMetricsAndProtocol) {
  World& w = world();
  EvalConfig e = w.config(w.root + "/eval1");
  e.metric_list.push_back("ood_auroc");
  e.ood_dataset = "mnist";
  EvalOutcome r = run_eval(e);
  // samples.npz: uint8 NHWC arr_0; the grid decodes.
  auto npz = io::read_npz(e.out + "/samples.npz");
  ASSERT_EQ(npz.size(), 1u);
  EXPECT_EQ(npz[0].first, "arr_0");
  EXPECT_EQ(npz[0].second.type, NpyType::UInt8);
  EXPECT_EQ(npz[0].second.shape, (std::vector<int64_t>{24, 32, 32, 1}));
  io::Image8 grid = io::read_png(e.out + "/samples.png");
  EXPECT_GT(grid.width, 32);
  // eval.json: the protocol.
  json::Value j = read_json(e.out + "/eval.json");
  EXPECT_EQ(j, r.record);
  EXPECT_EQ(j.at("seed").as_int(), 1);
  EXPECT_EQ(j.at("num_samples").as_int(), 24);
  EXPECT_FALSE(j.at("ema").as_bool());
  EXPECT_EQ(j.at("uint8_quantization").as_string(), "round");
  const json::Value& src = j.at("source");
  EXPECT_EQ(src.at("recipe").as_string(), "igebm");
  EXPECT_EQ(src.at("step").as_int(), 8);
  EXPECT_EQ(src.at("sha256").as_string(), io::sha256_file_hex(w.run + "/checkpoints/latest.safetensors"));
  const json::Value& s = j.at("sampler");
  EXPECT_EQ(s.at("steps").as_int(), 3);
  EXPECT_EQ(s.at("step_lr").as_double(), 10.0);  // the checkpoint's
  EXPECT_EQ(s.at("grad_clip").as_double(), 0.01);
  EXPECT_EQ(s.at("noise_std").as_double(), 0.005);
  EXPECT_NE(s.at("init").as_string().find("uniform noise"), std::string::npos);
  EXPECT_FALSE(s.at("ema").as_bool());
  for (const char* m : {"classifier_fid", "classifier_is", "classifier_kid", "ood_auroc"}) {
    SCOPED_TRACE(m);
    const json::Value& mv = j.at("metrics").at(m);
    EXPECT_TRUE(std::isfinite(mv.at("value").as_double()));
    EXPECT_EQ(j.at("results").at(m).as_double(), mv.at("value").as_double());
    if (std::string(m) == "ood_auroc") continue;
    EXPECT_EQ(mv.at("num_samples").as_int(), 24);
    const json::Value& net = mv.at("feature_network");
    EXPECT_EQ(net.at("name").as_string(), "classifier-wrn");
    EXPECT_EQ(net.at("weights_sha256").as_string(), io::sha256_file_hex(w.classifier));
    EXPECT_NE(net.at("preprocessing").as_string().find("zero-padded"), std::string::npos);
    EXPECT_FALSE(net.at("description").as_string().empty());
  }
  const json::Value& ref = j.at("metrics").at("classifier_fid").at("reference");
  EXPECT_EQ(ref.at("dataset").as_string(), "mnist");
  EXPECT_EQ(ref.at("split").as_string(), "train");
  EXPECT_EQ(ref.at("size").as_int(), 64);
  EXPECT_FALSE(ref.at("cached").as_bool());
  EXPECT_TRUE(fs::exists(ref.at("stats_file").as_string()));
  auto stats = io::read_npz(ref.at("stats_file").as_string());
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].first, "mu");
  EXPECT_EQ(stats[1].first, "sigma");
  EXPECT_EQ(stats[1].second.shape, (std::vector<int64_t>{16, 16}));
  const double iscore = j.at("results").at("classifier_is").as_double();
  EXPECT_GE(iscore, 1.0 - 1e-9);
  EXPECT_LE(iscore, 4.0 + 1e-9);
  const double auroc = j.at("results").at("ood_auroc").as_double();
  EXPECT_GE(auroc, 0.0);
  EXPECT_LE(auroc, 1.0);
  EXPECT_NE(r.summary.find("classifier_fid"), std::string::npos);

  // Again: the reference comes from the cache, and the same seed gives the same samples and FID.
  e.out = w.root + "/eval2";
  e.metric_list = {"classifier_fid"};
  json::Value j2 = run_eval(e).record;
  EXPECT_TRUE(j2.at("metrics").at("classifier_fid").at("reference").at("cached").as_bool());
  EXPECT_EQ(j2.at("results").at("classifier_fid").as_double(), j.at("results").at("classifier_fid").as_double());
  EXPECT_EQ(j2.at("scored_pixels_sha256").as_string(), j.at("scored_pixels_sha256").as_string());

  // Scoring the written samples.npz as images from elsewhere gives the same number.
  EvalConfig i = w.config(w.root + "/eval3");
  i.checkpoint.clear();
  i.images = e.out + "/samples.npz";
  i.ref_dataset = "mnist";
  i.ref_data_dir = w.data;
  i.metric_list = {"classifier_fid"};
  json::Value j3 = run_eval(i).record;
  EXPECT_EQ(j3.at("results").at("classifier_fid").as_double(), j.at("results").at("classifier_fid").as_double());
  EXPECT_EQ(j3.at("source").at("kind").as_string(), "images");
  EXPECT_EQ(j3.at("source").at("file_sha256").as_string(), io::sha256_file_hex(i.images));
  EXPECT_TRUE(fs::exists(i.out + "/images.png"));
}

// The sanity check in miniature: test split vs train split is near zero next to noise.
TEST(EbmEval, TestSplitScoresFarBelowNoise) {
  World& w = world();
  EvalConfig t = w.config(w.root + "/test_split");
  t.checkpoint.clear();
  t.images = "dataset:mnist:test";
  t.data_dir = w.data;
  t.ref_dataset = "mnist";
  t.ref_data_dir = w.data;
  t.metric_list = {"classifier_fid"};
  const double fid_test = run_eval(t).record.at("results").at("classifier_fid").as_double();
  EvalConfig n = w.config(w.root + "/noise");
  n.sampler.steps = 0;  // the chains' uniform-noise starts
  n.metric_list = {"classifier_fid"};
  json::Value jn = run_eval(n).record;
  const double fid_noise = jn.at("results").at("classifier_fid").as_double();
  EXPECT_EQ(jn.at("sampler").at("steps").as_int(), 0);
  EXPECT_LT(fid_test * 10, fid_noise) << "test vs train " << fid_test << ", noise " << fid_noise;
  // Replay-buffer starts work too.
  EvalConfig b = w.config(w.root + "/buffer");
  b.sampler.init = "buffer";
  b.sampler.steps = 1;
  b.metric_list = {"classifier_fid"};
  json::Value jb = run_eval(b).record;
  EXPECT_NE(jb.at("sampler").at("init").as_string().find("replay buffer"), std::string::npos);
}

TEST(EbmEval, RefusesBadFlagsMissingReferenceAndUnknownCheckpoints) {
  World& w = world();
  auto parse = [](std::vector<std::string> args) {
    EvalConfig c;
    Flags f("ebm_eval", "test");
    c.declare(f);
    std::vector<const char*> argv = {"ebm_eval"};
    for (auto& a : args) argv.push_back(a.c_str());
    f.parse(static_cast<int>(argv.size()), argv.data());
    c.finalize(f);
    return c;
  };
  const std::string ck = w.run, cls = w.classifier;
  test::expect_error<UsageError>([&] { parse({"--classifier", cls}); }, {"exactly one of --checkpoint"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--images", "x.npz", "--classifier", cls}); },
                                 {"exactly one of --checkpoint"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--metrics", "fid,psnr"}); },
                                 {"unknown metric 'psnr'", "classifier_fid"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck}); }, {"--classifier FILE"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--metrics", "fid"}); }, {"--inception FILE"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--metrics", "ood_auroc"}); }, {"--ood-dataset"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--classifier", cls, "--init", "chain"}); },
                                 {"--init", "buffer"});
  test::expect_error<UsageError>([&] { parse({"--checkpoint", ck, "--classifier", cls, "--num-samples", "1"}); },
                                 {"--num-samples"});
  test::expect_error<UsageError>(
      [&] { parse({"--checkpoint", ck, "--classifier", cls, "--ref-stats", w.root + "/none.npz"}); },
      {"--ref-stats", "none.npz", "does not exist"});
  EvalConfig ok = parse({"--checkpoint", ck, "--classifier", cls, "--metrics", "classifier_fid,classifier_is"});
  EXPECT_EQ(ok.metric_list, (std::vector<std::string>{"classifier_fid", "classifier_is"}));
  EXPECT_EQ(ok.out, ck + "/eval");

  // Images without a reference set.
  EvalConfig i = w.config(w.root + "/noref");
  i.checkpoint.clear();
  i.images = "dataset:mnist:test";
  i.data_dir = w.data;
  i.metric_list = {"classifier_fid"};
  test::expect_error<ValueError>([&] { run_eval(i); }, {"--ref-dataset", "--ref-stats"});
  // KID with mu/sigma-only statistics.
  {
    EvalConfig s = w.config(w.root + "/stats_only");
    s.ref_stats = w.root + "/mu_sigma.npz";
    NpyArray mu, sigma;
    mu.type = sigma.type = NpyType::Float64;
    mu.shape = {16};
    sigma.shape = {16, 16};
    mu.data.assign(16 * 8, 0);
    sigma.data.assign(256 * 8, 0);
    io::write_npz(s.ref_stats, {{"mu", mu}, {"sigma", sigma}});
    test::expect_error<ValueError>([&] { run_eval(s); }, {"KID needs the reference features", "mu_sigma.npz"});
    s.metric_list = {"classifier_fid"};
    EXPECT_TRUE(std::isfinite(run_eval(s).record.at("results").at("classifier_fid").as_double()));
  }
  // EMA on an IGEBM checkpoint, a missing checkpoint, and a recipe ebm_eval cannot sample yet.
  EvalConfig m = w.config(w.root + "/ema");
  m.sampler.ema = "on";
  test::expect_error<ValueError>([&] { run_eval(m); }, {"--ema on", "no EMA"});
  m.sampler.ema = "auto";
  m.checkpoint = w.root + "/nowhere";
  test::expect_error<IOError>([&] { run_eval(m); }, {"nowhere"});
  nn::Checkpoint other;
  other.config.set("app", "gebm_train");
  other.save(w.root + "/other.safetensors");
  m.checkpoint = w.root + "/other.safetensors";
  test::expect_error<ValueError>([&] { run_eval(m); }, {"not a checkpoint of a known recipe", "igebm_train, drl_train"});
}

// DRL: progressive sampling from the EMA weights, samples in [-1, 1] stored as uint8, the
// sampler's settings in eval.json; a replay buffer or a gradient clip is refused.
TEST(EbmEval, DrlCheckpoint) {
  World& w = world();
  DrlConfig d;
  d.dataset = "mnist";
  d.data_dir = w.data;
  d.model = "net_res_temb2_small";
  d.ch = 4;
  d.ch_mult = "1,2";
  d.num_res_blocks = 1;
  d.n_batch_train = 8;
  d.mcmc_num_steps = 2;
  d.num_diffusion_timesteps = 3;
  d.lr = 1e-3;
  d.warmup = 2;
  d.ema_sync_every = 2;
  d.iters = 2;
  d.log_every = 1;
  d.sample_every = 0;
  d.ckpt_every = 0;
  d.grid_samples = 4;
  d.out = w.root + "/drl";
  EXPECT_FALSE(train_drl(d).diverged);
  EvalConfig e = w.config(w.root + "/drl_eval");
  e.checkpoint = d.out;
  e.sampler.steps = -1;
  e.num_samples = 6;
  e.batch_size = 4;
  e.metric_list = {"classifier_fid", "ood_auroc"};
  e.ood_dataset = "mnist";
  json::Value j = run_eval(e).record;
  EXPECT_EQ(j.at("source").at("recipe").as_string(), "drl");
  EXPECT_TRUE(j.at("ema").as_bool());
  EXPECT_EQ(j.at("sampler").at("levels").as_int(), 3);
  EXPECT_EQ(j.at("uint8_quantization").as_string(), "truncate") << "the official DRL export casts";
  EXPECT_EQ(j.at("sampler").at("steps").as_int(), 2);
  EXPECT_EQ(j.at("sampler").at("noise_scale").as_double(), 0.99);
  EXPECT_EQ(j.at("metrics").at("ood_auroc").at("pixels").as_string(), "k/127.5 - 1");
  EXPECT_TRUE(std::isfinite(j.at("results").at("classifier_fid").as_double()));
  auto npz = io::read_npz(e.out + "/samples.npz");
  EXPECT_EQ(npz[0].second.shape, (std::vector<int64_t>{6, 32, 32, 1}));
  e.sampler.ema = "off";
  EXPECT_FALSE(run_eval(e).record.at("ema").as_bool());
  e.sampler.init = "buffer";
  test::expect_error<ValueError>([&] { run_eval(e); }, {"DRL has no replay buffer"});
}

}  // namespace
}  // namespace ebm::app
