// YAML workflow files, read with yaml-cpp (Debian's libyaml-cpp-dev) and
// turned into JSON, with the line of every value so that validation errors
// can point at it.
//
// Plain scalars are typed as the old hand-written reader typed them: empty,
// ~ and null are null; true/false (and True/TRUE, False/FALSE) are booleans;
// a scalar that starts with a digit (after an optional sign) and is a whole
// integer or a float is a number; everything else, and every quoted or block
// scalar, is a string. Mapping keys are strings, and a key may appear once.
//
// Limits, so that a file cannot make the daemon spend unbounded memory or
// stack: at most kMaxYamlBytes of text, kMaxYamlDepth levels of nesting and
// kMaxYamlValues values once aliases are expanded. One document per file.
#pragma once

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace cueball::workers {

constexpr size_t kMaxYamlBytes = 1 << 20;
constexpr int kMaxYamlDepth = 64;
constexpr size_t kMaxYamlValues = 100000;

class YamlError : public std::runtime_error {
 public:
  YamlError(int line, const std::string& what)
      : std::runtime_error("line " + std::to_string(line) + ": " + what), line_(line) {}
  int line() const { return line_; }

 private:
  int line_;
};

struct YamlDocument {
  nlohmann::json value;
  // JSON pointer ("/steps/0/argv") -> 1-based line where that value starts
  // (for a mapping's value, the line of its key).
  std::map<std::string, int> lines;
};

// Throws YamlError.
YamlDocument ParseYaml(const std::string& text);

}  // namespace cueball::workers
