// safetensors files (huggingface/safetensors): an unsigned little-endian u64 N, N bytes of JSON
// header {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..],
// "data_offsets": [begin, end]}, ...} padded with spaces, then the raw little-endian row-major
// data, fully covered by the tensors' [begin, end) ranges. The engine's checkpoints use it so that
// `safetensors.torch.load_file` opens them, with PyTorch state_dict names.
//
// The writer reproduces the reference (Rust) writer byte for byte: tensors ordered by dtype
// (I64, F64, F32, BF16, F16) then name, compact JSON, header padded to a multiple of 8, and the
// file is replaced atomically (core/io/atomic_file.h). The reader validates everything and throws
// IOError naming the file and the offending tensor or field; no input can make it crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ebm {

// Tensors in state_dict order; names must be unique and not "__metadata__".
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
// __metadata__: string values only (safetensors' rule). Store structured data as one JSON string,
// e.g. metadata["config"] = json::dump(config).
using SafetensorsMetadata = std::map<std::string, std::string>;

// The safetensors dtype tag of an engine dtype: "F32", "F64", "BF16", "F16", "I64".
const char* safetensors_dtype(DType t);
// The engine dtype of a tag; false for a tag the engine cannot hold (e.g. "I32", "U8", "BOOL").
bool dtype_from_safetensors(const std::string& tag, DType* out);

// One entry of a header, as the file states it.
struct SafetensorsEntry {
  std::string name;
  std::string dtype;            // the tag as written, e.g. "F32"
  std::vector<int64_t> shape;   // [] for a 0-d tensor
  uint64_t begin = 0, end = 0;  // data_offsets, relative to the start of the data
};

// A parsed and validated header.
struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in data order (ascending offsets)
  SafetensorsMetadata metadata;
  uint64_t data_offset = 0;  // 8 + N: where the data starts in the file
  uint64_t data_bytes = 0;   // bytes after the header; equals the last entry's end
};

// The tensors of a file (CPU tensors, in data order) and its metadata.
struct SafetensorsFile {
  NamedTensors tensors;
  SafetensorsMetadata metadata;
  const Tensor* find(const std::string& name) const;  // nullptr when absent
  const Tensor& at(const std::string& name) const;    // ValueError naming the missing tensor
};

// Serialises to an in-memory safetensors image (tensors may live on any device; they are copied
// to the host one at a time). ValueError for duplicate names, the reserved name "__metadata__",
// undefined tensors, and names or metadata strings that are not valid UTF-8.
std::vector<uint8_t> encode_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata = {});
// Writes a safetensors file atomically (temporary file, fsync, rename, directory fsync), streaming
// one tensor's host copy at a time. Same checks as encode_safetensors; IOError when writing fails,
// in which case any previous file at `path` is left untouched.
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata = {});

// Validates the header of a complete image or file of `total_size` bytes whose first bytes are in
// buf (size bytes, at least 8 + N). `source` names the file in messages.
SafetensorsHeader parse_safetensors_header(const void* buf, size_t size, uint64_t total_size,
                                           const std::string& source);
// Decodes a complete in-memory image.
SafetensorsFile decode_safetensors(const void* buf, size_t size, const std::string& source);
// Reads a file: the header, then each tensor straight into its own allocation.
SafetensorsFile read_safetensors(const std::string& path);
// Reads only the header (names, dtypes, shapes, metadata) without the data.
SafetensorsHeader read_safetensors_header(const std::string& path);

// What a loader expects of one tensor.
struct TensorSpec {
  Shape shape;
  DType dtype = DType::Float32;
  static TensorSpec of(const Tensor& t) { return {t.shape(), t.dtype()}; }
};
using ExpectedTensors = std::vector<std::pair<std::string, TensorSpec>>;

// Compares a file's tensors with what a model expects and throws one error listing every
// problem, each naming its tensor: expected names that are missing, names the model does not
// have (only when `strict`), shape mismatches and dtype mismatches. The type is ShapeError when
// every problem is a shape mismatch, DTypeError when every problem is a dtype mismatch, IOError
// otherwise. `source` names the file.
void check_safetensors(const NamedTensors& found, const ExpectedTensors& expected, bool strict,
                       const std::string& source);
// Reads a file checked against `expected`: the header is checked first (so a wrong file is refused
// before its data is read), then the tensors are read. Non-strict, only the expected tensors are
// read and returned; others are skipped unread, whatever their dtype.
SafetensorsFile read_safetensors_checked(const std::string& path, const ExpectedTensors& expected,
                                         bool strict = true);

}  // namespace ebm
