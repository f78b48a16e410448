// drl_train end to end (apps/drl; spec igebm-drl.md §2) on a tiny MNIST-format dataset written as
// plain IDX files: every promised output exists and parses (config.json, metrics.jsonl with the
// loss per level, TensorBoard scalars and grids read back, PNG grids, checkpoints with the model,
// Adam, the EMA and the sampling network), sampling mode writes PNG + .npz from each set of
// weights, N steps equal N/2 + resume + N/2 bit for bit (EMA syncs on both sides of the resume),
// the divergence guard stops without touching the last checkpoint, Ctrl-C checkpoints and resumes,
// and bad flags are refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>

#include "app_test_util.h"
#include "apps/common/interrupt.h"
#include "apps/drl/drl_trainer.h"
#include "core/io/npz.h"
#include "core/io/png.h"
#include "core/io/tensorboard.h"
#include "nn/checkpoint.h"
#include "synthetic_idx.h"
#include "test_util.h"

namespace ebm::app {
namespace {

namespace fs = std::filesystem;

// 48 images of 28×28 (uncompressed IDX): a bright horizontal bar whose row depends on the label,
// on a dark background with a little texture.
std::string bar_dataset() {
  static const std::string dir = test::write_idx(
      test::temp_path("ebm_drl_app_data"), "train", 48, [](int i) { return i % 3; },
      [](int i, int label, int y, int x) {
        const bool bar = y >= 4 + 8 * label && y < 8 + 8 * label && x >= 3 && x < 25;
        return bar ? 200 + (x + i) % 40 : (3 * x + y + i) % 16;
      },
      /*gzip=*/false);
  return dir;
}

DrlConfig tiny(const std::string& out) {
  DrlConfig c;
  c.dataset = "mnist";
  c.data_dir = bar_dataset();
  c.model = "net_res_temb2_small";
  c.ch = 4;
  c.ch_mult = "1,2";
  c.num_res_blocks = 1;
  c.n_batch_train = 8;
  c.mcmc_num_steps = 3;
  c.lr = 1e-3;
  c.warmup = 2;
  c.ema_sync_every = 2;
  c.iters = 6;
  c.log_every = 1;
  c.sample_every = 3;
  c.ckpt_every = 3;
  c.grid_samples = 4;
  c.out = out;
  c.seed = 3;
  return c;
}

std::string temp_run(const std::string& tag) { return test::temp_path("ebm_drl_run_" + tag); }

std::vector<json::Value> metrics(const std::string& dir) {
  std::ifstream m(dir + "/metrics.jsonl");
  std::vector<json::Value> lines;
  for (std::string line; std::getline(m, line);) lines.push_back(json::parse(line));
  return lines;
}

TEST(DrlApp, TrainsAndWritesEveryOutput) {
  const std::string out = temp_run("full");
  DrlOutcome r = train_drl(tiny(out));
  EXPECT_FALSE(r.diverged) << r.message;
  EXPECT_EQ(r.last_step, 6);
  // metrics.jsonl: one line per step with the loss, f, the loss of each level present, lr.
  const std::vector<json::Value> lines = metrics(out);
  ASSERT_EQ(lines.size(), 6u);
  int level_entries = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const json::Value& v = lines[i];
    EXPECT_EQ(v.at("step").as_int(), static_cast<int64_t>(i) + 1);
    for (const char* k : {"loss", "f_pos", "f_neg", "grad_norm", "lr", "seconds_per_step", "images_per_second"})
      EXPECT_TRUE(v.at(k).is_number()) << k;
    for (int t = 0; t < 6; ++t) level_entries += v.find("loss_t" + std::to_string(t)) != nullptr;
  }
  EXPECT_GE(level_entries, 6) << "each line has the losses of the levels its batch drew";
  EXPECT_EQ(lines[0].at("lr").as_double(), 0.0) << "warm-up: the first update has lr 0";
  EXPECT_EQ(lines[5].at("lr").as_double(), 1e-3);
  const json::Value cfg = json::parse(std::string(std::istreambuf_iterator<char>(std::ifstream(out + "/config.json").rdbuf()), {}));
  EXPECT_EQ(cfg.at("app").as_string(), "drl_train");
  EXPECT_EQ(cfg.at("model").as_string(), "net_res_temb2_small");
  EXPECT_EQ(cfg.at("mcmc_num_steps").as_int(), 3);
  EXPECT_EQ(cfg.at("device").as_string(), "cpu");
  // TensorBoard: the scalars and both grids at steps 3 and 6.
  std::string events;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().find("tfevents") != std::string::npos) events = e.path().string();
  ASSERT_FALSE(events.empty());
  int scalars = 0, images = 0;
  for (const auto& e : io::read_events(events))
    for (const auto& v : e.values) {
      scalars += v.has_scalar && v.tag == "loss";
      images += v.has_image;
    }
  EXPECT_EQ(scalars, 6);
  EXPECT_EQ(images, 4);
  const io::Image8 grid = io::read_png(out + "/samples/step_0000006.png");
  EXPECT_EQ(grid.channels, 1);
  EXPECT_GT(grid.width, 64);
  const io::Image8 prog = io::read_png(out + "/samples/progression_step_0000003.png");
  EXPECT_GT(prog.height, 6 * 32) << "T + 1 = 7 rows, x_T to x_0";
  const nn::Checkpoint ck = nn::Checkpoint::load(out + "/checkpoints/latest.safetensors");
  EXPECT_EQ(ck.step, 6);
  for (const char* s : {"optim", "ema", "sampling_net", "data"}) EXPECT_TRUE(ck.has_section(s)) << s;
  EXPECT_EQ(ck.section("ema").size(), ck.model().size() + 1) << "every weight and u/v vector, plus 'updates'";
  EXPECT_EQ(ck.section("sampling_net").size(), ck.model().size());
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_0000003.safetensors"));
  EXPECT_EQ(ck.rng.count("langevin") + ck.rng.count("diffusion") + ck.rng.count("dropout"), 3u);

  // Sampling mode from the finished run, from each set of weights.
  for (const char* from : {"model", "synced", "ema"}) {
    DrlConfig s = tiny(out);
    s.resume = out;
    s.sample = true;
    s.num_samples = 5;
    s.sample_batch = 2;
    s.sample_from = from;
    EXPECT_NE(sample_drl(s).find(".npz"), std::string::npos);
    const auto npz = io::read_npz(out + "/samples_step_0000006.npz");
    ASSERT_EQ(npz.size(), 1u);
    EXPECT_EQ(npz[0].first, "arr_0");
    EXPECT_EQ(npz[0].second.shape, (std::vector<int64_t>{5, 32, 32, 1})) << from;
    EXPECT_TRUE(fs::exists(out + "/samples/sample_step_0000006.png"));
  }
  // The loader refuses other checkpoints and missing EMA sections.
  DrlConfig noema = tiny(temp_run("noema"));
  noema.ema = false;
  noema.iters = 2;
  train_drl(noema);
  test::expect_error<ValueError>([&] { load_drl_eval_model(noema.out, "cpu", "ema"); }, {"no EMA", "--sample-from model"});
  EXPECT_NO_THROW(load_drl_eval_model(noema.out, "cpu", "model"));
  fs::remove_all(noema.out);
  fs::remove_all(out);
}

TEST(DrlApp, ResumeIsBitIdenticalOnTheCpu) {
  const std::string a = temp_run("a"), b = temp_run("b");
  train_drl(tiny(a));
  DrlConfig half = tiny(b);
  half.iters = 3;
  train_drl(half);
  DrlConfig rest = tiny(b);
  rest.resume = b;
  DrlOutcome r = train_drl(rest);
  EXPECT_EQ(r.last_step, 6);
  test::expect_same_checkpoints(a, b);
  // The resumed run's log is the uninterrupted run's, step for step, and so is its last grid.
  const std::vector<json::Value> la = metrics(a), lb = metrics(b);
  ASSERT_EQ(la.size(), 6u);
  ASSERT_EQ(lb.size(), 6u);
  for (size_t i = 0; i < la.size(); ++i) EXPECT_EQ(la[i].at("loss").as_double(), lb[i].at("loss").as_double()) << i;
  const io::Image8 ga = io::read_png(a + "/samples/step_0000006.png"), gb = io::read_png(b + "/samples/step_0000006.png");
  EXPECT_EQ(ga.data, gb.data);
  fs::remove_all(a);
  fs::remove_all(b);
}

TEST(DrlApp, DivergenceStopsWithoutTouchingTheLastCheckpoint) {
  // The guard (|loss| > bound) with a bound of half the largest |loss| after step 3 must stop
  // at the first step after 3 beyond it.
  const std::string ref = temp_run("ref");
  train_drl(tiny(ref));
  const std::vector<json::Value> lines = metrics(ref);
  double largest = 0;
  for (const auto& v : lines)
    if (v.at("step").as_int() > 3) largest = std::max(largest, std::fabs(v.at("loss").as_double()));
  const double bound = 0.5 * largest;
  int64_t first_beyond = -1;
  for (const auto& v : lines)
    if (v.at("step").as_int() > 3 && std::fabs(v.at("loss").as_double()) > bound) {
      first_beyond = v.at("step").as_int();
      break;
    }
  fs::remove_all(ref);
  ASSERT_GT(first_beyond, 3) << "the tiny run logs every step";

  const std::string out = temp_run("div");
  DrlConfig c = tiny(out);
  c.iters = 3;
  train_drl(c);
  const auto before = fs::last_write_time(out + "/checkpoints/latest.safetensors");
  DrlConfig d = tiny(out);
  d.resume = out;
  d.loss_bound = bound;
  DrlOutcome r = train_drl(d);
  EXPECT_TRUE(r.diverged);
  EXPECT_NE(r.message.find("diverged at step " + std::to_string(first_beyond)), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("last good checkpoint (step 3)"), std::string::npos) << r.message;
  EXPECT_EQ(fs::last_write_time(out + "/checkpoints/latest.safetensors"), before);
  fs::remove_all(out);
}

// --resume keeps the run's cadence (log, grids, checkpoints) unless the command gives its own: a
// run checkpointing every 3 steps, resumed by a command with other defaults, still writes step 6.
TEST(DrlApp, ResumeKeepsTheRunsCadence) {
  const std::string out = temp_run("cadence");
  DrlConfig c = tiny(out);
  c.iters = 3;
  train_drl(c);
  DrlConfig r = tiny(out);
  r.resume = out;
  r.iters = 9;
  r.ckpt_every = 5000;  // this command's defaults, not given on its command line
  r.sample_every = 5000;
  train_drl(r);
  EXPECT_TRUE(fs::exists(out + "/checkpoints/step_0000006.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/samples/step_0000006.png"));
  const json::Value saved = json::parse(std::string(std::istreambuf_iterator<char>(std::ifstream(out + "/config.json").rdbuf()), {}));
  EXPECT_EQ(saved.at("ckpt_every").as_int(), 3);
  EXPECT_EQ(saved.at("sample_every").as_int(), 3);
  fs::remove_all(out);
}

// Ctrl-C (SIGINT) during step 1: the step finishes, grids and a checkpoint are written, and the
// run continues from there with --resume (here with another --lr, which replaces the saved one).
TEST(DrlApp, CtrlCCheckpointsAndResumes) {
  const std::string out = temp_run("int");
  install_interrupt_handler();
  std::raise(SIGINT);
  DrlOutcome r = train_drl(tiny(out));
  reset_interrupted();
  EXPECT_TRUE(r.interrupted);
  EXPECT_EQ(r.last_step, 1);
  EXPECT_NE(r.message.find("--resume " + out), std::string::npos) << r.message;
  EXPECT_EQ(nn::Checkpoint::load(out + "/checkpoints/latest.safetensors").step, 1);
  EXPECT_TRUE(fs::exists(out + "/samples/step_0000001.png"));
  DrlConfig rest = tiny(out);
  rest.resume = out;
  rest.lr = 5e-4;  // a flag given with --resume replaces the run's setting
  rest.given = {"lr"};
  DrlOutcome done = train_drl(rest);
  EXPECT_FALSE(done.interrupted);
  EXPECT_EQ(done.last_step, 6);
  const std::vector<json::Value> lines = metrics(out);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0].at("lr").as_double(), 0.0);
  EXPECT_EQ(lines[5].at("lr").as_double(), 5e-4);
  EXPECT_EQ(nn::Checkpoint::load(out + "/checkpoints/latest.safetensors").config.at("lr").as_double(), 5e-4);
  fs::remove_all(out);
}

TEST(DrlApp, FlagErrorsNameTheFlag) {
  auto parse = [](std::vector<const char*> args) {
    DrlConfig c;
    Flags f("drl_train", "test");
    c.declare(f);
    args.insert(args.begin(), "drl_train");
    f.parse(static_cast<int>(args.size()), args.data());
    c.finalize(f);
    return c;
  };
  // The README's CelebA/LSUN commands pass --batch_size, which config.py does not define (§2.9).
  test::expect_error<UsageError>([&] { parse({"--batch_size", "128"}); }, {"unknown flag --batch_size"});
  test::expect_error<UsageError>([&] { parse({"--mcmc_num_steps", "x"}); }, {"--mcmc_num_steps", "integer"});
  test::expect_error<UsageError>([&] { parse({"--num_diffusion_timesteps", "1"}); }, {"--num_diffusion_timesteps", "[2, 501]"});
  test::expect_error<UsageError>([&] { parse({"--model", "resnet32"}); }, {"--model", "net_res_temb2"});
  test::expect_error<UsageError>([&] { parse({"--depth", "16"}); }, {"--depth", "wrn"});
  test::expect_error<UsageError>([&] { parse({"--model", "wrn_small", "--num_res_blocks", "2"}); }, {"--num_res_blocks"});
  test::expect_error<UsageError>([&] { parse({"--ch_mult", "1,x"}); }, {"--ch_mult", "1,x"});
  test::expect_error<UsageError>([&] { parse({"--n_batch_train", "0"}); }, {"--n_batch_train"});
  test::expect_error<UsageError>([&] { parse({"--ma_decay", "1.5"}); }, {"--ma_decay"});
  test::expect_error<UsageError>([&] { parse({"--cosine_decay", "--iters", "10"}); }, {"--cosine_decay", "--warmup"});
  test::expect_error<UsageError>([&] { parse({"--sample"}); }, {"--sample needs --resume"});
  test::expect_error<UsageError>([&] { parse({"--device", "tpu"}); }, {"--device"});
  test::expect_error<UsageError>([&] { parse({"--sample-from", "best"}); }, {"--sample-from", "ema"});
  const DrlConfig c = parse({"--n_batch_train=64", "--num_res_blocks", "2", "--mcmc_step_size_b_square", "1e-4",
                             "--no-randflip", "--ch_mult", "1,2,2"});
  EXPECT_EQ(c.n_batch_train, 64);
  EXPECT_EQ(c.num_res_blocks, 2);
  EXPECT_EQ(c.mcmc_step_size_b_square, 1e-4);
  EXPECT_FALSE(c.randflip);
  EXPECT_EQ(c.ch_mult_values(), (std::vector<int64_t>{1, 2, 2}));
  EXPECT_EQ(parse({"--model", "wrn_small"}).num_res_blocks, 0) << "the wrn preset, not net_res_temb2's 8";
  DrlConfig missing = tiny("/nonexistent/run");
  missing.data_dir = "/nonexistent/data";
  test::expect_error<IOError>([&] { train_drl(missing); }, {"/nonexistent/data"});
}

}  // namespace
}  // namespace ebm::app
