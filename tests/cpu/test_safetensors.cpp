// safetensors files (core/io/safetensors.h): bit-exact round trips of every engine dtype,
// byte-identity with files the reference Python package wrote (tests/data/safetensors/, made by
// tests/reference/make_safetensors_goldens.py), a checkpoint for and a state_dict from the PyTorch
// replica (tests/reference/check_safetensors_interop.py), every kind of corruption as an IOError
// naming the file and the tensor (never a crash: also run under AddressSanitizer), the checked
// loader's combined report, and a failed write keeping the previous checkpoint.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <tuple>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "test_util.h"

namespace ebm {
namespace {

namespace fs = std::filesystem;

std::string golden(const std::string& name) {
  return std::string(EBM_TEST_DATA_DIR) + "/safetensors/" + name;
}

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void spill(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A tensor of random bits (NaN payloads, denormals and all: a round trip must keep every bit).
Tensor random_bits(const Shape& s, DType dt) {
  Tensor t = Tensor::empty(s, dt);
  auto* b = static_cast<uint8_t*>(t.data_ptr());
  for (size_t i = 0; i < t.nbytes(); ++i) b[i] = static_cast<uint8_t>(test::rng()());
  return t;
}

bool bit_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor ha = a.to(Device::cpu()), hb = b.to(Device::cpu());
  return a.nbytes() == 0 || std::memcmp(ha.data_ptr(), hb.data_ptr(), a.nbytes()) == 0;
}

// A file image: u64 length, the header text (padded as given), then `data` bytes of zeros.
std::vector<uint8_t> image(const std::string& header, size_t data = 0) {
  std::vector<uint8_t> out(8 + header.size() + data, 0);
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
  std::copy(header.begin(), header.end(), out.begin() + 8);
  return out;
}

// A scratch directory per test, removed afterwards.
class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) / str("ebm_st_", info->name(), "_", ::getpid());
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
  // Writes the image to a file and expects reading it to throw E with the path and every part.
  template <class E = IOError>
  void expect_bad(const std::vector<uint8_t>& bytes, std::vector<std::string> parts) {
    std::string p = path("bad.safetensors");
    spill(p, bytes);
    parts.push_back(p);
    test::expect_error<E>([&] { read_safetensors(p); }, parts);
    test::expect_error<E>([&] { decode_safetensors(bytes.data(), bytes.size(), p); }, parts);
  }
  fs::path dir_;
};

// The tensors of tests/data/safetensors/tiny.safetensors, as the generator spells them.
NamedTensors tiny_tensors() {
  return {{"net.weight", Tensor::from_vector(std::vector<float>{0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -0.0f}, {2, 3})},
          {"net.bias", Tensor::from_vector(std::vector<float>{1.0f, -2.0f}, {2})},
          {"ema.scale", Tensor::scalar(3.141592653589793, DType::Float64)},
          {"step", Tensor::from_vector(std::vector<int64_t>{1234567890123}, {1})},
          {"buffer.empty", Tensor::empty({0, 3})}};
}
const char* kTinyConfig =
    "{\"lr\": 0.0001, \"name\": \"igebm \xC3\xA9\xE6\xBC\xA2\", \"note\": \"a \\\"b\\\"\\n\tc\x01\"}";

// Half-precision tensors from raw bits (the engine has no host arithmetic for them).
Tensor half_bits(const std::vector<uint16_t>& bits, const Shape& s, DType dt) {
  Tensor t = Tensor::empty(s, dt);
  std::memcpy(t.data_ptr(), bits.data(), bits.size() * 2);
  return t;
}

// ---- round trips and goldens

TEST_F(SafetensorsTest, RoundTripIsBitExact) {
  NamedTensors tensors = {
      {"blocks.0.conv1.weight", random_bits({8, 3, 3, 3}, DType::Float32)},
      {"blocks.0.conv1.bias", random_bits({8}, DType::Float32)},
      {"ema.blocks.0.conv1.weight", random_bits({8, 3, 3, 3}, DType::Float64)},
      {"optimizer.step", random_bits({}, DType::Int64)},
      {"rng.state", random_bits({4}, DType::Int64)},
      {"scalar", random_bits({}, DType::Float32)},
      {"empty", random_bits({0, 5}, DType::Float32)},
      {"five_dims", random_bits({2, 1, 3, 1, 2}, DType::Float64)},
      {"half", random_bits({3, 5}, DType::Float16)},
      {"bhalf", random_bits({7}, DType::BFloat16)},
      {"", random_bits({1}, DType::Float32)},  // the format allows an empty name
      {"\xC3\xA9t\xC3\xA9 \"q\"", random_bits({2}, DType::Float32)},
  };
  json::Value config = json::Value::object();
  config.set("lr", 1e-4);
  config.set("sampler", json::Value::Array{json::Value("langevin"), json::Value(60)});
  SafetensorsMetadata meta = {{"config", json::dump(config)}, {"step", "1200"}, {"empty", ""}};
  std::string p = path("ckpt.safetensors");
  write_safetensors(p, tensors, meta);
  EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});  // no temporary left
  EXPECT_EQ(slurp(p), encode_safetensors(tensors, meta));

  SafetensorsFile f = read_safetensors(p);
  EXPECT_EQ(f.metadata, meta);
  EXPECT_EQ(json::parse(f.metadata.at("config")), config);
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    ASSERT_NE(f.find(name), nullptr);
    EXPECT_EQ(f.find(name)->device(), Device::cpu());
    EXPECT_TRUE(bit_equal(*f.find(name), t));
  }
  // The in-memory decoder agrees.
  std::vector<uint8_t> bytes = slurp(p);
  SafetensorsFile g = decode_safetensors(bytes.data(), bytes.size(), "mem");
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    EXPECT_EQ(g.tensors[i].first, f.tensors[i].first);
    EXPECT_TRUE(bit_equal(g.tensors[i].second, f.tensors[i].second));
  }
  test::expect_error<ValueError>([&] { f.at("nope"); }, {"no tensor named 'nope'"});
}

TEST_F(SafetensorsTest, WriterOrderAndLayoutFollowTheReference) {
  // Dtype descending in the reference's enum order (I64, F64, F32, BF16, F16), then name; the
  // header padded with spaces so the data starts at a multiple of 8.
  NamedTensors tensors = {{"b", random_bits({1}, DType::Float16)}, {"a", random_bits({1}, DType::Float32)},
                          {"z", random_bits({1}, DType::Int64)},   {"c", random_bits({1}, DType::Float64)},
                          {"y", random_bits({1}, DType::BFloat16)}, {"a2", random_bits({2}, DType::Int64)}};
  std::vector<uint8_t> bytes = encode_safetensors(tensors);
  SafetensorsHeader h = parse_safetensors_header(bytes.data(), bytes.size(), bytes.size(), "mem");
  std::vector<std::string> names;
  for (const auto& e : h.entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a2", "z", "c", "a", "y", "b"}));
  EXPECT_EQ(h.data_offset % 8, 0u);
  EXPECT_EQ(h.data_bytes, 16u + 8 + 8 + 4 + 2 + 2);
  std::string text(bytes.begin() + 8, bytes.begin() + static_cast<long>(h.data_offset));
  EXPECT_EQ(text.rfind("}") + 1 + (8 - (text.rfind("}") + 1) % 8) % 8, text.size());
  EXPECT_EQ(text.find_first_not_of(' ', text.rfind("}") + 1), std::string::npos);
}

TEST_F(SafetensorsTest, WritesTheReferenceFilesByteForByte) {
  EXPECT_EQ(encode_safetensors(tiny_tensors(), {{"config", kTinyConfig}}), slurp(golden("tiny.safetensors")));
  EXPECT_EQ(encode_safetensors({}), slurp(golden("empty.safetensors")));
  NamedTensors half = {
      {"h", half_bits({0x3C00, 0xB800, 0x7BFF}, {3}, DType::Float16)},  // 1, -0.5, 65504
      {"bf", half_bits({0x3F80, 0xC000, 0x3E20, 0x7F62}, {2, 2}, DType::BFloat16)},
      {"x", Tensor::from_vector(std::vector<float>{2.0f}, {1})}};
  EXPECT_EQ(encode_safetensors(half), slurp(golden("half.safetensors")));
  // And through the file writer.
  write_safetensors(path("tiny.safetensors"), tiny_tensors(), {{"config", kTinyConfig}});
  EXPECT_EQ(slurp(path("tiny.safetensors")), slurp(golden("tiny.safetensors")));
}

TEST_F(SafetensorsTest, ReadsTheReferenceFiles) {
  SafetensorsFile f = read_safetensors(golden("tiny.safetensors"));
  EXPECT_EQ(f.metadata, (SafetensorsMetadata{{"config", kTinyConfig}}));
  ASSERT_EQ(f.tensors.size(), 5u);
  for (const auto& [name, t] : tiny_tensors()) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(bit_equal(f.at(name), t));
  }
  EXPECT_TRUE(std::signbit(f.at("net.weight").to_vector<float>()[5]));  // -0.0 survives
  EXPECT_EQ(f.at("step").to_vector<int64_t>()[0], 1234567890123);
  EXPECT_EQ(f.at("ema.scale").item(), 3.141592653589793);
  EXPECT_EQ(f.at("buffer.empty").shape(), Shape({0, 3}));

  SafetensorsFile e = read_safetensors(golden("empty.safetensors"));
  EXPECT_TRUE(e.tensors.empty());
  EXPECT_TRUE(e.metadata.empty());

  SafetensorsFile h = read_safetensors(golden("half.safetensors"));
  EXPECT_EQ(h.at("h").dtype(), DType::Float16);
  EXPECT_EQ(h.at("bf").dtype(), DType::BFloat16);
  EXPECT_EQ(h.at("bf").shape(), Shape({2, 2}));
  uint16_t bits[4];
  std::memcpy(bits, h.at("bf").data_ptr(), 8);
  EXPECT_EQ(bits[3], 0x7F62);
  std::memcpy(bits, h.at("h").data_ptr(), 6);
  EXPECT_EQ(bits[2], 0x7BFF);
  EXPECT_EQ(h.at("x").item(), 2.0);

  SafetensorsHeader hd = read_safetensors_header(golden("tiny.safetensors"));
  EXPECT_EQ(hd.entries.front().name, "step");  // I64 first, as the reference writes
  EXPECT_EQ(hd.entries.front().dtype, "I64");
}

// ---- interop with PyTorch (tests/reference/check_safetensors_interop.py)

// pattern() of the Python script: element i of tensor `name`, exact in F16/BF16/F32/F64.
double pattern(const std::string& name, int64_t i) {
  int64_t k = 0;
  for (unsigned char c : name) k += c;
  k %= 97;
  return static_cast<double>((i * 7 + k * 5) % 23 - 11) / 16.0;
}
int64_t pattern_int(const std::string& name, int64_t i) {
  int64_t k = 0;
  for (unsigned char c : name) k += c;
  return i * 1000003 + k % 97;
}

// A tensor filled with pattern(); half types by bit manipulation (the values m/16, |m| <= 11,
// need at most 4 significant bits, so truncating a float's mantissa is exact).
Tensor patterned(const std::string& name, const Shape& s, DType dt) {
  int64_t n = s.numel();
  if (dt == DType::Int64) {
    std::vector<int64_t> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = pattern_int(name, i);
    return Tensor::from_vector(v, s);
  }
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = pattern(name, i);
  Tensor f64 = Tensor::from_vector(v, s);
  if (dt != DType::Float16 && dt != DType::BFloat16) return f64.to(dt);
  std::vector<uint16_t> bits(n);
  for (int64_t i = 0; i < n; ++i) {
    float f = static_cast<float>(v[i]);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if (dt == DType::BFloat16) {
      bits[i] = static_cast<uint16_t>(u >> 16);
    } else {
      uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xFF, mant = u & 0x7FFFFF;
      bits[i] = f == 0 ? static_cast<uint16_t>(sign)
                       : static_cast<uint16_t>(sign | ((exp - 127 + 15) << 10) | (mant >> 13));
    }
  }
  return half_bits(bits, s, dt);
}

// The replica network's state_dict (as the Python script's MODEL).
const std::vector<std::tuple<std::string, DType, Shape>> kModel = {
    {"blocks.0.conv1.weight", DType::Float32, Shape{8, 3, 3, 3}},
    {"blocks.0.conv1.bias", DType::Float32, Shape{8}},
    {"blocks.0.bn.weight", DType::Float32, Shape{8}},
    {"blocks.0.bn.bias", DType::Float32, Shape{8}},
    {"blocks.0.bn.running_mean", DType::Float32, Shape{8}},
    {"blocks.0.bn.running_var", DType::Float32, Shape{8}},
    {"blocks.0.bn.num_batches_tracked", DType::Int64, Shape{}},
    {"fc.weight", DType::Float32, Shape{1, 32}},
    {"fc.bias", DType::Float32, Shape{1}}};

// A whole training checkpoint: model, EMA model, optimizer state, RNG state, half tensors, an
// empty buffer, and the config as JSON in the metadata.
NamedTensors interop_tensors() {
  NamedTensors t;
  for (const char* prefix : {"", "ema."})
    for (const auto& [name, dt, shape] : kModel) t.emplace_back(prefix + name, patterned(prefix + name, shape, dt));
  t.emplace_back("optimizer.step", patterned("optimizer.step", {}, DType::Int64));
  t.emplace_back("optimizer.exp_avg.fc.weight", patterned("optimizer.exp_avg.fc.weight", {1, 32}, DType::Float64));
  t.emplace_back("rng.state", patterned("rng.state", {4}, DType::Int64));
  t.emplace_back("half.f16", patterned("half.f16", {3}, DType::Float16));
  t.emplace_back("half.bf16", patterned("half.bf16", {2, 2}, DType::BFloat16));
  t.emplace_back("buffer.empty", patterned("buffer.empty", {0, 4}, DType::Float32));
  return t;
}
SafetensorsMetadata interop_metadata() {
  json::Value sampler = json::Value::object();
  sampler.set("steps", 60);
  sampler.set("step_size", 10.0);
  json::Value config = json::Value::object();
  config.set("recipe", "igebm");
  config.set("lr", 1e-4);
  config.set("sampler", std::move(sampler));
  return {{"config", json::dump(config)}, {"step", "1234"}};
}

TEST_F(SafetensorsTest, WritesTheInteropFile) {
  // The committed file the Python check loads is exactly what the writer produces today.
  EXPECT_EQ(encode_safetensors(interop_tensors(), interop_metadata()), slurp(golden("cpp_written.safetensors")))
      << "regenerate with EBM_SAFETENSORS_INTEROP_OUT=tests/data/safetensors/cpp_written.safetensors";
  if (const char* out = std::getenv("EBM_SAFETENSORS_INTEROP_OUT"))
    write_safetensors(out, interop_tensors(), interop_metadata());
}

TEST_F(SafetensorsTest, LoadsAPyTorchStateDict) {
  // torch_module.safetensors: the replica's state_dict saved by safetensors.torch.save_file.
  ExpectedTensors expected;
  for (const auto& [name, dt, shape] : kModel) expected.push_back({name, {shape, dt}});
  SafetensorsFile f = read_safetensors_checked(golden("torch_module.safetensors"), expected);
  EXPECT_EQ(f.metadata, (SafetensorsMetadata{{"format", "pt"}}));
  for (const auto& [name, dt, shape] : kModel) {
    SCOPED_TRACE(name);
    EXPECT_TRUE(bit_equal(f.at(name), patterned(name, shape, dt)));
  }
  // The model with one layer more or less is refused, naming the layer.
  expected.push_back({"fc2.weight", {Shape{1, 1}, DType::Float32}});
  test::expect_error<IOError>([&] { read_safetensors_checked(golden("torch_module.safetensors"), expected); },
                              {"torch_module.safetensors", "missing tensors (1): 'fc2.weight' (F32 [1, 1])"});
  expected.erase(expected.end() - 2, expected.end());
  test::expect_error<IOError>([&] { read_safetensors_checked(golden("torch_module.safetensors"), expected); },
                              {"unexpected tensors (1): 'fc.bias' (F32 [1])"});
}

// ---- corruption: every case an IOError naming the file (and the tensor where there is one)

TEST_F(SafetensorsTest, EveryTruncationIsAClearError) {
  std::vector<uint8_t> good = slurp(golden("tiny.safetensors"));
  SafetensorsHeader h = parse_safetensors_header(good.data(), good.size(), good.size(), "golden");
  for (size_t n = 0; n < good.size(); ++n) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<long>(n));
    std::vector<std::string> parts = {"truncated"};
    if (n >= h.data_offset) {  // the message names the first tensor whose data is cut
      auto cut_entry = std::find_if(h.entries.begin(), h.entries.end(),
                                    [&](const auto& e) { return h.data_offset + e.end > n; });
      ASSERT_NE(cut_entry, h.entries.end());
      parts.push_back("tensor '" + cut_entry->name + "'");
    }
    if (n % 7 == 0 || n < 16 || n >= h.data_offset) {
      expect_bad(cut, parts);  // the file reader too, at a sample of lengths
    } else {
      test::expect_error<IOError>([&] { decode_safetensors(cut.data(), cut.size(), "cut"); }, parts);
    }
  }
  // One trailing byte too many is an error as well (the data must be covered exactly).
  good.push_back(0);
  expect_bad(good, {"1 bytes after the last tensor 'net.weight' are not covered"});
}

TEST_F(SafetensorsTest, FlippedHeaderBytesNeverCrash) {
  std::vector<uint8_t> good = slurp(golden("tiny.safetensors"));
  SafetensorsHeader h = parse_safetensors_header(good.data(), good.size(), good.size(), "golden");
  std::string p = path("flip.safetensors");
  int errors = 0;
  for (size_t i = 0; i < h.data_offset; ++i)
    for (uint8_t mask : {0x01, 0x02, 0x10, 0x40, 0x80, 0xFF}) {
      std::vector<uint8_t> bad = good;
      bad[i] ^= mask;
      try {
        decode_safetensors(bad.data(), bad.size(), p);
      } catch (const IOError& e) {
        ++errors;
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      }
    }
  EXPECT_GT(errors, 0);
  // The same through the file reader for the length field and the first header bytes.
  for (size_t i = 0; i < 12; ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x80;
    spill(p, bad);
    EXPECT_THROW(read_safetensors(p), IOError) << i;
  }
}

// One F32 entry's header text.
std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  uint64_t begin, uint64_t end) {
  return str("\"", name, "\":{\"dtype\":\"", dtype, "\",\"shape\":", shape, ",\"data_offsets\":[", begin,
             ",", end, "]}");
}

TEST_F(SafetensorsTest, MalformedHeadersNameTheProblem) {
  // The length field.
  expect_bad({}, {"only 0 bytes", "truncated"});
  expect_bad({1, 0, 0}, {"only 3 bytes"});
  std::vector<uint8_t> b = image("{}");
  b[0] = 100;
  expect_bad(b, {"truncated: the header length says 100 bytes, but only 2 bytes follow"});
  b = image("{}");
  b[0] = 0x00, b[1] = 0xC2, b[2] = 0xEB, b[3] = 0x0B;  // 200,000,000
  expect_bad(b, {"header length 200000000 exceeds the limit of 100000000"});
  b = image("{}");
  b[7] = 0x80;  // 2^63: must not overflow any arithmetic
  expect_bad(b, {"exceeds the limit"});
  expect_bad(image(""), {"does not start with '{'"});
  expect_bad(image(" {}"), {"does not start with '{'"});
  // The JSON.
  expect_bad(image("{\"w\":"), {"invalid JSON header: expected a value, found end of input at byte 13"});
  expect_bad(image("{\"w\xFF\":1}"), {"invalid JSON header: invalid UTF-8"});
  expect_bad(image("{\"a\":{\"shape\":[[[[1]]]]}}"), {"invalid JSON header: nesting deeper"});
  expect_bad(image("{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}", 8),
             {"duplicate key \"w\""});
  expect_bad(image("{\"w\":5}"), {"tensor 'w': expected an object with dtype, shape and data_offsets"});
  // __metadata__.
  expect_bad(image("{\"__metadata__\":\"x\"}"), {"\"__metadata__\" must be an object of strings"});
  expect_bad(image("{\"__metadata__\":{\"step\":5}}"), {"value of 'step' has type integer"});
  // Entries.
  expect_bad(image("{" + entry("w", "F33", "[1]", 0, 4) + "}", 4), {"tensor 'w': unknown dtype 'F33'"});
  expect_bad(image("{" + entry("w", "I32", "[1]", 0, 4) + "}", 4),
             {"tensor 'w': dtype I32 is not supported by this engine"});
  expect_bad(image("{\"w\":{\"dtype\":1,\"shape\":[],\"data_offsets\":[0,4]}}", 4),
             {"tensor 'w': \"dtype\" must be a string"});
  expect_bad(image("{" + entry("w", "F32", "[3]", 0, 8) + "}", 8),
             {"tensor 'w'", "span 8 bytes, but shape [3] of F32 needs 12"});
  expect_bad(image("{" + entry("w", "F32", "[-1]", 0, 4) + "}", 4), {"tensor 'w'", "found -1"});
  expect_bad(image("{" + entry("w", "F32", "[1.0]", 0, 4) + "}", 4), {"tensor 'w'", "found number"});
  expect_bad(image("{" + entry("w", "F32", "3", 0, 12) + "}", 12), {"tensor 'w': \"shape\" must be an array"});
  expect_bad(image("{" + entry("w", "F32", "[4294967296,4294967296,4294967296]", 0, 4) + "}", 4),
             {"tensor 'w': shape [4294967296, 4294967296, 4294967296] overflows"});
  expect_bad(image("{" + entry("w", "F32", "[1,1,1,1,1,1]", 0, 4) + "}", 4),
             {"tensor 'w'", "has 6 dimensions; tensors have at most 5"});
  expect_bad(image("{" + entry("w", "F4", "[3]", 0, 1) + "}", 1), {"tensor 'w': 3 elements of F4 do not fill whole bytes"});
  expect_bad(image("{" + entry("w", "F32", "[1]", 8, 4) + "}", 8), {"tensor 'w'", "end before they begin"});
  expect_bad(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4),
             {"tensor 'w': \"data_offsets\" must be an array [begin, end]"});
  expect_bad(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,-4]}}", 4),
             {"tensor 'w'", "found -4"});
  expect_bad(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), {"tensor 'w': missing field \"data_offsets\""});
  expect_bad(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4),
             {"tensor 'w': unexpected field \"x\""});
  // Offsets: out of range, overlapping, holes, uncovered tail.
  expect_bad(image("{" + entry("w", "F32", "[2]", 0, 8) + "}", 4),
             {"truncated: tensor 'w' needs bytes [0, 8) of the data, but the file holds only 4"});
  expect_bad(image("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
             {"tensor 'b': data_offsets [4, 12] overlap tensor 'a' [0, 8]"});
  expect_bad(image("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12),
             {"tensor 'b'", "leave 4 bytes before it that no tensor covers"});
  expect_bad(image("{" + entry("a", "F32", "[1]", 4, 8) + "}", 8), {"tensor 'a'", "leave 4 bytes"});
  expect_bad(image("{" + entry("a", "F32", "[1]", 0, 4) + "}", 8),
             {"4 bytes after the last tensor 'a' are not covered by any tensor"});
  expect_bad(image("{}", 1), {"1 bytes after the last tensor are not covered"});
  // Entries in any header order are fine when they tile the data; zero-size ones anywhere.
  std::vector<uint8_t> ok = image("{" + entry("b", "F32", "[1]", 4, 8) + "," + entry("e", "F64", "[0]", 4, 4) +
                                  "," + entry("a", "F32", "[1]", 0, 4) + "}", 8);
  SafetensorsFile f = decode_safetensors(ok.data(), ok.size(), "ok");
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].first, "a");
  EXPECT_EQ(f.at("e").shape(), Shape({0}));
}

TEST_F(SafetensorsTest, UnreadablePathsAreIOErrors) {
  test::expect_error<IOError>([&] { read_safetensors(path("missing.safetensors")); },
                              {path("missing.safetensors"), "cannot open: No such file or directory"});
  test::expect_error<IOError>([&] { read_safetensors(dir_.string()); }, {dir_.string(), "not a regular file"});
}

// ---- the checked loader

TEST_F(SafetensorsTest, CheckedLoaderListsEveryProblem) {
  std::string p = path("model.safetensors");
  write_safetensors(p, {{"a", Tensor::zeros({2, 3})},
                        {"b", Tensor::zeros({2}, DType::Float64)},
                        {"extra", Tensor::zeros({1})},
                        {"ok", Tensor::zeros({4})}});
  ExpectedTensors expected = {{"a", {Shape{3, 2}, DType::Float32}},
                              {"b", {Shape{2}, DType::Float32}},
                              {"c", {Shape{4}, DType::Float32}},
                              {"ok", {Shape{4}, DType::Float32}}};
  test::expect_error<IOError>([&] { read_safetensors_checked(p, expected); },
                              {p, "does not match the model (4 problems)",
                               "missing tensors (1): 'c' (F32 [4])",
                               "unexpected tensors (1): 'extra' (F32 [1])",
                               "shape mismatches (1): 'a' (file [2, 3], model [3, 2])",
                               "dtype mismatches (1): 'b' (file F64, model F32)"});
  // Non-strict: the extra tensor is no problem, the rest still are.
  try {
    read_safetensors_checked(p, expected, /*strict=*/false);
    ADD_FAILURE();
  } catch (const IOError& e) {
    EXPECT_EQ(std::string(e.what()).find("extra"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("(3 problems)"), std::string::npos) << e.what();
  }
  // One kind of problem: its own exception type.
  ExpectedTensors shapes_only = {{"a", {Shape{6}, DType::Float32}}, {"b", {Shape{2}, DType::Float64}},
                                 {"extra", {Shape{1}, DType::Float32}}, {"ok", {Shape{2, 2}, DType::Float32}}};
  test::expect_error<ShapeError>([&] { read_safetensors_checked(p, shapes_only); },
                                 {p, "'a' (file [2, 3], model [6])", "'ok' (file [4], model [2, 2])"});
  ExpectedTensors dtype_only = {{"a", {Shape{2, 3}, DType::Float64}}, {"b", {Shape{2}, DType::Float64}},
                                {"extra", {Shape{1}, DType::Int64}}, {"ok", {Shape{4}, DType::Float32}}};
  test::expect_error<DTypeError>([&] { read_safetensors_checked(p, dtype_only); },
                                 {p, "'a' (file F32, model F64)", "'extra' (file F32, model I64)"});
  // A match loads; non-strict loads only what the model has.
  ExpectedTensors exact = {{"a", {Shape{2, 3}, DType::Float32}}, {"b", {Shape{2}, DType::Float64}},
                           {"extra", {Shape{1}, DType::Float32}}, {"ok", {Shape{4}, DType::Float32}}};
  EXPECT_EQ(read_safetensors_checked(p, exact).tensors.size(), 4u);
  exact.erase(exact.begin() + 2);
  SafetensorsFile some = read_safetensors_checked(p, exact, /*strict=*/false);
  EXPECT_EQ(some.tensors.size(), 3u);
  EXPECT_EQ(some.find("extra"), nullptr);
  // check_safetensors on tensors already in memory.
  test::expect_error<IOError>([&] { check_safetensors(read_safetensors(p).tensors, expected, true, "mem"); },
                              {"mem", "missing tensors (1): 'c'"});
}

TEST_F(SafetensorsTest, NonStrictLoadSkipsTensorsTheEngineCannotHold) {
  // A PyTorch-written file with an int32 counter the model does not have.
  std::string p = path("torch.safetensors");
  spill(p, image("{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("num_batches", "I32", "[]", 4, 8) + "}", 8));
  SafetensorsFile f = read_safetensors_checked(p, {{"w", {Shape{1}, DType::Float32}}}, /*strict=*/false);
  EXPECT_EQ(f.tensors.size(), 1u);
  test::expect_error<IOError>([&] { read_safetensors_checked(p, {{"w", {Shape{1}, DType::Float32}}}); },
                              {"unexpected tensors (1): 'num_batches' (I32 [])"});
  test::expect_error<IOError>([&] { read_safetensors(p); }, {"tensor 'num_batches': dtype I32 is not supported"});
}

TEST_F(SafetensorsTest, CheckedLoaderCapsLongLists) {
  NamedTensors many;
  for (int i = 0; i < 30; ++i) many.emplace_back("t" + std::to_string(i), Tensor::zeros({1}));
  std::string p = path("many.safetensors");
  write_safetensors(p, many);
  test::expect_error<IOError>([&] { read_safetensors_checked(p, {}); },
                              {"unexpected tensors (30): ", ", and 10 more"});
}

// ---- the writer's own checks: nothing is written

TEST_F(SafetensorsTest, WriterRejectsBadInputBeforeTouchingTheFile) {
  std::string p = path("w.safetensors");
  Tensor x = Tensor::zeros({1});
  test::expect_error<ValueError>([&] { write_safetensors(p, {{"a", x}, {"a", x}}); }, {"'a' appears twice"});
  test::expect_error<ValueError>([&] { write_safetensors(p, {{"__metadata__", x}}); }, {"reserved"});
  test::expect_error<ValueError>([&] { write_safetensors(p, {{"u", Tensor()}}); }, {"tensor 'u' is undefined"});
  test::expect_error<ValueError>([&] { write_safetensors(p, {{"bad\xFF", x}}); }, {"tensor name", "not valid UTF-8"});
  test::expect_error<ValueError>([&] { write_safetensors(p, {{"a", x}}, {{"cfg", "\xC3"}}); },
                                 {"metadata key 'cfg'", "not valid UTF-8"});
  EXPECT_TRUE(listing().empty());
}

TEST_F(SafetensorsTest, FailedWriteKeepsThePreviousCheckpoint) {
  std::string p = path("ckpt.safetensors");
  NamedTensors v1 = {{"w", random_bits({64}, DType::Float32)}};
  write_safetensors(p, v1, {{"step", "1"}});
  std::vector<uint8_t> before = slurp(p);
  for (AtomicWriteStage stage : {AtomicWriteStage::Open, AtomicWriteStage::Write, AtomicWriteStage::Sync,
                                 AtomicWriteStage::Close, AtomicWriteStage::Rename}) {
    inject_atomic_write_failure(stage);
    test::expect_error<IOError>(
        [&] { write_safetensors(p, {{"w", random_bits({64}, DType::Float32)}}, {{"step", "2"}}); },
        {p, "Input/output error"});
    EXPECT_EQ(slurp(p), before);
    EXPECT_EQ(listing(), std::vector<std::string>{"ckpt.safetensors"});
  }
  EXPECT_EQ(read_safetensors(p).metadata.at("step"), "1");
}

}  // namespace
}  // namespace ebm
