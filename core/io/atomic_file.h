// Crash-safe file replacement: the bytes go to a uniquely named temporary file in the target's
// directory, which is fsynced, renamed over the target and followed by an fsync of the directory.
// A reader therefore sees either the old file or the complete new one, never a half-written file
// under the final name, even after a crash or power loss (a crash may leave a stale hidden
// ".<name>.tmp.*" beside it, never a torn <name>). Used for checkpoints (safetensors) and any
// other output that must not be torn (metrics, images).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/common.h"

namespace ebm {

// The sink an atomic write's producer writes through. Small writes are buffered; every failure
// throws IOError naming the final path, the temporary file and the errno text.
class AtomicFileSink {
 public:
  void write(const void* data, size_t bytes);
  void write(std::string_view s) { write(s.data(), s.size()); }
  uint64_t bytes_written() const { return written_; }

 private:
  friend void write_file_atomic(const std::string&, const std::function<void(AtomicFileSink&)>&);
  AtomicFileSink(int fd, const std::string& path, const std::string& temp);
  void flush();
  int fd_;
  const std::string& path_;
  const std::string& temp_;
  std::vector<char> buffer_;
  uint64_t written_ = 0;
};

// Replaces (or creates) `path` with what `produce` writes to the sink. The new file gets the
// permissions 0666 minus the umask. If anything fails (opening, writing, fsync, rename) or
// `produce` throws, the temporary file is removed, `path` is left exactly as it was, and the
// error propagates: an IOError for system failures (naming the path and the errno text), the
// producer's own exception otherwise. Only when the final directory fsync fails after the rename
// is the new file already in place; the IOError then says so.
void write_file_atomic(const std::string& path, const std::function<void(AtomicFileSink&)>& produce);
// The same for bytes already in memory.
void write_file_atomic(const std::string& path, const void* data, size_t bytes);
inline void write_file_atomic(const std::string& path, std::string_view bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}

// Test hook: makes the next atomic write fail at `stage` as if that system call had returned
// EIO (one shot; Stage::None disarms). Lets tests show that a failure at each step leaves the old
// file intact and no temporary behind, which a root-run CI cannot provoke with permissions.
enum class AtomicWriteStage : uint8_t { None, Open, Write, Sync, Close, Rename, SyncDir };
void inject_atomic_write_failure(AtomicWriteStage stage);

}  // namespace ebm
