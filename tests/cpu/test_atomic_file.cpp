// Atomic file replacement (core/io/atomic_file.h): the content is replaced and no temporary is
// left; a producer exception, an injected failure at each step (open, write, fsync, close, rename)
// and real system failures (missing directory, a file-size limit) keep the old file intact; the
// directory-sync failure after the rename says the new file is in place; concurrent writers never
// tear the file.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "core/io/atomic_file.h"
#include "test_util.h"

namespace ebm {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// A scratch directory per test, removed afterwards.
class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / str("ebm_atomic_", info->name(), "_", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    inject_atomic_write_failure(AtomicWriteStage::None);
    fs::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, ReplacesTheFileAndLeavesNoTemporary) {
  std::string p = path("out.txt");
  write_file_atomic(p, std::string("first"));
  write_file_atomic(p, std::vector<uint8_t>{'s', 'e', 'c'});
  std::string big(3 << 20, 'x');  // past the sink's buffer, mixed with small writes
  write_file_atomic(p, [&](AtomicFileSink& s) {
    s.write("head");
    s.write(big);
    s.write("tail");
    EXPECT_EQ(s.bytes_written(), big.size() + 8);
  });
  std::vector<uint8_t> got = slurp(p);
  ASSERT_EQ(got.size(), big.size() + 8);
  EXPECT_EQ(std::string(got.begin(), got.begin() + 4), "head");
  EXPECT_EQ(std::string(got.end() - 4, got.end()), "tail");
  write_file_atomic(p, std::string());  // empty files too
  EXPECT_EQ(fs::file_size(p), 0u);
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
  // A relative path (temporary in the current directory's file system).
  fs::path cwd = fs::current_path();
  fs::current_path(dir_);
  write_file_atomic("rel.txt", std::string("r"));
  fs::current_path(cwd);
  EXPECT_EQ(slurp(path("rel.txt")), std::vector<uint8_t>{'r'});
}

TEST_F(AtomicFileTest, ProducerExceptionKeepsTheOldFile) {
  std::string p = path("out.txt");
  write_file_atomic(p, std::string("old"));
  EXPECT_THROW(write_file_atomic(p, [](AtomicFileSink& s) {
                 s.write(std::string(5 << 20, 'n'));
                 throw DeviceError("copy failed");
               }),
               DeviceError);
  EXPECT_EQ(slurp(p), (std::vector<uint8_t>{'o', 'l', 'd'}));
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, FailureAtEachStepKeepsTheOldFile) {
  std::string p = path("out.txt");
  write_file_atomic(p, std::string("old"));
  for (auto [stage, what] : std::vector<std::pair<AtomicWriteStage, std::string>>{
           {AtomicWriteStage::Open, "cannot create a temporary file in '" + dir_.string() + "'"},
           {AtomicWriteStage::Write, "writing '" + p + "'"},
           {AtomicWriteStage::Sync, "fsync of '" + p + "'"},
           {AtomicWriteStage::Close, "closing '" + p + "'"},
           {AtomicWriteStage::Rename, "renaming the temporary onto '" + p + "'"}}) {
    SCOPED_TRACE(what);
    inject_atomic_write_failure(stage);
    test::expect_error<IOError>([&] { write_file_atomic(p, std::string("new")); }, {what, "Input/output error"});
    EXPECT_EQ(slurp(p), (std::vector<uint8_t>{'o', 'l', 'd'}));
    EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
  }
  // After the rename only the directory sync can fail: the new file is in place, and the error
  // says so.
  inject_atomic_write_failure(AtomicWriteStage::SyncDir);
  test::expect_error<IOError>([&] { write_file_atomic(p, std::string("new")); },
                              {"was written and renamed into place", "syncing its directory"});
  EXPECT_EQ(slurp(p), (std::vector<uint8_t>{'n', 'e', 'w'}));
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

TEST_F(AtomicFileTest, RealSystemFailures) {
  test::expect_error<IOError>([&] { write_file_atomic(path("no/such/dir/f"), std::string("x")); },
                              {path("no/such/dir/f"), "No such file or directory"});
  test::expect_error<IOError>([&] { write_file_atomic(path("d/"), std::string("x")); }, {"not a file path"});
  // A real write error: a file-size limit makes write() fail with EFBIG.
  std::string p = path("out.txt");
  write_file_atomic(p, std::string("old"));
  rlimit old_limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = ::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old_limit;
  small.rlim_cur = 4096;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  bool threw = false;
  try {
    write_file_atomic(p, std::string(2 << 20, 'b'));
  } catch (const IOError& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("File too large"), std::string::npos) << e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old_limit);
  ::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_EQ(slurp(p), (std::vector<uint8_t>{'o', 'l', 'd'}));
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
  // Permissions (meaningless as root, who may write anywhere).
  if (::geteuid() != 0) {
    fs::create_directories(path("ro"));
    fs::permissions(path("ro"), fs::perms::owner_read | fs::perms::owner_exec);
    test::expect_error<IOError>([&] { write_file_atomic(path("ro/f"), std::string("x")); }, {"Permission denied"});
    fs::permissions(path("ro"), fs::perms::owner_all);
  }
}

TEST_F(AtomicFileTest, ConcurrentWritersNeverTearTheFile) {
  std::string p = path("out.txt");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) write_file_atomic(p, std::string(10000 + t, static_cast<char>('a' + t)));
    });
  for (auto& th : threads) th.join();
  std::vector<uint8_t> got = slurp(p);
  ASSERT_GE(got.size(), 10000u);
  char c = static_cast<char>(got[0]);
  EXPECT_EQ(got.size(), 10000u + static_cast<size_t>(c - 'a'));
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [&](uint8_t b) { return b == static_cast<uint8_t>(c); }));
  EXPECT_EQ(listing(), std::vector<std::string>{"out.txt"});
}

}  // namespace
}  // namespace ebm
