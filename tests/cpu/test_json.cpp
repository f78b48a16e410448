// JSON parser and writer (core/io/json.h): every value type, escapes incl. \uXXXX surrogate
// pairs, int64 vs double numbers, insertion and sorted key order, serde_json-compatible escaping,
// round trips of random documents, and one test per kind of malformed input (each a ParseError
// with the byte offset, never a crash: also run under AddressSanitizer).
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/io/json.h"
#include "test_util.h"

namespace ebm::json {
namespace {

// Expects parse(text) to throw a ParseError at `offset` whose message contains `part`.
void expect_parse_error(const std::string& text, const std::string& part, size_t offset,
                        const ParseOptions& opt = {}) {
  SCOPED_TRACE("input: " + text);
  try {
    parse(text, opt);
    ADD_FAILURE() << "no error";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_EQ(e.offset(), offset) << e.what();
    EXPECT_NE(std::string(e.what()).find("at byte " + std::to_string(offset)), std::string::npos);
  }
}

TEST(Json, ParsesScalars) {
  EXPECT_TRUE(parse("null").is_null());
  EXPECT_EQ(parse("true").as_bool(), true);
  EXPECT_EQ(parse(" false\n").as_bool(), false);
  EXPECT_EQ(parse("0").as_int(), 0);
  EXPECT_EQ(parse("-17").as_int(), -17);
  EXPECT_EQ(parse("9223372036854775807").as_int(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parse("-9223372036854775808").as_int(), std::numeric_limits<int64_t>::min());
  // One past int64 becomes a double, as in most parsers.
  EXPECT_TRUE(parse("9223372036854775808").type() == Type::Double);
  EXPECT_EQ(parse("9223372036854775808").as_double(), 9223372036854775808.0);
  EXPECT_EQ(parse("1.5").as_double(), 1.5);
  EXPECT_EQ(parse("-2.5e-3").as_double(), -2.5e-3);
  EXPECT_EQ(parse("1E2").type(), Type::Double);  // exponent: a double even when integral
  EXPECT_EQ(parse("1E2").as_double(), 100.0);
  EXPECT_EQ(parse("0.1").as_double(), 0.1);  // correctly rounded
  EXPECT_EQ(parse("1e-400").as_double(), 0.0);  // underflow rounds to zero
  EXPECT_TRUE(std::signbit(parse("-1e-400").as_double()));
  EXPECT_EQ(parse("4.9406564584124654e-324").as_double(), std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(parse("7").as_double(), 7.0);  // ints read as doubles on request
}

TEST(Json, ParsesStringsWithEscapes) {
  EXPECT_EQ(parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string(), "a\"b\\c/d\b\f\n\r\t");
  EXPECT_EQ(parse(R"("\u0041\u00e9\u6F22")").as_string(), "A\xC3\xA9\xE6\xBC\xA2");
  EXPECT_EQ(parse(R"("\ud83d\ude00")").as_string(), "\xF0\x9F\x98\x80");  // surrogate pair
  EXPECT_EQ(parse(R"("\u0000x")").as_string(), std::string("\0x", 2));
  EXPECT_EQ(parse("\"\xC3\xA9\xF0\x9F\x98\x80\"").as_string(), "\xC3\xA9\xF0\x9F\x98\x80");  // raw UTF-8
  EXPECT_EQ(parse("\"\"").as_string(), "");
}

TEST(Json, ParsesContainersInOrder) {
  Value v = parse(R"( {"z": [1, 2.5, "x", null, true, [], {}], "a": {"k": -1}, "m": []} )");
  ASSERT_TRUE(v.is_object());
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v.as_object()[0].first, "z");  // file order, not sorted
  EXPECT_EQ(v.as_object()[1].first, "a");
  const Value& z = v.at("z");
  ASSERT_EQ(z.size(), 7u);
  EXPECT_EQ(z.as_array()[0].as_int(), 1);
  EXPECT_EQ(z.as_array()[1].as_double(), 2.5);
  EXPECT_EQ(z.as_array()[2].as_string(), "x");
  EXPECT_TRUE(z.as_array()[3].is_null());
  EXPECT_TRUE(z.as_array()[5].is_array());
  EXPECT_TRUE(z.as_array()[6].is_object());
  EXPECT_EQ(v.at("a").at("k").as_int(), -1);
  EXPECT_EQ(v.find("nope"), nullptr);
  test::expect_error<ValueError>([&] { v.at("nope"); }, {"no key \"nope\""});
  test::expect_error<ValueError>([&] { v.at("z").as_string(); }, {"expected string, found array"});
}

TEST(Json, DuplicateKeysAreErrorsUnlessAllowed) {
  expect_parse_error(R"({"a": 1, "b": 2, "a": 3})", "duplicate key \"a\"", 17);
  ParseOptions opt;
  opt.allow_duplicate_keys = true;
  Value v = parse(R"({"a": 1, "b": 2, "a": 3})", opt);
  EXPECT_EQ(v.size(), 2u);
  EXPECT_EQ(v.at("a").as_int(), 3);  // the last wins
}

TEST(Json, RejectsMalformedInputWithOffsets) {
  expect_parse_error("", "expected a value, found end of input", 0);
  expect_parse_error("   ", "expected a value, found end of input", 3);
  expect_parse_error("{", "expected a string key", 1);
  expect_parse_error("[1, 2", "expected ',' or ']'", 5);
  expect_parse_error("[1, 2,]", "expected a value, found ']'", 6);  // trailing comma
  expect_parse_error(R"({"a": 1,})", "expected a string key", 8);
  expect_parse_error(R"({"a" 1})", "expected ':' after the key \"a\"", 5);
  expect_parse_error(R"({a: 1})", "expected a string key", 1);
  expect_parse_error("[1] x", "unexpected 'x' after the document", 4);
  expect_parse_error("nul", "expected a value", 0);
  expect_parse_error("True", "expected a value, found 'T'", 0);
  expect_parse_error("NaN", "expected a value, found 'N'", 0);
  expect_parse_error("01", "leading zero", 1);
  expect_parse_error("-", "expected a digit", 1);
  expect_parse_error("1.", "expected a digit after '.'", 2);
  expect_parse_error("1e", "expected a digit in the exponent", 2);
  expect_parse_error("+1", "expected a value, found '+'", 0);
  expect_parse_error("1e400", "out of the range of a double", 0);
  expect_parse_error("[-1e400]", "out of the range of a double", 1);
  expect_parse_error("\"abc", "unterminated string", 0);
  expect_parse_error("\"a\nb\"", "unescaped control character", 2);
  expect_parse_error(R"("\x")", "invalid escape: 'x' after a backslash", 2);
  expect_parse_error(R"("\u12G4")", "invalid hex digit 'G'", 5);
  expect_parse_error(R"("\u12")", "truncated \\u escape", 3);
  expect_parse_error(R"("\ud800")", "lone high surrogate", 7);
  expect_parse_error(R"("\ud800\u0041")", "not followed by a low surrogate", 13);
  expect_parse_error(R"("\udc00")", "lone low surrogate", 7);
  expect_parse_error("\"\xFF\"", "invalid UTF-8 byte 0xFF", 1);
  expect_parse_error("\"\xC0\xAF\"", "invalid UTF-8", 1);          // overlong '/'
  expect_parse_error("\"\xED\xA0\x80\"", "invalid UTF-8", 1);      // encoded surrogate
  expect_parse_error("\"\xF4\x90\x80\x80\"", "invalid UTF-8", 1);  // > U+10FFFF
  expect_parse_error("\"\xE6\xBC\"", "invalid UTF-8", 1);          // cut sequence
  expect_parse_error("// c\n1", "expected a value, found '/'", 0);
  expect_parse_error(std::string("[1]\0", 4), "unexpected byte 0x00", 3);
}

TEST(Json, DepthAndSizeLimits) {
  std::string deep(64, '[');
  deep += std::string(64, ']');
  EXPECT_NO_THROW(parse(deep));  // exactly the limit
  std::string deeper(65, '[');
  deeper += std::string(65, ']');
  expect_parse_error(deeper, "nesting deeper than 64 levels", 64);
  // A hostile depth far past the limit must not recurse (stack) before failing.
  std::string hostile(1'000'000, '[');
  expect_parse_error(hostile, "nesting deeper than 64 levels", 64);
  ParseOptions small;
  small.max_bytes = 4;
  expect_parse_error("[1, 2]", "exceeds the limit of 4", 0, small);
  EXPECT_EQ(parse("[12]", small).size(), 1u);
}

TEST(Json, WritesCompactLikeSerde) {
  Value v = Value::object();
  v.set("b", 1);
  v.set("a", Value::Array{Value(true), Value(), Value(2.5), Value("x")});
  v.set("c", Value::object());
  v.set("d", Value::array());
  EXPECT_EQ(dump(v), R"({"b":1,"a":[true,null,2.5,"x"],"c":{},"d":[]})");
  DumpOptions sorted;
  sorted.sort_keys = true;
  EXPECT_EQ(dump(v, sorted), R"({"a":[true,null,2.5,"x"],"b":1,"c":{},"d":[]})");
  v.set("b", "replaced");  // set() on an existing key keeps its place
  EXPECT_EQ(dump(v), R"({"b":"replaced","a":[true,null,2.5,"x"],"c":{},"d":[]})");
}

TEST(Json, WritesIndented) {
  Value v = parse(R"({"a": [1, {"b": null}], "c": {}, "d": []})");
  DumpOptions opt;
  opt.indent = 2;
  EXPECT_EQ(dump(v, opt),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {},\n  \"d\": []\n}");
  EXPECT_EQ(parse(dump(v, opt)), v);
}

TEST(Json, EscapesStringsLikeSerde) {
  // serde_json (and so safetensors): short escapes, other controls as \u00xx lowercase, no
  // escaping of '/', DEL or non-ASCII.
  EXPECT_EQ(quote("a\"b\\c\b\f\n\r\t"), R"("a\"b\\c\b\f\n\r\t")");
  EXPECT_EQ(quote(std::string("\x01\x1f\x7f/", 4)), "\"\\u0001\\u001f\x7f/\"");
  EXPECT_EQ(quote(std::string("\0", 1)), R"("\u0000")");
  EXPECT_EQ(quote("\xC3\xA9\xF0\x9F\x98\x80"), "\"\xC3\xA9\xF0\x9F\x98\x80\"");
  test::expect_error<ValueError>([] { quote("ok\xFF"); }, {"not valid UTF-8 at byte 2"});
  test::expect_error<ValueError>([] { dump(Value::Array{Value("\xC3")}); }, {"not valid UTF-8"});
}

TEST(Json, WritesNumbers) {
  EXPECT_EQ(dump(Value(int64_t(-9223372036854775807LL - 1))), "-9223372036854775808");
  EXPECT_EQ(dump(Value(uint64_t(42))), "42");
  test::expect_error<ValueError>([] { Value(uint64_t(1) << 63); }, {"does not fit int64"});
  EXPECT_EQ(dump(Value(1.0)), "1.0");  // stays a double when read back
  EXPECT_EQ(dump(Value(-0.0)), "-0.0");
  EXPECT_EQ(dump(Value(0.1)), "0.1");  // shortest form
  EXPECT_EQ(dump(Value(1e300)), "1e+300");
  EXPECT_EQ(parse(dump(Value(-0.0))).type(), Type::Double);
  EXPECT_TRUE(std::signbit(parse(dump(Value(-0.0))).as_double()));
  test::expect_error<ValueError>([] { dump(Value(std::nan(""))); }, {"no NaN or infinity"});
  test::expect_error<ValueError>([] { dump(Value(INFINITY)); }, {"no NaN or infinity"});
}

// Random documents: dump then parse gives the same value (doubles bit for bit), compact and
// indented, insertion-ordered and sorted.
Value random_value(std::mt19937_64& rng, int depth) {
  std::uniform_int_distribution<int> kind(0, depth > 3 ? 4 : 6);
  auto rand_string = [&] {
    static const char* pieces[] = {"a", "Z", "\"", "\\", "\n", "\x01", "/", "\xC3\xA9", "\xF0\x9F\x98\x80", " ", "key"};
    std::string s;
    int n = static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) s += pieces[rng() % (sizeof pieces / sizeof *pieces)];
    return s;
  };
  switch (kind(rng)) {
    case 0: return Value();
    case 1: return Value(rng() % 2 == 0);
    case 2: return Value(static_cast<int64_t>(rng()));
    case 3: {
      double d;
      do {
        uint64_t bits = rng();
        std::memcpy(&d, &bits, 8);
      } while (!std::isfinite(d));
      return Value(d);
    }
    case 4: return Value(rand_string());
    case 5: {
      Value a = Value::array();
      for (int n = static_cast<int>(rng() % 5); n > 0; --n) a.push_back(random_value(rng, depth + 1));
      return a;
    }
    default: {
      Value o = Value::object();
      for (int n = static_cast<int>(rng() % 5); n > 0; --n) o.set(rand_string() + std::to_string(n), random_value(rng, depth + 1));
      return o;
    }
  }
}

bool bit_equal(const Value& a, const Value& b) {  // like ==, but doubles by their bits
  if (a.type() != b.type()) return false;
  if (a.type() == Type::Double) {
    double x = a.as_double(), y = b.as_double();
    return std::memcmp(&x, &y, 8) == 0;
  }
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (!bit_equal(a.as_array()[i], b.as_array()[i])) return false;
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [k, v] : a.as_object())
      if (!b.find(k) || !bit_equal(v, *b.find(k))) return false;
    return true;
  }
  return a == b;
}

TEST(Json, RandomRoundTrips) {
  std::mt19937_64 rng(test::rng()());
  for (int i = 0; i < 300; ++i) {
    Value v = random_value(rng, 0);
    for (int indent : {-1, 0, 3})
      for (bool sorted : {false, true}) {
        DumpOptions opt;
        opt.indent = indent;
        opt.sort_keys = sorted;
        std::string text = dump(v, opt);
        Value back = parse(text);
        ASSERT_TRUE(bit_equal(back, v)) << text;
        if (!sorted) EXPECT_EQ(dump(back, opt), text);  // insertion order survives
      }
  }
}

// Any prefix of a valid document, and any single-byte corruption of it, gives a ParseError or a
// value, never a crash (ASan checks the reads).
TEST(Json, TruncationsAndCorruptionsNeverCrash) {
  std::string doc = R"({"a": [1, -2.5e3, "x\u00e9\ud83d\ude00", {"b": null}], "c": true, "d": "\n"})";
  for (size_t n = 0; n < doc.size(); ++n) {
    EXPECT_THROW(parse(doc.substr(0, n)), ParseError) << n;
  }
  std::mt19937_64 rng(test::rng()());
  for (size_t i = 0; i < doc.size(); ++i)
    for (int k = 0; k < 8; ++k) {
      std::string bad = doc;
      bad[i] = static_cast<char>(rng() & 0xFF);
      try {
        parse(bad);
      } catch (const ParseError&) {
      }
    }
}

}  // namespace
}  // namespace ebm::json
