// TensorBoard event files (tfevents), written and read without protobuf or TensorFlow: each
// record is u64 length, u32 masked CRC-32C of the length bytes, the serialized Event, u32 masked
// CRC-32C of the data (masked = ((crc >> 15) | (crc << 17)) + 0xa282ead8). Events are encoded by
// hand in the protobuf wire format: wall_time (1, fixed64 double), step (2, varint),
// file_version (3, string), summary (5) { value (1) { tag (1), simple_value (2, fixed32 float) |
// image (4) { height 1, width 2, colorspace 3, encoded_image_string 4 (PNG) } } }.
// The file is named events.out.tfevents.<10-digit unix time>.<host>.<pid>.<n> (TensorBoard
// loads any file whose name contains "tfevents"); its first record carries "brain.Event:2".
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/io/png.h"

namespace ebm::io {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t masked_crc32c(const void* data, size_t n);

struct SummaryValue {
  std::string tag;
  bool has_scalar = false;
  float scalar = 0;
  bool has_image = false;
  int64_t height = 0, width = 0, colorspace = 0;
  std::vector<uint8_t> png;
};

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;  // set only on the first record
  std::vector<SummaryValue> values;
};

// Serialised Event bytes, and one framed record around them.
std::vector<uint8_t> encode_event(const Event& e);
std::vector<uint8_t> frame_record(const std::vector<uint8_t>& data);

class EventWriter {
 public:
  // Creates dir if needed and a new event file in it. Every add_* call appends one record and
  // flushes, so a killed run loses nothing already logged.
  explicit EventWriter(const std::string& dir);
  ~EventWriter();
  EventWriter(const EventWriter&) = delete;
  EventWriter& operator=(const EventWriter&) = delete;

  void add_scalar(const std::string& tag, double value, int64_t step);
  void add_scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step);
  void add_image(const std::string& tag, const Image8& image, int64_t step);
  const std::string& path() const { return path_; }

 private:
  void write(const Event& e);
  std::string path_;
  FILE* file_ = nullptr;
};

// Reads and checks every record of an event file (lengths, both CRCs, the protobuf fields this
// writer produces; unknown fields are skipped). Errors name the file, the record index and what
// is wrong.
std::vector<Event> read_events(const std::string& path);

}  // namespace ebm::io
