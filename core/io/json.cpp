// JSON parsing and writing (see json.h): a recursive-descent parser over the RFC 8259 grammar
// with a depth limit (so hostile input cannot exhaust the stack), UTF-8 validation of every
// string, and a writer whose compact form matches serde_json's, byte for byte, for the subset the
// safetensors header uses.
#include "core/io/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_map>

namespace ebm::json {

namespace {

// Decodes one UTF-8 sequence at s[i] (n bytes available); returns its length, or 0 when the
// bytes are not well-formed UTF-8 (overlong forms, surrogates, > U+10FFFF, bad continuation).
size_t utf8_sequence(const unsigned char* s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;  // continuation byte, overlong lead (C0/C1) or beyond F4
  }
  if (n < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((s[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return len;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

#define JSON_FAIL_AT(pos, ...) throw ParseError(::ebm::str(__VA_ARGS__), (pos), __FILE__, __LINE__)

class Parser {
 public:
  Parser(std::string_view text, const ParseOptions& opt)
      : begin_(text.data()), p_(text.data()), end_(text.data() + text.size()), opt_(opt) {}

  Value document() {
    if (static_cast<size_t>(end_ - begin_) > opt_.max_bytes)
      JSON_FAIL_AT(0, "document of ", end_ - begin_, " bytes exceeds the limit of ", opt_.max_bytes);
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (p_ != end_) fail("unexpected ", describe(), " after the document");
    return v;
  }

 private:
  size_t pos() const { return static_cast<size_t>(p_ - begin_); }
  template <class... A>
  [[noreturn]] void fail(A&&... parts) const { JSON_FAIL_AT(pos(), std::forward<A>(parts)...); }

  std::string describe() const {  // the next character, for messages
    if (p_ == end_) return "end of input";
    unsigned char c = static_cast<unsigned char>(*p_);
    if (c >= 0x20 && c < 0x7F) return str("'", static_cast<char>(c), "'");
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", c);
    return str("byte ", buf);
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool literal(const char* word) {
    size_t n = std::strlen(word);
    if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  Value value(size_t depth) {
    if (p_ == end_) fail("expected a value, found end of input");
    switch (*p_) {
      case '{': return object(depth + 1);
      case '[': return array(depth + 1);
      case '"': return Value(string());
      case 't': if (literal("true")) return Value(true); break;
      case 'f': if (literal("false")) return Value(false); break;
      case 'n': if (literal("null")) return Value(); break;
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
    }
    fail("expected a value, found ", describe());
  }

  void enter(size_t depth) const {
    if (depth > opt_.max_depth) fail("nesting deeper than ", opt_.max_depth, " levels");
  }

  Value array(size_t depth) {
    enter(depth);
    ++p_;  // '['
    Value::Array a;
    skip_ws();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return Value(std::move(a));
    }
    for (;;) {
      skip_ws();
      a.push_back(value(depth));
      skip_ws();
      if (p_ < end_ && *p_ == ',') { ++p_; continue; }
      if (p_ < end_ && *p_ == ']') { ++p_; return Value(std::move(a)); }
      fail("expected ',' or ']' in an array, found ", describe());
    }
  }

  Value object(size_t depth) {
    enter(depth);
    ++p_;  // '{'
    Value::Object o;
    std::unordered_map<std::string, size_t> index;  // key -> member, for duplicates
    skip_ws();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return Value(std::move(o));
    }
    for (;;) {
      skip_ws();
      if (p_ == end_ || *p_ != '"') fail("expected a string key in an object, found ", describe());
      size_t key_pos = pos();
      std::string key = string();
      skip_ws();
      if (p_ == end_ || *p_ != ':') fail("expected ':' after the key \"", key, "\", found ", describe());
      ++p_;
      skip_ws();
      Value v = value(depth);
      auto [it, fresh] = index.emplace(key, o.size());
      if (fresh) {
        o.emplace_back(std::move(key), std::move(v));
      } else if (opt_.allow_duplicate_keys) {
        o[it->second].second = std::move(v);
      } else {
        JSON_FAIL_AT(key_pos, "duplicate key \"", key, "\"");
      }
      skip_ws();
      if (p_ < end_ && *p_ == ',') { ++p_; continue; }
      if (p_ < end_ && *p_ == '}') { ++p_; return Value(std::move(o)); }
      fail("expected ',' or '}' in an object, found ", describe());
    }
  }

  uint32_t hex4() {
    if (end_ - p_ < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k, ++p_) {
      char c = *p_;
      uint32_t d = c >= '0' && c <= '9' ? c - '0'
                 : c >= 'a' && c <= 'f' ? c - 'a' + 10
                 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
      if (d == 16) fail("invalid hex digit ", describe(), " in a \\u escape");
      v = v * 16 + d;
    }
    return v;
  }

  std::string string() {
    const char* start = p_;
    ++p_;  // '"'
    std::string s;
    for (;;) {
      if (p_ == end_) JSON_FAIL_AT(static_cast<size_t>(start - begin_), "unterminated string");
      unsigned char c = static_cast<unsigned char>(*p_);
      if (c == '"') { ++p_; return s; }
      if (c < 0x20) fail("unescaped control character ", describe(), " in a string");
      if (c == '\\') {
        ++p_;
        if (p_ == end_) fail("truncated escape in a string");
        char e = *p_++;
        switch (e) {
          case '"': s += '"'; break;
          case '\\': s += '\\'; break;
          case '/': s += '/'; break;
          case 'b': s += '\b'; break;
          case 'f': s += '\f'; break;
          case 'n': s += '\n'; break;
          case 'r': s += '\r'; break;
          case 't': s += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in a \\u escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {  // needs a low surrogate next
              if (!(end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == 'u')) fail("lone high surrogate in a \\u escape");
              p_ += 2;
              uint32_t lo = hex4();
              if (lo < 0xDC00 || lo > 0xDFFF) fail("high surrogate not followed by a low surrogate");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            append_utf8(s, cp);
            break;
          }
          default:
            --p_;
            fail("invalid escape: ", describe(), " after a backslash in a string");
        }
        continue;
      }
      size_t n = utf8_sequence(reinterpret_cast<const unsigned char*>(p_), static_cast<size_t>(end_ - p_));
      if (n == 0) fail("invalid UTF-8 ", describe(), " in a string");
      s.append(p_, n);
      p_ += n;
    }
  }

  Value number() {
    const char* start = p_;
    auto digits = [&] {
      const char* d = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      return p_ - d;
    };
    if (*p_ == '-') ++p_;
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) fail("expected a digit in a number, found ", describe());
    if (*p_ == '0') {
      ++p_;
      if (p_ < end_ && *p_ >= '0' && *p_ <= '9') fail("leading zero in a number");
    } else {
      digits();
    }
    bool integral = true;
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      integral = false;
      if (digits() == 0) fail("expected a digit after '.', found ", describe());
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      integral = false;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (digits() == 0) fail("expected a digit in the exponent, found ", describe());
    }
    if (integral) {
      int64_t i = 0;
      auto r = std::from_chars(start, p_, i);
      if (r.ec == std::errc() && r.ptr == p_) return Value(i);
      // Too large for int64: falls through to a double, as most parsers do.
    }
    double d = 0;
    auto r = std::from_chars(start, p_, d);
    if (r.ec == std::errc::result_out_of_range && decimal_exponent(start, p_) < 0)
      return Value(*start == '-' ? -0.0 : 0.0);  // underflow rounds to zero, as strtod does
    if (r.ec != std::errc() || r.ptr != p_ || !std::isfinite(d))
      JSON_FAIL_AT(static_cast<size_t>(start - begin_), "number ", std::string(start, p_),
                   " is out of the range of a double");
    return Value(d);
  }

  // The power of ten of the first significant digit of a well-formed number token (only its sign
  // matters: it tells an underflow from an overflow, which from_chars reports alike).
  static int64_t decimal_exponent(const char* s, const char* end) {
    if (*s == '-') ++s;
    int64_t e0 = 0;
    bool found = false;
    int64_t int_digits = 0;
    const char* q = s;
    while (q < end && *q >= '0' && *q <= '9') ++q, ++int_digits;
    for (int64_t k = 0; k < int_digits && !found; ++k)
      if (s[k] != '0') e0 = int_digits - 1 - k, found = true;
    if (q < end && *q == '.') {
      ++q;
      for (int64_t j = 0; q < end && *q >= '0' && *q <= '9'; ++q, ++j)
        if (!found && *q != '0') e0 = -(j + 1), found = true;
    }
    int64_t e = 0;
    if (q < end && (*q == 'e' || *q == 'E')) {
      ++q;
      bool neg = q < end && *q == '-';
      if (q < end && (*q == '+' || *q == '-')) ++q;
      for (; q < end && e < 100000; ++q) e = e * 10 + (*q - '0');  // saturates: only the sign matters
      if (neg) e = -e;
    }
    return e0 + e;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const ParseOptions& opt_;
};

// ---- writing

void write_string(std::string& out, std::string_view s) {
  const auto* b = reinterpret_cast<const unsigned char*>(s.data());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence(b + i, s.size() - i);
    EBM_CHECK(n != 0, ValueError, "json: string is not valid UTF-8 at byte ", i, ": \"",
              std::string(s.substr(0, std::min<size_t>(s.size(), 40))), "\"");
    i += n;
  }
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void write_double(std::string& out, double d) {
  EBM_CHECK(std::isfinite(d), ValueError, "json: cannot write ", d, " (JSON has no NaN or infinity)");
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest form that reads back exactly
  std::string_view t(buf, static_cast<size_t>(r.ptr - buf));
  out += t;
  if (t.find_first_of(".eE") == std::string_view::npos) out += ".0";  // stays a double on reading
}

class Writer {
 public:
  explicit Writer(const DumpOptions& opt) : opt_(opt) {}
  std::string out;

  void value(const Value& v, int level) {
    switch (v.type()) {
      case Type::Null: out += "null"; break;
      case Type::Bool: out += v.as_bool() ? "true" : "false"; break;
      case Type::Int: out += std::to_string(v.as_int()); break;
      case Type::Double: write_double(out, v.as_double()); break;
      case Type::String: write_string(out, v.as_string()); break;
      case Type::Array: {
        const auto& a = v.as_array();
        out += '[';
        for (size_t i = 0; i < a.size(); ++i) {
          if (i) out += ',';
          newline(level + 1);
          value(a[i], level + 1);
        }
        if (!a.empty()) newline(level);
        out += ']';
        break;
      }
      case Type::Object: {
        const auto& o = v.as_object();
        std::vector<const Value::Member*> members;
        for (const auto& m : o) members.push_back(&m);
        if (opt_.sort_keys)
          std::sort(members.begin(), members.end(),
                    [](const Value::Member* x, const Value::Member* y) { return x->first < y->first; });
        out += '{';
        for (size_t i = 0; i < members.size(); ++i) {
          if (i) out += ',';
          newline(level + 1);
          write_string(out, members[i]->first);
          out += opt_.indent >= 0 ? ": " : ":";
          value(members[i]->second, level + 1);
        }
        if (!members.empty()) newline(level);
        out += '}';
        break;
      }
    }
  }

 private:
  void newline(int level) {
    if (opt_.indent < 0) return;
    out += '\n';
    out.append(static_cast<size_t>(level) * static_cast<size_t>(opt_.indent), ' ');
  }
  const DumpOptions& opt_;
};

}  // namespace

const char* type_name(Type t) {
  switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "bool";
    case Type::Int: return "integer";
    case Type::Double: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
  }
  return "?";
}

void Value::expect(Type t) const {
  EBM_CHECK(type_ == t, ValueError, "json: expected ", type_name(t), ", found ", type_name(type_));
}

bool Value::as_bool() const { expect(Type::Bool); return b_; }
int64_t Value::as_int() const { expect(Type::Int); return i_; }
double Value::as_double() const {
  if (type_ == Type::Int) return static_cast<double>(i_);
  expect(Type::Double);
  return d_;
}
const std::string& Value::as_string() const { expect(Type::String); return s_; }
const Value::Array& Value::as_array() const { expect(Type::Array); return a_; }
Value::Array& Value::as_array() { expect(Type::Array); return a_; }
const Value::Object& Value::as_object() const { expect(Type::Object); return o_; }
Value::Object& Value::as_object() { expect(Type::Object); return o_; }

size_t Value::size() const {
  return type_ == Type::Array ? a_.size() : type_ == Type::Object ? o_.size() : 0;
}

void Value::push_back(Value v) {
  if (type_ == Type::Null) type_ = Type::Array;
  expect(Type::Array);
  a_.push_back(std::move(v));
}

const Value* Value::find(std::string_view key) const {
  expect(Type::Object);
  for (const auto& m : o_)
    if (m.first == key) return &m.second;
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

const Value& Value::at(std::string_view key) const {
  const Value* v = find(key);
  EBM_CHECK(v != nullptr, ValueError, "json: object has no key \"", std::string(key), "\"");
  return *v;
}

Value& Value::set(std::string key, Value v) {
  if (type_ == Type::Null) type_ = Type::Object;
  if (Value* old = find(key)) return *old = std::move(v);
  o_.emplace_back(std::move(key), std::move(v));
  return o_.back().second;
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case Type::Null: return true;
    case Type::Bool: return b_ == o.b_;
    case Type::Int: return i_ == o.i_;
    case Type::Double: return d_ == o.d_;
    case Type::String: return s_ == o.s_;
    case Type::Array: return a_ == o.a_;
    case Type::Object:  // member order does not matter
      if (o_.size() != o.o_.size()) return false;
      for (const auto& m : o_) {
        const Value* other = o.find(m.first);
        if (!other || !(*other == m.second)) return false;
      }
      return true;
  }
  return false;
}

Value parse(std::string_view text, const ParseOptions& options) {
  return Parser(text, options).document();
}

std::string dump(const Value& v, const DumpOptions& options) {
  Writer w(options);
  w.value(v, 0);
  return std::move(w.out);
}

std::string quote(std::string_view s) {
  std::string out;
  write_string(out, s);
  return out;
}

}  // namespace ebm::json
