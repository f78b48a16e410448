// NumPy .npy files (numpy.lib.format, versions 1.0 and 2.0): magic "\x93NUMPY", version bytes,
// a little-endian u16 (1.0) or u32 (2.0) header length, a Python-literal dict
// {'descr': ..., 'fortran_order': ..., 'shape': (...), } padded with spaces and '\n', then the raw
// C-order data. Supported element types: '<f4', '<f8', '<i8' and '|u1', little-endian only.
//
// The decoder works on in-memory buffers (for .npz members later) and on files; the file reader
// streams the data straight into the tensor. Every malformed input throws ebm::IOError naming the
// source (file path, or the name the caller gave a buffer) and what is wrong.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ebm {

// Element types a .npy file may hold for this engine.
enum class NpyType : uint8_t { Float32, Float64, Int64, UInt8 };

const char* npy_descr(NpyType t);  // "<f4", "<f8", "<i8", "|u1"
size_t npy_itemsize(NpyType t);

// The parsed header of a .npy file or buffer.
struct NpyHeader {
  int major = 1, minor = 0;   // format version
  NpyType type = NpyType::Float32;
  std::vector<int64_t> shape;  // () for a 0-d array
  size_t data_offset = 0;      // bytes from the start of the file to the data
  int64_t numel() const;
  size_t data_bytes() const { return static_cast<size_t>(numel()) * npy_itemsize(type); }
};

// A decoded array as raw little-endian C-order bytes: any number of dims, and uint8 kept as bytes
// (the engine's tensors have no uint8 dtype and at most kMaxDims dims).
struct NpyArray {
  NpyType type = NpyType::Float32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
  int64_t numel() const;
};

// Parses the header at the start of buf (size bytes, which must hold at least the whole header;
// the data may follow). `source` names the buffer in error messages.
NpyHeader parse_npy_header(const void* buf, size_t size, const std::string& source);

// Decodes a complete .npy image held in memory; the data must be exactly as long as the header
// says (truncated or trailing bytes are errors).
NpyArray decode_npy(const void* buf, size_t size, const std::string& source);
// The same, as a tensor: '<f4' -> float32, '<f8' -> float64, '<i8' -> int64, '|u1' -> float32
// holding the byte values 0..255 unscaled. Throws IOError for more than kMaxDims dims.
Tensor decode_npy_tensor(const void* buf, size_t size, const std::string& source);
// Converts a decoded array to a tensor by the rules of decode_npy_tensor.
Tensor npy_array_to_tensor(const NpyArray& a, const std::string& source);

// Reads a .npy file into a CPU tensor (types as decode_npy_tensor).
Tensor read_npy(const std::string& path);
// Reads a .npy file keeping its raw bytes (the way to get uint8 data as bytes).
NpyArray read_npy_array(const std::string& path);

// Serialises to a .npy image: version 1.0 (2.0 only when the header needs more than 65535
// bytes), header padded so the data starts at a multiple of 64 bytes, as numpy writes it.
// Tensors must be float32, float64 or int64 (else DTypeError); they may live on any device.
std::vector<uint8_t> encode_npy(const Tensor& t);
std::vector<uint8_t> encode_npy(const NpyArray& a);
// Writes the encoded image to path (not atomically); IOError when the file cannot be written.
void write_npy(const std::string& path, const Tensor& t);
void write_npy(const std::string& path, const NpyArray& a);

}  // namespace ebm
