// igebm_train end to end on a tiny synthetic MNIST-format dataset: the loss falls, every output
// parses (config.json, metrics.jsonl, TensorBoard events read back, PNG decodes, checkpoint
// loads), N steps equal N/2 + resume + N/2 bit for bit, sampling mode writes PNG and .npz,
// divergence stops cleanly, and bad flags are refused before any work. --cuda-graph parses, is
// refused with the dropout model, and leaves a CPU run's weights bit for bit (on a GPU: a graphed
// run equals the eager one; skipped without a device).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app_test_util.h"
#include "apps/igebm/igebm_trainer.h"
#include "core/device_hooks.h"
#include "core/io/npz.h"
#include "core/io/png.h"
#include "core/io/tensorboard.h"
#include "nn/checkpoint.h"
#include "synthetic_idx.h"
#include "test_util.h"

namespace ebm::app {
namespace {

namespace fs = std::filesystem;

// 64 images of 28×28 (gzip'd IDX): a bright square whose position depends on the label, plus noise.
std::string make_dataset() {
  static const std::string dir =
      test::write_idx(test::temp_path("ebm_igebm_app_data"), "train", 64, [](int i) { return i % 4; },
                      [](int i, int label, int y, int x) {
                        return test::in_square(label, y, x) ? 220 + (x * y + i) % 30 : (x + y + i) % 20;
                      });
  return dir;
}

IgebmConfig tiny(const std::string& out) {
  IgebmConfig c;
  c.dataset = "mnist";
  c.data_dir = make_dataset();
  c.model = "resnet32_small";
  c.num_filters = 8;
  c.batch_size = 16;
  c.num_steps = 5;
  c.buffer_size = 64;
  c.iters = 12;
  c.log_every = 1;
  c.sample_every = 6;
  c.ckpt_every = 6;
  c.out = out;
  c.seed = 7;
  c.lr = 1e-3;
  return c;
}

std::string temp_run(const std::string& tag) { return test::temp_path("ebm_igebm_run_" + tag); }

TEST(IgebmApp, TrainsAndWritesEveryOutput) {
  std::string out = temp_run("full");
  IgebmOutcome r = train_igebm(tiny(out));
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(r.last_step, 12);
  // metrics.jsonl: one parseable line per step; the loss falls.
  std::ifstream m(out + "/metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(m, line);) {
    json::Value v = json::parse(line);
    EXPECT_EQ(v.at("step").as_int(), static_cast<int64_t>(losses.size()) + 1);
    for (const char* k : {"e_pos", "e_neg", "grad_norm", "seconds_per_step", "images_per_second"})
      EXPECT_TRUE(v.at(k).is_number()) << k;
    losses.push_back(v.at("loss").as_double());
  }
  ASSERT_EQ(losses.size(), 12u);
  EXPECT_LT(losses[9] + losses[10] + losses[11], losses[0] + losses[1] + losses[2]);
  json::Value cfg = json::parse(std::string(std::istreambuf_iterator<char>(std::ifstream(out + "/config.json").rdbuf()), {}));
  EXPECT_EQ(cfg.at("model").as_string(), "resnet32_small");
  EXPECT_EQ(cfg.at("device").as_string(), "cpu");
  // TensorBoard: the scalars and the sample grids.
  std::string events;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().find("tfevents") != std::string::npos) events = e.path().string();
  ASSERT_FALSE(events.empty());
  std::vector<io::Event> ev = io::read_events(events);
  int scalars = 0, images = 0;
  for (const auto& e : ev)
    for (const auto& v : e.values) {
      scalars += v.has_scalar && v.tag == "loss";
      images += v.has_image;
    }
  EXPECT_EQ(scalars, 12);
  EXPECT_GE(images, 2);
  io::Image8 grid = io::read_png(out + "/samples/step_0000012.png");
  EXPECT_EQ(grid.channels, 1);
  EXPECT_GT(grid.width, 32);
  nn::Checkpoint ck = nn::Checkpoint::load(out + "/checkpoints/latest.safetensors");
  EXPECT_EQ(ck.step, 12);
  EXPECT_TRUE(ck.has_section("optim") && ck.has_section("buffer") && ck.has_section("data"));
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_0000006.safetensors"));

  // Sampling mode from the finished run.
  IgebmConfig s = tiny(out);
  s.resume = out;
  s.sample = true;
  s.num_samples = 6;
  s.sample_steps = 3;
  std::string written = sample_igebm(s);
  auto npz = io::read_npz(out + "/samples_step_0000012.npz");
  ASSERT_EQ(npz.size(), 1u);
  EXPECT_EQ(npz[0].first, "arr_0");
  EXPECT_EQ(npz[0].second.shape, (std::vector<int64_t>{6, 32, 32, 1}));
  EXPECT_TRUE(fs::exists(out + "/samples/sample_step_0000012.png"));
  fs::remove_all(out);
}

TEST(IgebmApp, ResumeIsBitIdenticalOnTheCpu) {
  std::string a = temp_run("a"), b = temp_run("b");
  train_igebm(tiny(a));
  IgebmConfig half = tiny(b);
  half.iters = 6;
  train_igebm(half);
  IgebmConfig rest = tiny(b);
  rest.resume = b;
  IgebmOutcome r = train_igebm(rest);
  EXPECT_EQ(r.last_step, 12);
  test::expect_same_checkpoints(a, b);
  // The resumed run's log is the uninterrupted run's, step for step.
  std::ifstream la(a + "/metrics.jsonl"), lb(b + "/metrics.jsonl");
  std::string x, y;
  int lines = 0;
  while (std::getline(la, x) && std::getline(lb, y)) {
    EXPECT_EQ(json::parse(x).at("loss").as_double(), json::parse(y).at("loss").as_double());
    ++lines;
  }
  EXPECT_EQ(lines, 12);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(IgebmApp, DivergenceStopsWithoutTouchingTheLastCheckpoint) {
  std::string out = temp_run("div");
  IgebmConfig c = tiny(out);
  c.iters = 6;
  train_igebm(c);
  auto before = fs::last_write_time(out + "/checkpoints/latest.safetensors");
  IgebmConfig d = tiny(out);
  d.resume = out;
  d.energy_bound = 1e-9;  // any energy counts as divergence
  IgebmOutcome r = train_igebm(d);
  EXPECT_TRUE(r.diverged);
  EXPECT_NE(r.message.find("diverged at step 7"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("last good checkpoint (step 6)"), std::string::npos) << r.message;
  EXPECT_EQ(fs::last_write_time(out + "/checkpoints/latest.safetensors"), before);
  fs::remove_all(out);
}

// The config a command line gives (as main does: declare, parse, finalize).
IgebmConfig parse(std::vector<const char*> args) {
  IgebmConfig c;
  Flags f("igebm_train", "test");
  c.declare(f);
  args.insert(args.begin(), "igebm_train");
  f.parse(static_cast<int>(args.size()), args.data());
  c.finalize(f);
  return c;
}

TEST(IgebmApp, FlagErrorsNameTheFlag) {
  test::expect_error<UsageError>([&] { parse({"--step-lr", "3"}); }, {"unknown flag --step-lr", "--step_lr"});
  test::expect_error<UsageError>([&] { parse({"--num_steps", "x"}); }, {"--num_steps", "integer"});
  test::expect_error<UsageError>([&] { parse({"--dataset", "svhn"}); }, {"--dataset", "fashion-mnist"});
  test::expect_error<UsageError>([&] { parse({"--large_model", "--wider_model"}); }, {"exclude each other"});
  test::expect_error<UsageError>([&] { parse({"--batch_size", "0"}); }, {"--batch_size"});
  test::expect_error<UsageError>([&] { parse({"--sample"}); }, {"--sample needs --resume"});
  test::expect_error<UsageError>([&] { parse({"--device", "tpu"}); }, {"--device"});
  test::expect_error<UsageError>([&] { parse({"--iters", "5", "--iters", "6"}); }, {"given twice"});
  IgebmConfig c = parse({"--large_model", "--cclass", "--step_lr=5", "--no-replay_batch"});
  EXPECT_EQ(c.model, "resnet32_large");
  EXPECT_TRUE(c.cclass);
  EXPECT_EQ(c.step_lr, 5.0);
  EXPECT_FALSE(c.replay_batch);
  IgebmConfig missing = tiny("/nonexistent/run");
  missing.data_dir = "/nonexistent/data";
  test::expect_error<IOError>([&] { train_igebm(missing); }, {"/nonexistent/data", "--data-dir"});
}

TEST(IgebmApp, CudaGraphFlagParsesAndRefusesTheDropoutModel) {
  EXPECT_FALSE(parse({}).cuda_graph);
  EXPECT_TRUE(parse({"--cuda-graph", "--model", "resnet32_wider"}).cuda_graph);
  EXPECT_FALSE(parse({"--no-cuda-graph"}).cuda_graph);
  test::expect_error<UsageError>([&] { parse({"--cuda-graph", "--large_model"}); },
                                 {"--cuda-graph", "--large_model", "dropout", "repeat at every replay"});
  test::expect_error<UsageError>([&] { parse({"--model", "resnet32_large", "--cuda-graph"}); },
                                 {"--cuda-graph", "--model resnet32_large", "dropout"});
  // config.json records it, and a resumed run reads it back (older runs without it keep the default).
  IgebmConfig c = parse({"--cuda-graph"});
  EXPECT_TRUE(c.to_json().at("cuda_graph").as_bool());
  IgebmConfig back;
  back.from_json(c.to_json());
  EXPECT_TRUE(back.cuda_graph);
  json::Value old = c.to_json();
  old.set("cuda_graph", false);
  back.from_json(old);
  EXPECT_FALSE(back.cuda_graph);
}

// Two tiny conditional runs, without and with --cuda-graph, under both spectral-norm schedules:
// the same weights, Adam state, buffer and streams, bit for bit; no capture failed.
void expect_cuda_graph_changes_nothing(const std::string& device) {
  for (const char* schedule : {"iteration", "forward"}) {
    SCOPED_TRACE(schedule);
    std::string a = temp_run("eager"), b = temp_run("graph");
    IgebmConfig c = tiny(a);
    c.device = device;
    c.iters = 6;
    c.cclass = true;
    c.sn_schedule = schedule;
    train_igebm(c);
    c.out = b;
    c.cuda_graph = true;
    ::testing::internal::CaptureStderr();
    train_igebm(c);
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(err.find("capture of the chain failed"), std::string::npos) << err;
    test::expect_same_checkpoints(a, b);
    fs::remove_all(a);
    fs::remove_all(b);
  }
}

// On the CPU the flag runs the chain through samplers::GraphedChain eagerly (the labels and the
// layers' W/σ as its inputs).
TEST(IgebmApp, CudaGraphIsIgnoredOnTheCpu) { expect_cuda_graph_changes_nothing("cpu"); }

// The one-command check of the wiring on a GPU: capture at step 2, replays after.
TEST(IgebmApp, CudaGraphRunEqualsTheEagerRunOnTheGpu) {
  if (device_hooks::cuda_device_count() == 0) GTEST_SKIP() << device_hooks::cuda_unavailable_reason();
  expect_cuda_graph_changes_nothing("cuda");
}

}  // namespace
}  // namespace ebm::app
