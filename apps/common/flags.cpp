// Flag declaration, parsing and --help (see flags.h).
#include "apps/common/flags.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ebm::app {

namespace {
std::string format_double(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

Flags::Flags(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

Flags::Flag& Flags::declare(const std::string& name, Kind kind, void* target, const std::string& help) {
  EBM_CHECK(!name.empty() && name.find('=') == std::string::npos, ValueError, "bad flag name '", name, "'");
  for (const auto& f : flags_)
    EBM_CHECK(f.name != name, ValueError, "flag --", name, " declared twice");
  flags_.push_back({name, help, "", kind, target, {}, false});
  return flags_.back();
}

void Flags::add(const std::string& name, std::string* v, const std::string& help) {
  declare(name, Kind::String, v, help).default_text = v->empty() ? "\"\"" : *v;
}
void Flags::add(const std::string& name, int64_t* v, const std::string& help) {
  declare(name, Kind::Int, v, help).default_text = std::to_string(*v);
}
void Flags::add(const std::string& name, double* v, const std::string& help) {
  declare(name, Kind::Double, v, help).default_text = format_double(*v);
}
void Flags::add(const std::string& name, bool* v, const std::string& help) {
  declare(name, Kind::Bool, v, help).default_text = *v ? "true" : "false";
}
void Flags::add_choice(const std::string& name, std::string* v, std::vector<std::string> choices,
                       const std::string& help) {
  Flag& f = declare(name, Kind::String, v, help);
  f.default_text = *v;
  f.choices = std::move(choices);
}

void Flags::set(Flag& f, const std::string& text) {
  auto bad = [&](const std::string& why) {
    EBM_THROW(UsageError, program_, ": bad value '", text, "' for --", f.name, ": ", why,
              " (see --help)");
  };
  switch (f.kind) {
    case Kind::String:
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), text) == f.choices.end()) {
        std::string list;
        for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
        bad("expected one of " + list);
      }
      *static_cast<std::string*>(f.target) = text;
      break;
    case Kind::Int: {
      errno = 0;
      char* end = nullptr;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno == ERANGE) bad("expected an integer");
      *static_cast<int64_t*>(f.target) = v;
      break;
    }
    case Kind::Double: {
      errno = 0;
      char* end = nullptr;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) bad("expected a finite number");
      *static_cast<double*>(f.target) = v;
      break;
    }
    case Kind::Bool:
      if (text == "true" || text == "1" || text == "yes") *static_cast<bool*>(f.target) = true;
      else if (text == "false" || text == "0" || text == "no") *static_cast<bool*>(f.target) = false;
      else bad("expected true or false");
      break;
  }
  f.given = true;
}

bool Flags::parse(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return false;
    if (arg.rfind("--", 0) != 0)
      EBM_THROW(UsageError, program_, ": unexpected argument '", arg, "' (flags start with --; see --help)");
    std::string name = arg.substr(2), value;
    bool has_value = false;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return f.name == name; });
    bool negated = false;
    if (it == flags_.end() && name.rfind("no-", 0) == 0) {
      it = std::find_if(flags_.begin(), flags_.end(),
                        [&](const Flag& f) { return f.name == name.substr(3) && f.kind == Kind::Bool; });
      negated = it != flags_.end();
    }
    if (it == flags_.end()) {
      // Suggest the closest declared name sharing a prefix, a common slip (--step-lr vs --step_lr).
      std::string hint;
      std::string norm = name;
      std::replace(norm.begin(), norm.end(), '-', '_');
      for (const auto& f : flags_) {
        std::string fn = f.name;
        std::replace(fn.begin(), fn.end(), '-', '_');
        if (fn == norm) hint = " (did you mean --" + f.name + "?)";
      }
      EBM_THROW(UsageError, program_, ": unknown flag --", name, hint, " (see --help)");
    }
    EBM_CHECK(!it->given, UsageError, program_, ": flag --", it->name, " given twice");
    if (negated) {
      EBM_CHECK(!has_value, UsageError, program_, ": --no-", it->name, " takes no value");
      set(*it, "false");
      continue;
    }
    if (!has_value) {
      if (it->kind == Kind::Bool && (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0 ||
                                     (std::string(argv[i + 1]) != "true" && std::string(argv[i + 1]) != "false"))) {
        set(*it, "true");
        continue;
      }
      EBM_CHECK(i + 1 < argc, UsageError, program_, ": flag --", it->name, " needs a value");
      value = argv[++i];
    }
    set(*it, value);
  }
  return true;
}

std::string Flags::help() const {
  std::ostringstream s;
  s << program_ << ": " << summary_ << "\n\nusage: " << program_ << " [--flag value ...]\n\n";
  size_t width = 0;
  for (const auto& f : flags_) width = std::max(width, f.name.size());
  for (const auto& f : flags_) {
    s << "  --" << f.name << std::string(width - f.name.size() + 2, ' ') << f.help;
    if (!f.choices.empty()) {
      s << " {";
      for (size_t i = 0; i < f.choices.size(); ++i) s << (i ? "|" : "") << f.choices[i];
      s << "}";
    }
    s << " (default: " << f.default_text << ")\n";
  }
  return s.str();
}

std::vector<std::string> Flags::given_names() const {
  std::vector<std::string> names;
  for (const auto& f : flags_)
    if (f.given) names.push_back(f.name);
  return names;
}

bool Flags::given(const std::string& name) const {
  for (const auto& f : flags_)
    if (f.name == name) return f.given;
  EBM_THROW(ValueError, "no flag --", name, " declared");
}

json::Value Flags::to_json() const {
  json::Value o = json::Value::object();
  for (const auto& f : flags_) {
    switch (f.kind) {
      case Kind::String: o.set(f.name, *static_cast<const std::string*>(f.target)); break;
      case Kind::Int: o.set(f.name, *static_cast<const int64_t*>(f.target)); break;
      case Kind::Double: o.set(f.name, *static_cast<const double*>(f.target)); break;
      case Kind::Bool: o.set(f.name, *static_cast<const bool*>(f.target)); break;
    }
  }
  return o;
}

}  // namespace ebm::app
