// Atomic file replacement (see atomic_file.h): POSIX open(O_EXCL) of a unique temporary in the
// same directory (rename is atomic only within one file system), write loop with EINTR and short
// writes handled, fsync, close, rename, then fsync of the directory so the rename itself is
// durable.
#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <random>

namespace ebm {

namespace {

constexpr size_t kBufferBytes = size_t(1) << 20;  // writes below this are gathered first

std::atomic<AtomicWriteStage> g_fault{AtomicWriteStage::None};
std::atomic<uint64_t> g_counter{0};

// True (with errno = EIO) when the test hook is armed for this stage; disarms it.
bool injected(AtomicWriteStage stage) {
  AtomicWriteStage expected = stage;
  if (stage == AtomicWriteStage::None || !g_fault.compare_exchange_strong(expected, AtomicWriteStage::None))
    return false;
  errno = EIO;
  return true;
}

std::string errno_text(int e) { return std::strerror(e); }

std::string directory_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string base_of(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A name no other writer (thread or process) picks: pid, a process-wide counter and random bits.
std::string temp_name(const std::string& path) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  std::string dir = directory_of(path);
  std::string prefix = dir == "/" ? "/" : dir + "/";
  return str(prefix, ".", base_of(path), ".tmp.", ::getpid(), ".", g_counter.fetch_add(1), ".",
             std::hex, rng() & 0xFFFFFFFFu);
}

// Closes the descriptor and removes the temporary unless disarmed (after a successful rename).
struct TempGuard {
  int fd = -1;
  std::string temp;
  bool armed = true;
  ~TempGuard() {
    if (fd >= 0) ::close(fd);
    if (armed && !temp.empty()) ::unlink(temp.c_str());
  }
};

void write_all(int fd, const char* p, size_t n, const std::string& path, const std::string& temp) {
  while (n > 0) {
    ssize_t w = injected(AtomicWriteStage::Write) ? -1 : ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      EBM_THROW(IOError, "write_file_atomic: writing '", path, "' (temporary '", temp, "') failed: ",
                errno_text(e));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

AtomicFileSink::AtomicFileSink(int fd, const std::string& path, const std::string& temp)
    : fd_(fd), path_(path), temp_(temp) {
  buffer_.reserve(kBufferBytes);
}

void AtomicFileSink::write(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  written_ += bytes;
  if (buffer_.size() + bytes <= kBufferBytes) {
    buffer_.insert(buffer_.end(), p, p + bytes);
    return;
  }
  flush();
  if (bytes >= kBufferBytes) {
    write_all(fd_, p, bytes, path_, temp_);  // large blocks go straight to the file
  } else {
    buffer_.insert(buffer_.end(), p, p + bytes);
  }
}

void AtomicFileSink::flush() {
  if (!buffer_.empty()) write_all(fd_, buffer_.data(), buffer_.size(), path_, temp_);
  buffer_.clear();
}

void write_file_atomic(const std::string& path, const std::function<void(AtomicFileSink&)>& produce) {
  EBM_CHECK(!path.empty() && path.back() != '/', IOError, "write_file_atomic: '", path,
            "' is not a file path");
  TempGuard g;
  // O_EXCL: never reuse a file someone else created; retry with a new name on a collision.
  for (int attempt = 0;; ++attempt) {
    g.temp = temp_name(path);
    g.fd = injected(AtomicWriteStage::Open)
               ? -1
               : ::open(g.temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (g.fd >= 0) break;
    int e = errno;
    if (e == EEXIST && attempt < 16) continue;
    g.temp.clear();  // nothing was created
    EBM_THROW(IOError, "write_file_atomic: cannot create a temporary file in '", directory_of(path),
              "' to write '", path, "': ", errno_text(e));
  }

  AtomicFileSink sink(g.fd, path, g.temp);
  produce(sink);  // an exception leaves through the guard, which removes the temporary
  sink.flush();

  auto fail = [&](const char* what, int e) {
    EBM_THROW(IOError, "write_file_atomic: ", what, " '", path, "' (temporary '", g.temp, "') failed: ",
              errno_text(e));
  };
  if (injected(AtomicWriteStage::Sync) || ::fsync(g.fd) != 0) fail("fsync of", errno);
  int fd = g.fd;
  g.fd = -1;
  if (injected(AtomicWriteStage::Close)) {
    ::close(fd);
    fail("closing", EIO);
  }
  if (::close(fd) != 0) fail("closing", errno);
  if (injected(AtomicWriteStage::Rename) || ::rename(g.temp.c_str(), path.c_str()) != 0)
    fail("renaming the temporary onto", errno);
  g.armed = false;

  // Make the rename durable. File systems that cannot fsync a directory say EINVAL; nothing more
  // can be done there, so that is not an error.
  std::string dir = directory_of(path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int e = dfd < 0 ? errno : 0;
  if (dfd >= 0) {
    if (injected(AtomicWriteStage::SyncDir) || ::fsync(dfd) != 0) e = errno;
    ::close(dfd);
  }
  if (e != 0 && e != EINVAL && e != ENOTSUP)
    EBM_THROW(IOError, "write_file_atomic: '", path, "' was written and renamed into place, but "
              "syncing its directory '", dir, "' failed (the rename may not survive a crash): ",
              errno_text(e));
}

void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  write_file_atomic(path, [&](AtomicFileSink& sink) { sink.write(data, bytes); });
}

void inject_atomic_write_failure(AtomicWriteStage stage) { g_fault.store(stage); }

}  // namespace ebm
