// .npy reading and writing (see npy.h). The header is a Python literal; we parse the small subset
// numpy writes for plain arrays (a dict of 'descr' string, 'fortran_order' bool, 'shape' tuple)
// and reject everything else with a message that names the source. Writing reproduces numpy's
// own header byte for byte (key order, growth spaces, 64-byte alignment), so files we write are
// identical to np.save's for the same array.
#include "core/io/npy.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

namespace ebm {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the .npy reader copies little-endian data as is; a big-endian host needs byte swaps");

namespace {

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
constexpr size_t kAlign = 64;               // numpy's ARRAY_ALIGN
constexpr size_t kGrowthAxisMaxDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS

// Throws IOError "npy: <source>: <what>" with this file's line of the check.
#define NPY_FAIL(source, what) EBM_THROW(IOError, "npy: ", source, ": ", what)

std::string shape_repr(const std::vector<int64_t>& shape) {  // Python's repr of the tuple
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

int64_t checked_numel(const std::vector<int64_t>& shape, size_t itemsize, const std::string& src) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) NPY_FAIL(src, str("negative dimension ", d, " in shape ", shape_repr(shape)));
    if (__builtin_mul_overflow(n, d, &n)) NPY_FAIL(src, str("shape ", shape_repr(shape), " overflows"));
  }
  int64_t bytes;
  if (__builtin_mul_overflow(n, static_cast<int64_t>(itemsize), &bytes))
    NPY_FAIL(src, str("shape ", shape_repr(shape), " overflows"));
  return n;
}

// Tokenizer over the header text.
class HeaderParser {
 public:
  HeaderParser(const char* p, const char* end, const std::string& src) : p_(p), end_(end), src_(src) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (eat('}')) break;
      std::string key = string_literal("a dict key");
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (peek() == '[' || peek() == '(')
          NPY_FAIL(src_, "structured (record) dtypes are not supported; save a plain array");
        h.type = parse_descr(string_literal("the 'descr' value"));
        have_descr = true;
      } else if (key == "fortran_order") {
        if (word("True"))
          NPY_FAIL(src_, "fortran_order is True; only C-order arrays are supported "
                     "(save np.ascontiguousarray(a))");
        if (!word("False")) NPY_FAIL(src_, str("fortran_order must be True or False, found ", context()));
        have_fortran = true;
      } else if (key == "shape") {
        h.shape = shape_tuple();
        have_shape = true;
      } else {
        NPY_FAIL(src_, str("unexpected header key '", key, "' (expected descr, fortran_order, shape)"));
      }
      skip_ws();
      if (eat('}')) break;
      expect(',');
    }
    skip_ws();
    if (p_ != end_) NPY_FAIL(src_, str("unexpected text after the header dict: ", context()));
    if (!have_descr || !have_fortran || !have_shape)
      NPY_FAIL(src_, str("header lacks the key '",
                     !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape", "'"));
    return h;
  }

 private:
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    if (peek() != c || p_ == end_) return false;
    ++p_;
    return true;
  }
  void expect(char c) {
    if (!eat(c)) NPY_FAIL(src_, str("malformed header: expected '", c, "' at ", context()));
  }
  bool word(const char* w) {
    size_t n = std::strlen(w);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, w, n) != 0) return false;
    p_ += n;
    return true;
  }
  std::string context() const {  // the next few characters, for messages
    if (p_ == end_) return "end of header";
    std::string s;
    for (const char* q = p_; q < end_ && s.size() < 20; ++q)
      s += (*q >= 32 && *q < 127) ? *q : '?';
    return "\"" + s + "\"";
  }
  std::string string_literal(const char* what) {
    char q = peek();
    if (q != '\'' && q != '"') NPY_FAIL(src_, str("malformed header: expected ", what, " at ", context()));
    ++p_;
    std::string s;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\') NPY_FAIL(src_, "malformed header: escapes in strings are not supported");
      s += *p_++;
    }
    if (p_ == end_) NPY_FAIL(src_, "malformed header: unterminated string");
    ++p_;
    return s;
  }
  int64_t integer() {
    if (!(peek() >= '0' && peek() <= '9'))
      NPY_FAIL(src_, str("malformed header: expected a dimension at ", context()));
    int64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *p_ - '0', &v))
        NPY_FAIL(src_, "a dimension in 'shape' overflows int64");
      ++p_;
    }
    if (peek() == 'L') ++p_;  // Python 2 long suffix, still found in old files
    return v;
  }
  std::vector<int64_t> shape_tuple() {
    std::vector<int64_t> shape;
    expect('(');
    skip_ws();
    if (eat(')')) return shape;
    for (;;) {
      shape.push_back(integer());
      skip_ws();
      if (eat(')')) break;
      expect(',');
      skip_ws();
      if (eat(')')) break;
    }
    return shape;
  }
  NpyType parse_descr(const std::string& d) {
    if (d == "<f4") return NpyType::Float32;
    if (d == "<f8") return NpyType::Float64;
    if (d == "<i8") return NpyType::Int64;
    if (d == "|u1" || d == "<u1" || d == ">u1" || d == "=u1" || d == "u1") return NpyType::UInt8;
    if (!d.empty() && d[0] == '>')
      NPY_FAIL(src_, str("big-endian dtype '", d, "' is not supported (save a.astype('<", d.substr(1),
                     "'))"));
    NPY_FAIL(src_, str("unsupported dtype '", d, "' (supported: <f4, <f8, <i8, |u1)"));
  }

  const char* p_;
  const char* end_;
  const std::string& src_;
};

// Checks magic and version in the first bytes and returns the offset of the data (the length of
// magic + version + length field + header). n may be short; then it says what is missing.
size_t header_extent(const uint8_t* b, size_t n, int* major, int* minor, const std::string& src) {
  if (n == 0) NPY_FAIL(src, "empty: not a .npy file");
  if (std::memcmp(b, kMagic, std::min<size_t>(n, 6)) != 0)
    NPY_FAIL(src, "bad magic: not a .npy file (expected \\x93NUMPY at the start)");
  if (n < 8) NPY_FAIL(src, str("truncated: only ", n, " bytes, shorter than the .npy preamble"));
  *major = b[6];
  *minor = b[7];
  if (!((*major == 1 || *major == 2) && *minor == 0))
    NPY_FAIL(src, str("unsupported .npy format version ", *major, ".", *minor, " (supported: 1.0, 2.0)"));
  size_t len_bytes = *major == 1 ? 2 : 4;
  if (n < 8 + len_bytes) NPY_FAIL(src, str("truncated: only ", n, " bytes, shorter than the .npy preamble"));
  size_t hlen = b[8] | (size_t(b[9]) << 8);
  if (len_bytes == 4) hlen |= (size_t(b[10]) << 16) | (size_t(b[11]) << 24);
  return 8 + len_bytes + hlen;
}

void check_data_size(const NpyHeader& h, size_t available, const std::string& src) {
  size_t need = h.data_bytes();
  if (available < need)
    NPY_FAIL(src, str("truncated data: shape ", shape_repr(h.shape), " of ", npy_descr(h.type),
                  " needs ", need, " bytes, only ", available, " present"));
  if (available > need)
    NPY_FAIL(src, str(available - need, " unexpected bytes after the data of shape ",
                  shape_repr(h.shape), " of ", npy_descr(h.type), " (", need, " bytes)"));
}

Shape tensor_shape(const std::vector<int64_t>& shape, const std::string& src) {
  if (shape.size() > static_cast<size_t>(kMaxDims))
    NPY_FAIL(src, str("array has ", shape.size(), " dimensions, tensors support at most ", kMaxDims,
                  " (use read_npy_array for the raw bytes)"));
  return Shape(shape);
}

// Fills a tensor from little-endian data of type t; uint8 becomes float32.
Tensor tensor_from_bytes(NpyType t, const std::vector<int64_t>& shape, const uint8_t* data,
                         const std::string& src) {
  Shape s = tensor_shape(shape, src);
  if (t == NpyType::UInt8) {
    Tensor out = Tensor::empty(s, DType::Float32);
    float* o = out.data<float>();
    for (int64_t i = 0; i < out.numel(); ++i) o[i] = data[i];
    return out;
  }
  DType dt = t == NpyType::Float32 ? DType::Float32 : t == NpyType::Float64 ? DType::Float64 : DType::Int64;
  Tensor out = Tensor::empty(s, dt);
  if (out.nbytes()) std::memcpy(out.data_ptr(), data, out.nbytes());
  return out;
}

// RAII FILE*.
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text() { return std::strerror(errno); }

// Opens path and reads its header; on return the file position is at the data and *remaining
// holds the number of bytes after the header.
NpyHeader open_and_read_header(const std::string& path, FilePtr* file, size_t* remaining) {
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) NPY_FAIL(path, "cannot open: " + errno_text());
  if (std::fseek(f.get(), 0, SEEK_END) != 0) NPY_FAIL(path, "cannot seek: " + errno_text());
  long end = std::ftell(f.get());
  if (end < 0) NPY_FAIL(path, "cannot determine the file size: " + errno_text());
  std::rewind(f.get());
  size_t file_size = static_cast<size_t>(end);

  std::vector<uint8_t> head(std::min<size_t>(file_size, 12));
  if (std::fread(head.data(), 1, head.size(), f.get()) != head.size())
    NPY_FAIL(path, "read error: " + errno_text());
  int major = 0, minor = 0;
  size_t offset = header_extent(head.data(), head.size(), &major, &minor, path);
  if (offset > file_size)
    NPY_FAIL(path, str("truncated header: header length says ", offset, " bytes, the file has ",
                   file_size));
  head.resize(offset);
  std::rewind(f.get());
  if (std::fread(head.data(), 1, offset, f.get()) != offset) NPY_FAIL(path, "read error: " + errno_text());
  NpyHeader h = parse_npy_header(head.data(), head.size(), path);
  *remaining = file_size - offset;
  *file = std::move(f);
  return h;
}

void read_exact(std::FILE* f, void* dst, size_t n, const std::string& path) {
  if (n && std::fread(dst, 1, n, f) != n) NPY_FAIL(path, "read error: " + errno_text());
}

NpyType npy_type_of(DType dt) {
  switch (dt) {
    case DType::Float32: return NpyType::Float32;
    case DType::Float64: return NpyType::Float64;
    case DType::Int64: return NpyType::Int64;
    default:
      EBM_THROW(DTypeError, "encode_npy: dtype ", dtype_name(dt),
                " cannot be written to .npy (float32, float64 or int64; convert with .to())");
  }
}

// Header bytes (magic through the final '\n') exactly as numpy 1.24 writes them.
std::vector<uint8_t> encode_header(NpyType t, const std::vector<int64_t>& shape) {
  std::string dict = str("{'descr': '", npy_descr(t), "', 'fortran_order': False, 'shape': ",
                         shape_repr(shape), ", }");
  if (!shape.empty()) {
    size_t digits = std::to_string(shape[0]).size();
    if (digits < kGrowthAxisMaxDigits) dict.append(kGrowthAxisMaxDigits - digits, ' ');
  }
  size_t hlen = dict.size() + 1;  // + '\n'
  // Version 1.0 unless the padded header overflows its u16 length field (numpy's rule).
  bool v1 = hlen + (kAlign - (10 + hlen) % kAlign) <= 65535;
  size_t prefix = v1 ? 10 : 12;
  size_t pad = kAlign - (prefix + hlen) % kAlign;
  size_t total_len = hlen + pad;
  std::vector<uint8_t> out(kMagic, kMagic + 6);
  out.push_back(v1 ? 1 : 2);
  out.push_back(0);
  for (size_t i = 0; i < (v1 ? 2u : 4u); ++i) out.push_back(static_cast<uint8_t>(total_len >> (8 * i)));
  out.insert(out.end(), dict.begin(), dict.end());
  out.insert(out.end(), pad, ' ');
  out.push_back('\n');
  return out;
}

std::vector<uint8_t> encode_raw(NpyType t, const std::vector<int64_t>& shape, const void* data,
                                size_t bytes) {
  std::vector<uint8_t> out = encode_header(t, shape);
  size_t h = out.size();
  out.resize(h + bytes);
  if (bytes) std::memcpy(out.data() + h, data, bytes);
  return out;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  errno = 0;
  FilePtr f(std::fopen(path.c_str(), "wb"));
  if (!f) EBM_THROW(IOError, "write_npy: cannot open '", path, "' for writing: ", errno_text());
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
    EBM_THROW(IOError, "write_npy: write to '", path, "' failed: ", errno_text());
  std::FILE* raw = f.release();
  if (std::fclose(raw) != 0)
    EBM_THROW(IOError, "write_npy: closing '", path, "' failed: ", errno_text());
}

}  // namespace

const char* npy_descr(NpyType t) {
  switch (t) {
    case NpyType::Float32: return "<f4";
    case NpyType::Float64: return "<f8";
    case NpyType::Int64: return "<i8";
    case NpyType::UInt8: return "|u1";
  }
  return "?";
}

size_t npy_itemsize(NpyType t) {
  switch (t) {
    case NpyType::Float32: return 4;
    case NpyType::Float64: return 8;
    case NpyType::Int64: return 8;
    case NpyType::UInt8: return 1;
  }
  return 0;
}

int64_t NpyHeader::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

NpyHeader parse_npy_header(const void* buf, size_t size, const std::string& source) {
  const auto* b = static_cast<const uint8_t*>(buf);
  int major = 0, minor = 0;
  size_t offset = header_extent(b, size, &major, &minor, source);
  if (offset > size)
    NPY_FAIL(source, str("truncated header: header length says ", offset, " bytes, only ", size,
                     " present"));
  size_t start = major == 1 ? 10 : 12;
  for (size_t i = start; i < offset; ++i)
    if (b[i] == 0 || b[i] >= 128)
      NPY_FAIL(source, str("malformed header: byte ", i, " is not printable ASCII"));
  const char* text = reinterpret_cast<const char*>(b + start);
  NpyHeader h = HeaderParser(text, text + (offset - start), source).parse();
  h.major = major;
  h.minor = minor;
  h.data_offset = offset;
  checked_numel(h.shape, npy_itemsize(h.type), source);
  return h;
}

NpyArray decode_npy(const void* buf, size_t size, const std::string& source) {
  NpyHeader h = parse_npy_header(buf, size, source);
  check_data_size(h, size - h.data_offset, source);
  NpyArray a;
  a.type = h.type;
  a.shape = h.shape;
  const auto* data = static_cast<const uint8_t*>(buf) + h.data_offset;
  a.data.assign(data, data + h.data_bytes());
  return a;
}

Tensor decode_npy_tensor(const void* buf, size_t size, const std::string& source) {
  NpyHeader h = parse_npy_header(buf, size, source);
  check_data_size(h, size - h.data_offset, source);
  return tensor_from_bytes(h.type, h.shape, static_cast<const uint8_t*>(buf) + h.data_offset, source);
}

Tensor npy_array_to_tensor(const NpyArray& a, const std::string& source) {
  size_t need = static_cast<size_t>(checked_numel(a.shape, npy_itemsize(a.type), source)) *
                npy_itemsize(a.type);
  if (a.data.size() != need)
    NPY_FAIL(source, str("array holds ", a.data.size(), " bytes, shape ", shape_repr(a.shape), " of ",
                     npy_descr(a.type), " needs ", need));
  return tensor_from_bytes(a.type, a.shape, a.data.data(), source);
}

Tensor read_npy(const std::string& path) {
  FilePtr f;
  size_t remaining = 0;
  NpyHeader h = open_and_read_header(path, &f, &remaining);
  check_data_size(h, remaining, path);
  Shape s = tensor_shape(h.shape, path);
  if (h.type == NpyType::UInt8) {
    std::vector<uint8_t> bytes(h.data_bytes());
    read_exact(f.get(), bytes.data(), bytes.size(), path);
    return tensor_from_bytes(h.type, h.shape, bytes.data(), path);
  }
  // Other types stream straight into the tensor's storage.
  DType dt = h.type == NpyType::Float32 ? DType::Float32
           : h.type == NpyType::Float64 ? DType::Float64 : DType::Int64;
  Tensor out = Tensor::empty(s, dt);
  read_exact(f.get(), out.data_ptr(), out.nbytes(), path);
  return out;
}

NpyArray read_npy_array(const std::string& path) {
  FilePtr f;
  size_t remaining = 0;
  NpyHeader h = open_and_read_header(path, &f, &remaining);
  check_data_size(h, remaining, path);
  NpyArray a;
  a.type = h.type;
  a.shape = h.shape;
  a.data.resize(h.data_bytes());
  read_exact(f.get(), a.data.data(), a.data.size(), path);
  return a;
}

std::vector<uint8_t> encode_npy(const Tensor& t) {
  check_defined(t, "encode_npy", "t");
  NpyType type = npy_type_of(t.dtype());
  Tensor host = t.to(Device::cpu());
  return encode_raw(type, host.shape().vec(), host.data_ptr(), host.nbytes());
}

std::vector<uint8_t> encode_npy(const NpyArray& a) {
  size_t need = static_cast<size_t>(checked_numel(a.shape, npy_itemsize(a.type), "encode_npy")) *
                npy_itemsize(a.type);
  EBM_CHECK(a.data.size() == need, ValueError, "encode_npy: array holds ", a.data.size(),
            " bytes, shape ", shape_repr(a.shape), " of ", npy_descr(a.type), " needs ", need);
  return encode_raw(a.type, a.shape, a.data.data(), a.data.size());
}

void write_npy(const std::string& path, const Tensor& t) { write_file(path, encode_npy(t)); }
void write_npy(const std::string& path, const NpyArray& a) { write_file(path, encode_npy(a)); }

}  // namespace ebm
