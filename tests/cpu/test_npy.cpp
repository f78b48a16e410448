// .npy reader and writer: files written by NumPy (tests/data/npy/, made by
// tests/reference/make_npy_fixtures.py), byte-identical encoding, round trips of every writable
// dtype, and one test per error, each checking that the message names the file and the problem.
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "core/io/npy.h"
#include "test_util.h"

namespace ebm {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(EBM_TEST_DATA_DIR) + "/npy/" + name; }

std::vector<uint8_t> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void spill(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// A scratch directory per test, removed afterwards.
class NpyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::path(::testing::TempDir()) /
           str("ebm_npy_", info->name(), "_", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

template <class T>
bool bitwise_equal(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  return a.numel() == 0 || std::memcmp(a.data<T>(), b.data<T>(), a.nbytes()) == 0;
}

// ---- files written by NumPy

TEST_F(NpyTest, ReadsFloat32FromNumpy) {
  Tensor t = read_npy(fixture("f4_2x3.npy"));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.shape(), Shape({2, 3}));
  std::vector<float> want = {0.5f, -1.25f, 3.0f, 1e-3f, 7.0f, -0.0f};
  auto got = t.to_vector<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
  EXPECT_TRUE(std::signbit(got[5]));  // -0.0 survives
}

TEST_F(NpyTest, ReadsFloat64ZeroDimFromNumpy) {
  Tensor t = read_npy(fixture("f8_scalar.npy"));
  EXPECT_EQ(t.dtype(), DType::Float64);
  EXPECT_EQ(t.dim(), 0);
  EXPECT_EQ(t.item(), 3.141592653589793);
}

TEST_F(NpyTest, ReadsInt64FromNumpy) {
  Tensor t = read_npy(fixture("i8_5.npy"));
  EXPECT_EQ(t.dtype(), DType::Int64);
  EXPECT_EQ(t.shape(), Shape({5}));
  EXPECT_EQ(t.to_vector<int64_t>(),
            (std::vector<int64_t>{0, -1, int64_t(1) << 40, -(int64_t(1) << 62), 7}));
}

TEST_F(NpyTest, ReadsUInt8AsFloat32OrBytes) {
  Tensor t = read_npy(fixture("u1_2x2x3.npy"));
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.shape(), Shape({2, 2, 3}));
  std::vector<float> want = {250, 251, 252, 253, 254, 255, 0, 1, 2, 3, 4, 5};  // unscaled
  EXPECT_EQ(t.to_vector<float>(), want);
  NpyArray a = read_npy_array(fixture("u1_2x2x3.npy"));
  EXPECT_EQ(a.type, NpyType::UInt8);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(a.data, (std::vector<uint8_t>{250, 251, 252, 253, 254, 255, 0, 1, 2, 3, 4, 5}));
}

TEST_F(NpyTest, ReadsEmptyArrayFromNumpy) {
  Tensor t = read_npy(fixture("f4_0x3.npy"));
  EXPECT_EQ(t.shape(), Shape({0, 3}));
  EXPECT_EQ(t.numel(), 0);
}

TEST_F(NpyTest, ReadsFormatVersion2FromNumpy) {
  std::vector<uint8_t> bytes = slurp(fixture("f8_v2_3x1x2.npy"));
  NpyHeader h = parse_npy_header(bytes.data(), bytes.size(), "v2");
  EXPECT_EQ(h.major, 2);
  EXPECT_EQ(h.data_offset % 64, 0u);
  Tensor t = read_npy(fixture("f8_v2_3x1x2.npy"));
  EXPECT_EQ(t.shape(), Shape({3, 1, 2}));
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25}));
}

TEST_F(NpyTest, SixDimsReadRawButNotAsTensor) {
  NpyArray a = read_npy_array(fixture("f4_6d.npy"));
  EXPECT_EQ(a.shape.size(), 6u);
  EXPECT_EQ(a.data.size(), 64u * 4);
  test::expect_error<IOError>([&] { read_npy(fixture("f4_6d.npy")); }, {"f4_6d.npy", "6 dimensions"});
  test::expect_error<IOError>([&] { npy_array_to_tensor(a, "six"); }, {"six", "6 dimensions"});
}

// ---- writing

TEST_F(NpyTest, EncodingIsByteIdenticalToNumpy) {
  for (const char* name : {"f4_2x3.npy", "f8_scalar.npy", "i8_5.npy", "f4_0x3.npy"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(encode_npy(read_npy(fixture(name))), slurp(fixture(name)));
  }
  EXPECT_EQ(encode_npy(read_npy_array(fixture("u1_2x2x3.npy"))), slurp(fixture("u1_2x2x3.npy")));
}

TEST_F(NpyTest, RoundTripsEveryWritableDtype) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<Tensor> cases = {
      test::randn({2, 3, 4, 5, 6}, DType::Float32),
      test::randn({7}, DType::Float64),
      Tensor::from_vector(std::vector<double>{-0.0, inf, -inf, NAN, 5e-324}, {5}),
      Tensor::from_vector(std::vector<float>{-0.0f, INFINITY, NAN, 1e-45f}, {2, 2}),
      Tensor::from_vector(std::vector<int64_t>{std::numeric_limits<int64_t>::min(), -1, 0,
                                               std::numeric_limits<int64_t>::max()}, {4, 1}),
      Tensor::scalar(2.5, DType::Float64),
      Tensor::zeros({3, 0, 2}, DType::Int64),
      test::randn({4, 6}, DType::Float64).slice(1, 3),  // a view with an offset
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Tensor& t = cases[i];
    SCOPED_TRACE(str("case ", i, ": ", t.description()));
    std::string p = path(str("case", i, ".npy"));
    write_npy(p, t);
    EXPECT_EQ(fs::file_size(p) % 64, t.nbytes() % 64);  // data starts 64-byte aligned
    Tensor r = read_npy(p);
    std::vector<uint8_t> bytes = encode_npy(t);
    Tensor m = decode_npy_tensor(bytes.data(), bytes.size(), "memory");
    for (const Tensor& back : {r, m}) {
      switch (t.dtype()) {
        case DType::Float32: EXPECT_TRUE(bitwise_equal<float>(back, t)); break;
        case DType::Float64: EXPECT_TRUE(bitwise_equal<double>(back, t)); break;
        default: EXPECT_TRUE(bitwise_equal<int64_t>(back, t)); break;
      }
    }
  }
}

TEST_F(NpyTest, RoundTripsRawUInt8) {
  NpyArray a;
  a.type = NpyType::UInt8;
  a.shape = {2, 3, 2, 2, 1, 2};  // more dims than a tensor has: fine for raw arrays
  for (int i = 0; i < 48; ++i) a.data.push_back(static_cast<uint8_t>(i * 37));
  write_npy(path("u8.npy"), a);
  NpyArray b = read_npy_array(path("u8.npy"));
  EXPECT_EQ(b.type, a.type);
  EXPECT_EQ(b.shape, a.shape);
  EXPECT_EQ(b.data, a.data);
  std::vector<uint8_t> bytes = encode_npy(a);
  NpyArray c = decode_npy(bytes.data(), bytes.size(), "memory");
  EXPECT_EQ(c.data, a.data);
}

TEST_F(NpyTest, WriteErrors) {
  test::expect_error<IOError>([&] { write_npy(path("no/such/dir/x.npy"), Tensor::zeros({2})); },
                  {"no/such/dir/x.npy", "cannot open", "No such file"});
  EXPECT_THROW(encode_npy(Tensor::empty({2}, DType::BFloat16)), DTypeError);
  NpyArray bad;
  bad.type = NpyType::Float32;
  bad.shape = {3};
  bad.data.resize(8);
  EXPECT_THROW(encode_npy(bad), ValueError);
}

// ---- malformed input: every message names the source and the problem

TEST_F(NpyTest, MissingFile) {
  test::expect_error<IOError>([&] { read_npy(path("absent.npy")); }, {"absent.npy", "cannot open", "No such file"});
  test::expect_error<IOError>([&] { read_npy_array(path("absent.npy")); }, {"absent.npy", "No such file"});
}

TEST_F(NpyTest, EmptyFileAndBadMagic) {
  spill(path("empty.npy"), {});
  test::expect_error<IOError>([&] { read_npy(path("empty.npy")); }, {"empty.npy", "empty"});
  std::vector<uint8_t> bytes = slurp(fixture("f4_2x3.npy"));
  bytes[1] = 'X';
  spill(path("magic.npy"), bytes);
  test::expect_error<IOError>([&] { read_npy(path("magic.npy")); }, {"magic.npy", "bad magic"});
  std::string text = "hello, this is not numpy";
  spill(path("text.npy"), std::vector<uint8_t>(text.begin(), text.end()));
  test::expect_error<IOError>([&] { read_npy(path("text.npy")); }, {"text.npy", "bad magic"});
  test::expect_error<IOError>([&] { decode_npy(text.data(), text.size(), "buf"); }, {"buf", "bad magic"});
}

TEST_F(NpyTest, TruncatedPreambleAndHeader) {
  std::vector<uint8_t> full = slurp(fixture("f4_2x3.npy"));
  for (size_t n : {6u, 9u, 60u, 127u}) {  // inside the length field, then inside the header
    SCOPED_TRACE(n);
    std::vector<uint8_t> cut(full.begin(), full.begin() + n);
    spill(path("cut.npy"), cut);
    test::expect_error<IOError>([&] { read_npy(path("cut.npy")); }, {"cut.npy", "truncated"});
    test::expect_error<IOError>([&] { decode_npy(cut.data(), cut.size(), "mem"); }, {"mem", "truncated"});
  }
}

TEST_F(NpyTest, TruncatedData) {
  std::vector<uint8_t> full = slurp(fixture("f4_2x3.npy"));
  std::vector<uint8_t> cut(full.begin(), full.end() - 3);
  spill(path("short.npy"), cut);
  test::expect_error<IOError>([&] { read_npy(path("short.npy")); },
                  {"short.npy", "truncated data", "(2, 3)", "<f4", "24 bytes", "21"});
  test::expect_error<IOError>([&] { read_npy_array(path("short.npy")); }, {"short.npy", "truncated data"});
  test::expect_error<IOError>([&] { decode_npy_tensor(cut.data(), cut.size(), "mem"); }, {"mem", "truncated data"});
  // Header only, no data at all.
  std::vector<uint8_t> header_only(full.begin(), full.begin() + 128);
  spill(path("nodata.npy"), header_only);
  test::expect_error<IOError>([&] { read_npy(path("nodata.npy")); }, {"nodata.npy", "truncated data", "only 0"});
}

TEST_F(NpyTest, TrailingBytes) {
  std::vector<uint8_t> bytes = slurp(fixture("i8_5.npy"));
  bytes.push_back(0);
  spill(path("long.npy"), bytes);
  test::expect_error<IOError>([&] { read_npy(path("long.npy")); }, {"long.npy", "1 unexpected bytes"});
}

TEST_F(NpyTest, UnsupportedDtypes) {
  test::expect_error<IOError>([&] { read_npy(fixture("i4_3.npy")); }, {"i4_3.npy", "unsupported dtype '<i4'"});
  test::expect_error<IOError>([&] { read_npy(fixture("f4_bigendian_3.npy")); },
                  {"f4_bigendian_3.npy", "big-endian", ">f4"});
  test::expect_error<IOError>([&] { read_npy_array(fixture("i4_3.npy")); }, {"i4_3.npy", "<i4"});
}

TEST_F(NpyTest, FortranOrderIsRejected) {
  test::expect_error<IOError>([&] { read_npy(fixture("f8_fortran_2x3.npy")); },
                  {"f8_fortran_2x3.npy", "fortran_order is True"});
}

TEST_F(NpyTest, UnsupportedVersion) {
  std::vector<uint8_t> bytes = slurp(fixture("f4_2x3.npy"));
  bytes[6] = 3;
  spill(path("v3.npy"), bytes);
  test::expect_error<IOError>([&] { read_npy(path("v3.npy")); }, {"v3.npy", "version 3.0"});
}

// Replaces the header text of a valid v1 file (keeping its length) to test the dict parser.
std::vector<uint8_t> with_header(const std::string& dict) {
  std::vector<uint8_t> bytes = slurp(fixture("f4_2x3.npy"));
  std::string h = dict;
  h.resize(127 - 10, ' ');
  h += '\n';
  std::copy(h.begin(), h.end(), bytes.begin() + 10);
  return bytes;
}

TEST_F(NpyTest, MalformedHeaders) {
  struct Case {
    std::string dict, expect;
  };
  const Case cases[] = {
      {"{'descr': '<f4', 'shape': (2, 3), }", "lacks the key 'fortran_order'"},
      {"{'descr': '<f4', 'fortran_order': False}", "lacks the key 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", "unexpected header key 'x'"},
      {"{'descr': '<f4', 'fortran_order': Nope, 'shape': (2, 3)}", "fortran_order must be"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "expected a dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "expected ','"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", "structured"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "overflows"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", "after the header dict"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.dict);
    std::vector<uint8_t> bytes = with_header(c.dict);
    spill(path("h.npy"), bytes);
    test::expect_error<IOError>([&] { read_npy(path("h.npy")); }, {"h.npy", "npy", c.expect});
  }
  // Equivalent spellings numpy could have used are accepted: other key order, double quotes,
  // no trailing comma, a 1-tuple without its comma.
  for (std::string dict : {"{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}",
                           "{'descr':'<f4','fortran_order':False,'shape':(2, 3,)}"}) {
    SCOPED_TRACE(dict);
    std::vector<uint8_t> bytes = with_header(dict);
    EXPECT_EQ(decode_npy_tensor(bytes.data(), bytes.size(), "mem").shape(), Shape({2, 3}));
  }
}

TEST_F(NpyTest, ShapeAndSizeDisagree) {
  // A shape whose element count exceeds the data is reported as truncation, naming the shape.
  std::vector<uint8_t> bytes = with_header("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }");
  test::expect_error<IOError>([&] { decode_npy(bytes.data(), bytes.size(), "mem"); },
                  {"mem", "truncated data", "<f8", "48 bytes", "only 24"});
}

}  // namespace
}  // namespace ebm
