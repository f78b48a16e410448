// Command-line flags for the apps: each flag is declared once with its default and help text,
// so --help lists every flag with its default, and parsing refuses unknown flags, missing or
// malformed values, and repeated flags with an error naming the flag (before any work starts).
// Accepted forms: --name value, --name=value; booleans also as bare --name / --no-name.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/common.h"
#include "core/io/json.h"

namespace ebm::app {

class UsageError : public Error {
 public:
  using Error::Error;
};

class Flags {
 public:
  Flags(std::string program, std::string summary);

  // Declarations: the pointer receives the default now and the parsed value later.
  void add(const std::string& name, std::string* value, const std::string& help);
  void add(const std::string& name, int64_t* value, const std::string& help);
  void add(const std::string& name, double* value, const std::string& help);
  void add(const std::string& name, bool* value, const std::string& help);
  // A string restricted to the given choices.
  void add_choice(const std::string& name, std::string* value, std::vector<std::string> choices,
                  const std::string& help);

  // Returns false when --help was given (the help text is then in help()).
  bool parse(int argc, const char* const* argv);
  std::string help() const;
  bool given(const std::string& name) const;  // set on the command line (not a default)
  std::vector<std::string> given_names() const;  // every flag set on the command line, in order
  // Every flag and its value, for config.json.
  json::Value to_json() const;

 private:
  enum class Kind { String, Int, Double, Bool };
  struct Flag {
    std::string name, help, default_text;
    Kind kind;
    void* target;
    std::vector<std::string> choices;
    bool given = false;
  };
  Flag& declare(const std::string& name, Kind kind, void* target, const std::string& help);
  void set(Flag& f, const std::string& text);
  std::string program_, summary_;
  std::vector<Flag> flags_;
};

}  // namespace ebm::app
