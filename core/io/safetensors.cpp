// safetensors reading and writing (see safetensors.h). The header is built and parsed with
// core/io/json; the file is written through core/io/atomic_file. Every check of the reference
// validator is made (header size limit, leading '{', string-only metadata, known dtypes, span ==
// numel x size, offsets contiguous from 0 and covering the data exactly, unique names) plus ours
// (unknown fields, engine dtypes and ranks), each as an IOError naming the file and the tensor.
#include "core/io/safetensors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "core/io/atomic_file.h"
#include "core/io/json.h"

namespace ebm {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian and copied as is; a big-endian host needs byte swaps");

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference's MAX_HEADER_SIZE
constexpr size_t kMaxRank = 64;                    // far above any real tensor; bounds the work
constexpr const char* kMetadataKey = "__metadata__";

#define ST_FAIL(source, ...) EBM_THROW(IOError, "safetensors: ", source, ": ", __VA_ARGS__)

// Every dtype of the format, in the order of the reference's Dtype enum (its writer sorts by it,
// descending), with its size in bits.
struct DtypeInfo {
  const char* tag;
  unsigned bits;
};
constexpr DtypeInfo kDtypes[] = {
    {"BOOL", 8},     {"F4", 4},           {"F6_E2M3", 6},      {"F6_E3M2", 6}, {"U8", 8},
    {"I8", 8},       {"F8_E5M2", 8},      {"F8_E4M3", 8},      {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8},
    {"F8_E5M2FNUZ", 8}, {"I16", 16},      {"U16", 16},         {"F16", 16},    {"BF16", 16},
    {"I32", 32},     {"U32", 32},         {"F32", 32},         {"C64", 64},    {"F64", 64},
    {"I64", 64},     {"U64", 64}};

const DtypeInfo* find_dtype(const std::string& tag) {
  for (const auto& d : kDtypes)
    if (tag == d.tag) return &d;
  return nullptr;
}

int dtype_rank(DType t) {  // position in kDtypes, the writer's sort key
  const char* tag = safetensors_dtype(t);
  for (size_t i = 0; i < sizeof kDtypes / sizeof kDtypes[0]; ++i)
    if (std::strcmp(kDtypes[i].tag, tag) == 0) return static_cast<int>(i);
  return -1;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string quoted(const std::string& name) {  // a name as it appears in messages
  return "'" + name + "'";
}

// ---- writing

// The order and the padded header of a file; validates names and metadata.
struct WritePlan {
  std::vector<const std::pair<std::string, Tensor>*> order;
  std::string header;  // JSON padded with spaces to a multiple of 8 bytes
  uint64_t data_bytes = 0;
};

void check_utf8(const std::string& s, const std::string& what) {
  try {
    json::quote(s);
  } catch (const ValueError&) {
    EBM_THROW(ValueError, "write_safetensors: ", what, " ", quoted(s), " is not valid UTF-8 (the "
              "header is JSON)");
  }
}

WritePlan plan_write(const NamedTensors& tensors, const SafetensorsMetadata& metadata) {
  WritePlan p;
  std::unordered_set<std::string> seen;
  for (const auto& nt : tensors) {
    EBM_CHECK(nt.first != kMetadataKey, ValueError,
              "write_safetensors: a tensor may not be named '__metadata__' (reserved by the format)");
    EBM_CHECK(seen.insert(nt.first).second, ValueError, "write_safetensors: tensor name ",
              quoted(nt.first), " appears twice");
    EBM_CHECK(nt.second.defined(), ValueError, "write_safetensors: tensor ", quoted(nt.first),
              " is undefined");
    check_utf8(nt.first, "tensor name");
    p.order.push_back(&nt);
  }
  for (const auto& kv : metadata) {
    check_utf8(kv.first, "metadata key");
    check_utf8(kv.second, str("the value of metadata key ", quoted(kv.first), ":").c_str());
  }
  // The reference writer's order: dtype descending (enum order), then name (bytewise).
  std::sort(p.order.begin(), p.order.end(), [](const auto* a, const auto* b) {
    int ra = dtype_rank(a->second.dtype()), rb = dtype_rank(b->second.dtype());
    return ra != rb ? ra > rb : a->first < b->first;
  });

  json::Value h = json::Value::object();
  if (!metadata.empty()) {
    json::Value m = json::Value::object();
    for (const auto& kv : metadata) m.set(kv.first, kv.second);
    h.set(kMetadataKey, std::move(m));
  }
  for (const auto* nt : p.order) {
    const Tensor& t = nt->second;
    json::Value shape = json::Value::array();
    for (int64_t d : t.shape().vec()) shape.push_back(d);
    uint64_t begin = p.data_bytes;
    p.data_bytes += t.nbytes();
    json::Value info = json::Value::object();
    info.set("dtype", safetensors_dtype(t.dtype()));
    info.set("shape", std::move(shape));
    info.set("data_offsets", json::Value::Array{json::Value(begin), json::Value(p.data_bytes)});
    h.as_object().emplace_back(nt->first, std::move(info));  // names are unique (checked above)
  }
  p.header = json::dump(h);
  p.header.append((8 - p.header.size() % 8) % 8, ' ');  // the data starts 8-aligned
  return p;
}

// Emits the file through write(const void*, size_t), one host copy of a tensor at a time.
template <class Write>
void emit(const WritePlan& p, Write&& write) {
  uint8_t len[8];
  uint64_t n = p.header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
  write(len, 8);
  write(p.header.data(), p.header.size());
  for (const auto* nt : p.order) {
    Tensor host = nt->second.to(Device::cpu());
    if (host.nbytes()) write(host.data_ptr(), host.nbytes());
  }
}

// ---- reading

uint64_t read_u64_le(const uint8_t* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// Checks the first 8 bytes (n of them available) of a file of total_size bytes; returns N.
uint64_t header_length(const uint8_t* b, size_t n, uint64_t total_size, const std::string& src) {
  if (total_size < 8)
    ST_FAIL(src, "file has only ", total_size, " bytes, fewer than the 8-byte header length (truncated "
            "or not a safetensors file)");
  EBM_CHECK(n >= 8, ValueError, "safetensors: ", src, ": fewer than 8 bytes given to the parser");
  uint64_t len = read_u64_le(b);
  if (len > kMaxHeaderBytes)
    ST_FAIL(src, "header length ", len, " exceeds the limit of ", kMaxHeaderBytes,
            " bytes (corrupted, or not a safetensors file)");
  if (len > total_size - 8)
    ST_FAIL(src, "truncated: the header length says ", len, " bytes, but only ", total_size - 8,
            " bytes follow it");
  return len;
}

uint64_t nonnegative_int(const json::Value& v, const std::string& src, const std::string& name,
                         const char* field) {
  if (!v.is_int() || v.as_int() < 0)
    ST_FAIL(src, "tensor ", quoted(name), ": every entry of \"", field,
            "\" must be a non-negative integer, found ", v.is_int() ? std::to_string(v.as_int())
                                                                  : json::type_name(v.type()));
  return static_cast<uint64_t>(v.as_int());
}

SafetensorsEntry parse_entry(const std::string& name, const json::Value& v, const std::string& src) {
  if (!v.is_object())
    ST_FAIL(src, "tensor ", quoted(name), ": expected an object with dtype, shape and data_offsets, found ",
            json::type_name(v.type()));
  SafetensorsEntry e;
  e.name = name;
  bool have_dtype = false, have_shape = false, have_offsets = false;
  for (const auto& [field, value] : v.as_object()) {
    if (field == "dtype") {
      if (!value.is_string()) ST_FAIL(src, "tensor ", quoted(name), ": \"dtype\" must be a string");
      e.dtype = value.as_string();
      if (!find_dtype(e.dtype)) ST_FAIL(src, "tensor ", quoted(name), ": unknown dtype ", quoted(e.dtype));
      have_dtype = true;
    } else if (field == "shape") {
      if (!value.is_array()) ST_FAIL(src, "tensor ", quoted(name), ": \"shape\" must be an array");
      if (value.size() > kMaxRank)
        ST_FAIL(src, "tensor ", quoted(name), ": shape has ", value.size(), " dimensions");
      for (const auto& d : value.as_array())
        e.shape.push_back(static_cast<int64_t>(nonnegative_int(d, src, name, "shape")));
      have_shape = true;
    } else if (field == "data_offsets") {
      if (!value.is_array() || value.size() != 2)
        ST_FAIL(src, "tensor ", quoted(name), ": \"data_offsets\" must be an array [begin, end]");
      e.begin = nonnegative_int(value.as_array()[0], src, name, "data_offsets");
      e.end = nonnegative_int(value.as_array()[1], src, name, "data_offsets");
      if (e.end < e.begin)
        ST_FAIL(src, "tensor ", quoted(name), ": data_offsets [", e.begin, ", ", e.end, "] end before they begin");
      have_offsets = true;
    } else {
      ST_FAIL(src, "tensor ", quoted(name), ": unexpected field \"", field,
              "\" (expected dtype, shape, data_offsets)");
    }
  }
  if (!have_dtype || !have_shape || !have_offsets)
    ST_FAIL(src, "tensor ", quoted(name), ": missing field \"",
            !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets", "\"");
  // Byte span: numel x bits / 8, with overflow checks.
  uint64_t numel = 1;
  for (int64_t d : e.shape)
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel))
      ST_FAIL(src, "tensor ", quoted(name), ": shape ", shape_text(e.shape), " overflows");
  uint64_t bits;
  if (__builtin_mul_overflow(numel, find_dtype(e.dtype)->bits, &bits))
    ST_FAIL(src, "tensor ", quoted(name), ": shape ", shape_text(e.shape), " overflows");
  if (bits % 8 != 0)
    ST_FAIL(src, "tensor ", quoted(name), ": ", numel, " elements of ", e.dtype, " do not fill whole bytes");
  if (e.end - e.begin != bits / 8)
    ST_FAIL(src, "tensor ", quoted(name), ": data_offsets [", e.begin, ", ", e.end, "] span ", e.end - e.begin,
            " bytes, but shape ", shape_text(e.shape), " of ", e.dtype, " needs ", bits / 8);
  return e;
}

// Makes the empty CPU tensor an entry will be read into; IOError for what the engine cannot hold.
Tensor empty_tensor(const SafetensorsEntry& e, const std::string& src) {
  DType dt;
  if (!dtype_from_safetensors(e.dtype, &dt))
    ST_FAIL(src, "tensor ", quoted(e.name), ": dtype ", e.dtype,
            " is not supported by this engine (supported: F32, F64, BF16, F16, I64)");
  if (e.shape.size() > static_cast<size_t>(kMaxDims))
    ST_FAIL(src, "tensor ", quoted(e.name), ": shape ", shape_text(e.shape), " has ", e.shape.size(),
            " dimensions; tensors have at most ", kMaxDims);
  return Tensor::empty(Shape(e.shape), dt);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string errno_text() { return std::strerror(errno); }

void read_exact(std::FILE* f, void* dst, size_t n, const std::string& path, const std::string& what) {
  if (n && std::fread(dst, 1, n, f) != n)
    ST_FAIL(path, "reading ", what, " failed: ",
            std::ferror(f) ? errno_text() : "unexpected end of file (did it change while being read?)");
}

// An open file positioned after its header, with the parsed header.
struct OpenFile {
  FilePtr f;
  SafetensorsHeader header;
};

OpenFile open_file(const std::string& path) {
  errno = 0;
  OpenFile o;
  o.f.reset(std::fopen(path.c_str(), "rb"));
  if (!o.f) ST_FAIL(path, "cannot open: ", errno_text());
  struct stat st {};
  if (::fstat(::fileno(o.f.get()), &st) != 0) ST_FAIL(path, "cannot stat: ", errno_text());
  if (!S_ISREG(st.st_mode)) ST_FAIL(path, "not a regular file");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  std::vector<uint8_t> head(static_cast<size_t>(std::min<uint64_t>(size, 8)));
  read_exact(o.f.get(), head.data(), head.size(), path, "the header length");
  uint64_t n = header_length(head.data(), head.size(), size, path);
  head.resize(static_cast<size_t>(8 + n));
  read_exact(o.f.get(), head.data() + 8, static_cast<size_t>(n), path, "the header");
  o.header = parse_safetensors_header(head.data(), head.size(), size, path);
  return o;
}

// Reads the data of the entries `keep` accepts (all when null) into tensors, in data order.
SafetensorsFile read_data(OpenFile& o, const std::string& path,
                          const std::unordered_set<std::string>* keep) {
  SafetensorsFile out;
  out.metadata = o.header.metadata;
  uint64_t pos = 0;  // within the data
  for (const auto& e : o.header.entries) {
    if (keep && !keep->count(e.name)) continue;
    Tensor t = empty_tensor(e, path);
    if (e.begin != pos &&
        std::fseek(o.f.get(), static_cast<long>(o.header.data_offset + e.begin), SEEK_SET) != 0)
      ST_FAIL(path, "cannot seek to tensor ", quoted(e.name), ": ", errno_text());
    read_exact(o.f.get(), t.data_ptr(), t.nbytes(), path, "tensor " + quoted(e.name));
    pos = e.end;
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

// A tensor as the checker sees it: name, shape and dtype tag, from a file or a header.
struct Found {
  const std::string* name;
  std::vector<int64_t> shape;
  std::string dtype;
};

void check_found(const std::vector<Found>& found, const ExpectedTensors& expected, bool strict,
                 const std::string& source) {
  constexpr size_t kMaxListed = 20;  // per kind; a wrong file would otherwise list hundreds
  std::unordered_map<std::string, const Found*> by_name;
  for (const auto& f : found) by_name.emplace(*f.name, &f);
  std::unordered_set<std::string> wanted;
  std::vector<std::string> missing, unexpected, shapes, dtypes;
  for (const auto& [name, spec] : expected) {
    if (!wanted.insert(name).second) continue;
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      missing.push_back(str(quoted(name), " (", safetensors_dtype(spec.dtype), " ", spec.shape, ")"));
      continue;
    }
    const Found& f = *it->second;
    if (f.shape != spec.shape.vec())
      shapes.push_back(str(quoted(name), " (file ", shape_text(f.shape), ", model ", spec.shape, ")"));
    if (f.dtype != safetensors_dtype(spec.dtype))
      dtypes.push_back(str(quoted(name), " (file ", f.dtype, ", model ", safetensors_dtype(spec.dtype), ")"));
  }
  if (strict)
    for (const auto& f : found)
      if (!wanted.count(*f.name)) unexpected.push_back(str(quoted(*f.name), " (", f.dtype, " ", shape_text(f.shape), ")"));
  size_t problems = missing.size() + unexpected.size() + shapes.size() + dtypes.size();
  if (problems == 0) return;
  std::string msg = str("safetensors: ", source, ": the file does not match the model (", problems,
                        problems == 1 ? " problem)" : " problems)");
  auto list = [&](const char* title, const std::vector<std::string>& items) {
    if (items.empty()) return;
    msg += str("; ", title, " (", items.size(), "): ");
    for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) msg += (i ? ", " : "") + items[i];
    if (items.size() > kMaxListed) msg += str(", and ", items.size() - kMaxListed, " more");
  };
  list("missing tensors", missing);
  list("unexpected tensors", unexpected);
  list("shape mismatches", shapes);
  list("dtype mismatches", dtypes);
  if (shapes.size() == problems) throw ShapeError(msg, __FILE__, __LINE__);
  if (dtypes.size() == problems) throw DTypeError(msg, __FILE__, __LINE__);
  throw IOError(msg, __FILE__, __LINE__);
}

}  // namespace

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::BFloat16: return "BF16";
    case DType::Float16: return "F16";
    case DType::Int64: return "I64";
  }
  return "?";
}

bool dtype_from_safetensors(const std::string& tag, DType* out) {
  for (DType t : {DType::Float32, DType::Float64, DType::BFloat16, DType::Float16, DType::Int64})
    if (tag == safetensors_dtype(t)) {
      *out = t;
      return true;
    }
  return false;
}

const Tensor* SafetensorsFile::find(const std::string& name) const {
  for (const auto& nt : tensors)
    if (nt.first == name) return &nt.second;
  return nullptr;
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  const Tensor* t = find(name);
  EBM_CHECK(t != nullptr, ValueError, "safetensors: no tensor named ", quoted(name), " in the file");
  return *t;
}

std::vector<uint8_t> encode_safetensors(const NamedTensors& tensors, const SafetensorsMetadata& metadata) {
  WritePlan p = plan_write(tensors, metadata);
  std::vector<uint8_t> out;
  out.reserve(8 + p.header.size() + p.data_bytes);
  emit(p, [&](const void* d, size_t n) {
    const auto* b = static_cast<const uint8_t*>(d);
    out.insert(out.end(), b, b + n);
  });
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const SafetensorsMetadata& metadata) {
  WritePlan p = plan_write(tensors, metadata);  // all checks before the file is touched
  write_file_atomic(path, [&](AtomicFileSink& sink) {
    emit(p, [&](const void* d, size_t n) { sink.write(d, n); });
  });
}

SafetensorsHeader parse_safetensors_header(const void* buf, size_t size, uint64_t total_size,
                                           const std::string& source) {
  const auto* b = static_cast<const uint8_t*>(buf);
  uint64_t n = header_length(b, size, total_size, source);
  EBM_CHECK(size - 8 >= n, ValueError, "safetensors: ", source, ": the parser was given ", size,
            " bytes, the header needs ", 8 + n);
  std::string_view text(reinterpret_cast<const char*>(b + 8), static_cast<size_t>(n));
  if (text.empty() || text[0] != '{')
    ST_FAIL(source, "the header does not start with '{' (corrupted, or not a safetensors file)");
  json::Value root;
  try {
    json::ParseOptions opt;
    opt.max_depth = 4;  // {name: {field: [..]}} or {__metadata__: {k: v}}
    root = json::parse(text, opt);
  } catch (const json::ParseError& e) {
    ST_FAIL(source, "invalid JSON header: ", e.reason(), " at byte ", 8 + e.offset(), " of the file");
  }
  if (!root.is_object()) ST_FAIL(source, "the header is not a JSON object");

  SafetensorsHeader h;
  h.data_offset = 8 + n;
  h.data_bytes = total_size - h.data_offset;
  for (const auto& [key, value] : root.as_object()) {
    if (key == kMetadataKey) {
      if (!value.is_object())
        ST_FAIL(source, "\"__metadata__\" must be an object of strings, found ", json::type_name(value.type()));
      for (const auto& [k, v] : value.as_object()) {
        if (!v.is_string())
          ST_FAIL(source, "\"__metadata__\" value of ", quoted(k), " has type ", json::type_name(v.type()),
                  "; the format allows only strings");
        h.metadata[k] = v.as_string();
      }
      continue;
    }
    h.entries.push_back(parse_entry(key, value, source));
  }
  // Offsets must tile the data region exactly: contiguous from 0, no overlap, no hole, no tail.
  std::stable_sort(h.entries.begin(), h.entries.end(), [](const auto& x, const auto& y) {
    return x.begin != y.begin ? x.begin < y.begin : x.end < y.end;
  });
  uint64_t expect = 0;
  const SafetensorsEntry* prev = nullptr;
  for (const auto& e : h.entries) {
    if (e.begin < expect)
      ST_FAIL(source, "tensor ", quoted(e.name), ": data_offsets [", e.begin, ", ", e.end,
              "] overlap tensor ", quoted(prev->name), " [", prev->begin, ", ", prev->end, "]");
    if (e.begin > expect)
      ST_FAIL(source, "tensor ", quoted(e.name), ": data_offsets [", e.begin, ", ", e.end, "] leave ",
              e.begin - expect, " bytes before it that no tensor covers");
    if (e.end > h.data_bytes)
      ST_FAIL(source, "truncated: tensor ", quoted(e.name), " needs bytes [", e.begin, ", ", e.end,
              ") of the data, but the file holds only ", h.data_bytes, " data bytes");
    expect = e.end;
    prev = &e;
  }
  if (expect != h.data_bytes)
    ST_FAIL(source, h.data_bytes - expect, " bytes after the last tensor",
            prev ? " " + quoted(prev->name) : std::string(), " are not covered by any tensor");
  return h;
}

SafetensorsFile decode_safetensors(const void* buf, size_t size, const std::string& source) {
  SafetensorsHeader h = parse_safetensors_header(buf, size, size, source);
  SafetensorsFile out;
  out.metadata = std::move(h.metadata);
  const auto* data = static_cast<const uint8_t*>(buf) + h.data_offset;
  for (const auto& e : h.entries) {
    Tensor t = empty_tensor(e, source);
    if (t.nbytes()) std::memcpy(t.data_ptr(), data + e.begin, t.nbytes());
    out.tensors.emplace_back(e.name, std::move(t));
  }
  return out;
}

SafetensorsFile read_safetensors(const std::string& path) {
  OpenFile o = open_file(path);
  return read_data(o, path, nullptr);
}

SafetensorsHeader read_safetensors_header(const std::string& path) { return open_file(path).header; }

void check_safetensors(const NamedTensors& found, const ExpectedTensors& expected, bool strict,
                       const std::string& source) {
  std::vector<Found> f;
  for (const auto& [name, t] : found) f.push_back({&name, t.shape().vec(), safetensors_dtype(t.dtype())});
  check_found(f, expected, strict, source);
}

SafetensorsFile read_safetensors_checked(const std::string& path, const ExpectedTensors& expected,
                                         bool strict) {
  // The header alone decides the match, so a wrong file is refused before its data is read, and
  // in non-strict mode tensors the model does not have are skipped unread (whatever their dtype).
  OpenFile o = open_file(path);
  std::vector<Found> f;
  for (const auto& e : o.header.entries) f.push_back({&e.name, e.shape, e.dtype});
  check_found(f, expected, strict, path);
  std::unordered_set<std::string> keep;
  for (const auto& nt : expected) keep.insert(nt.first);
  return read_data(o, path, &keep);
}

}  // namespace ebm
