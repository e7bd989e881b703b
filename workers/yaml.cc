#include "workers/yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <vector>

namespace cueball::workers {
namespace {

using nlohmann::json;

int LineOf(const YAML::Mark& m) { return m.line >= 0 ? m.line + 1 : 1; }

// JSON pointer escaping (RFC 6901): ~ -> ~0, / -> ~1.
std::string PointerToken(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const size_t digits_from = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (digits_from < s.size() && std::isdigit(static_cast<unsigned char>(s[digits_from]))) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end == '\0' && errno == 0) return v;
    errno = 0;
    double d = std::strtod(s.c_str(), &end);
    // Out of a double's range: kept as the text rather than made infinite.
    if (*end == '\0' && errno == 0) return d;
  }
  return s;
}

class Converter {
 public:
  explicit Converter(YamlDocument* doc) : doc_(doc) {}

  json Convert(const YAML::Node& node, const std::string& ptr, int line, int depth) {
    if (depth > kMaxYamlDepth) {
      throw YamlError(line, "nested deeper than " + std::to_string(kMaxYamlDepth) + " levels");
    }
    if (++values_ > kMaxYamlValues) {
      throw YamlError(line, "more than " + std::to_string(kMaxYamlValues) +
                                " values (aliases count once per use)");
    }
    doc_->lines.emplace(ptr, line);
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Scalar:
        // Tag "?" is a plain scalar; quoted and block scalars are "!".
        return node.Tag() == "?" ? PlainScalar(node.Scalar()) : json(node.Scalar());
      case YAML::NodeType::Sequence: {
        json arr = json::array();
        for (const YAML::Node& item : node) {
          const std::string p = ptr + "/" + std::to_string(arr.size());
          arr.push_back(Convert(item, p, LineOf(item.Mark()), depth + 1));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        json obj = json::object();
        for (const auto& kv : node) {
          const int key_line = LineOf(kv.first.Mark());
          if (!kv.first.IsScalar()) throw YamlError(key_line, "mapping keys must be plain text");
          const std::string key = kv.first.Scalar();
          if (obj.contains(key)) throw YamlError(key_line, "duplicate key '" + key + "'");
          obj[key] = Convert(kv.second, ptr + "/" + PointerToken(key), key_line, depth + 1);
        }
        return obj;
      }
    }
    return nullptr;
  }

 private:
  YamlDocument* doc_;
  size_t values_ = 0;
};

}  // namespace

YamlDocument ParseYaml(const std::string& text) {
  if (text.size() > kMaxYamlBytes) {
    throw YamlError(1, "file larger than " + std::to_string(kMaxYamlBytes) + " bytes");
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own guard (DeepRecursion) and syntax errors alike.
    throw YamlError(LineOf(e.mark), e.msg);
  }
  YamlDocument doc;
  if (docs.empty()) {
    doc.value = nullptr;
    return doc;
  }
  if (docs.size() > 1) throw YamlError(LineOf(docs[1].Mark()), "only one document per file");
  Converter c(&doc);
  doc.value = c.Convert(docs[0], "", LineOf(docs[0].Mark()), 0);
  return doc;
}

}  // namespace cueball::workers
