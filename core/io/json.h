// A small JSON value (RFC 8259) with a strict parser and a deterministic writer, for the
// safetensors header, the run config stored in a checkpoint's __metadata__, and metrics files.
// Numbers without fraction or exponent that fit int64 are kept as int64 (offsets and shapes stay
// exact); other numbers are doubles. Objects keep their keys in insertion (file) order.
// The parser rejects anything RFC 8259 does not allow (comments, trailing commas, NaN, lone
// surrogates, invalid UTF-8, control characters in strings) and, by default, duplicate keys; its
// errors are json::ParseError carrying the byte offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/common.h"

namespace ebm::json {

// A malformed document: what() = "json: <what> at byte <offset> (file:line)".
class ParseError : public ValueError {
 public:
  ParseError(const std::string& what, size_t offset, const char* file, int line)
      : ValueError(str("json: ", what, " at byte ", offset), file, line), offset_(offset), what_(what) {}
  size_t offset() const { return offset_; }
  const std::string& reason() const { return what_; }  // the message without the offset

 private:
  size_t offset_;
  std::string what_;
};

enum class Type : uint8_t { Null, Bool, Int, Double, String, Array, Object };
const char* type_name(Type t);  // "null", "bool", "integer", "number", "string", "array", "object"

class Value {
 public:
  using Array = std::vector<Value>;
  using Member = std::pair<std::string, Value>;
  using Object = std::vector<Member>;  // insertion order; keys unique when built through set()

  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool b) : type_(Type::Bool), b_(b) {}
  // Any integer type; unsigned values above INT64_MAX throw ValueError.
  template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
  Value(T i) : type_(Type::Int), i_(checked_int(i)) {}
  Value(double d) : type_(Type::Double), d_(d) {}
  Value(const char* s) : type_(Type::String), s_(s) {}
  Value(std::string s) : type_(Type::String), s_(std::move(s)) {}
  Value(std::string_view s) : type_(Type::String), s_(s) {}
  Value(Array a) : type_(Type::Array), a_(std::move(a)) {}
  Value(Object o) : type_(Type::Object), o_(std::move(o)) {}
  static Value array() { return Value(Array{}); }
  static Value object() { return Value(Object{}); }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_int() const { return type_ == Type::Int; }
  bool is_number() const { return type_ == Type::Int || type_ == Type::Double; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  // Typed access; a wrong type throws ValueError naming both types.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;  // an int converts
  const std::string& as_string() const;
  const Array& as_array() const;
  Array& as_array();
  const Object& as_object() const;
  Object& as_object();

  // Arrays and objects: number of elements or members (0 for scalars).
  size_t size() const;
  // Arrays: appends (a null value becomes an empty array first).
  void push_back(Value v);
  // Objects: the member's value or nullptr; at() throws ValueError naming the missing key.
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  const Value& at(std::string_view key) const;
  // Objects: replaces the value of an existing key, or appends a new member (a null value becomes
  // an empty object first). Returns the stored value.
  Value& set(std::string key, Value v);

  // Structural equality; ints and doubles compare equal only when of the same type.
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

 private:
  template <class T>
  static int64_t checked_int(T i) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      EBM_CHECK(i <= static_cast<T>(INT64_MAX), ValueError, "json: integer ", i,
                " does not fit int64");
    }
    return static_cast<int64_t>(i);
  }
  void expect(Type t) const;
  Type type_ = Type::Null;
  bool b_ = false;
  int64_t i_ = 0;
  double d_ = 0;
  std::string s_;
  Array a_;
  Object o_;
};

struct ParseOptions {
  size_t max_depth = 64;                   // nesting of arrays/objects
  size_t max_bytes = 100'000'000;          // whole document (safetensors' MAX_HEADER_SIZE)
  bool allow_duplicate_keys = false;       // true: the last value wins
};

// Parses one JSON document; surrounding whitespace is allowed, anything else after it is not.
Value parse(std::string_view text, const ParseOptions& options = {});

struct DumpOptions {
  bool sort_keys = false;  // false: insertion order; true: keys ordered by their UTF-8 bytes
  int indent = -1;         // < 0: compact ("," and ":", as serde_json and safetensors write);
                           // >= 0: one member per line, that many spaces per level, ": "
};

// Serialises a value. Strings are escaped as serde_json does (\" \\ \b \f \n \r \t, other
// control characters as \u00xx, everything else raw UTF-8); doubles in the shortest form that
// reads back to the same bits, always with a '.' or exponent so they read back as doubles.
// Throws ValueError for NaN/Inf (JSON has no spelling) and for strings that are not valid UTF-8.
std::string dump(const Value& v, const DumpOptions& options = {});

// The quoted, escaped form of one string (as dump writes it).
std::string quote(std::string_view s);

}  // namespace ebm::json
