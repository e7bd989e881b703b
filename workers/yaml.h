// A YAML subset for workflow files, parsed into JSON, with the line of every
// value so that validation errors can point at it. (The project's chosen
// libraries include no YAML parser; workflow files need only this much.)
//
// Supported: block mappings (`key: value`), block sequences (`- item`,
// including `- key: value` items), flow sequences and mappings on one line
// (`[a, b]`, `{a: 1}`), plain scalars (null/~, true/false, integers, floats,
// otherwise strings), single- and double-quoted strings (double quotes
// take backslash escapes for n t r 0 " / and backslash), literal (`|`) and folded (`>`) block
// scalars, `#` comments, and a leading `---`. Not supported (an error names the line): anchors and
// aliases, tags, multi-document files, multi-line flow collections, tabs
// for indentation.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace cueball::workers {

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
  // JSON pointer ("/steps/0/argv") -> 1-based line where that value starts.
  std::map<std::string, int> lines;
};

// Throws YamlError.
YamlDocument ParseYaml(const std::string& text);

}  // namespace cueball::workers
