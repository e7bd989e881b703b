#include "workers/yaml.h"

#include <cctype>
#include <cstdlib>
#include <vector>

namespace cueball::workers {
namespace {

using nlohmann::json;

struct Line {
  int number = 0;  // 1-based
  int indent = 0;
  std::string text;  // without indentation and comment; empty for blank
  std::string raw;   // the whole line (for block scalars)
};

// Removes a comment: `#` at the start or after a space, outside quotes.
std::string StripComment(const std::string& s) {
  char quote = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quote) {
      if (c == '\\' && quote == '"') {
        ++i;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || s[i - 1] == ' ')) {
      return s.substr(0, i);
    }
  }
  return s;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

json PlainScalar(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  const char* p = s.c_str();
  char* end = nullptr;
  size_t digits_from = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (digits_from < s.size() && std::isdigit(static_cast<unsigned char>(s[digits_from]))) {
    long long v = std::strtoll(p, &end, 10);
    if (*end == '\0') return v;
    double d = std::strtod(p, &end);
    if (*end == '\0') return d;
  }
  return s;
}

class Parser {
 public:
  explicit Parser(const std::string& text) {
    size_t start = 0;
    int number = 0;
    while (start <= text.size()) {
      size_t nl = text.find('\n', start);
      std::string raw =
          text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      if (!raw.empty() && raw.back() == '\r') raw.pop_back();
      ++number;
      Line l;
      l.number = number;
      l.raw = raw;
      size_t ind = 0;
      while (ind < raw.size() && raw[ind] == ' ') ++ind;
      if (ind < raw.size() && raw[ind] == '\t') {
        std::string rest = Trim(StripComment(raw));
        if (!rest.empty()) throw YamlError(number, "tabs may not be used for indentation");
      }
      l.indent = static_cast<int>(ind);
      l.text = Trim(StripComment(raw.substr(ind)));
      lines_.push_back(l);
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
  }

  YamlDocument Parse() {
    YamlDocument doc;
    doc_ = &doc;
    Skip();
    if (pos_ < lines_.size() && lines_[pos_].text == "---") {
      ++pos_;
      Skip();
    }
    if (pos_ >= lines_.size()) {
      doc.value = nullptr;
      return doc;
    }
    if (lines_[pos_].indent != 0) throw YamlError(lines_[pos_].number, "unexpected indentation");
    doc.value = Block(0, "");
    Skip();
    if (pos_ < lines_.size()) {
      const Line& l = lines_[pos_];
      if (l.text == "---") throw YamlError(l.number, "only one document per file");
      throw YamlError(l.number, "unexpected indentation or content");
    }
    return doc;
  }

 private:
  void Skip() {
    while (pos_ < lines_.size() && lines_[pos_].text.empty()) ++pos_;
  }

  void Mark(const std::string& ptr, int line) { doc_->lines.emplace(ptr.empty() ? "" : ptr, line); }

  static bool IsSeqItem(const std::string& t) { return t == "-" || t.rfind("- ", 0) == 0; }

  // Position of the `:` that ends a mapping key, or npos.
  static size_t KeyColon(const std::string& t) {
    char quote = 0;
    int depth = 0;
    for (size_t i = 0; i < t.size(); ++i) {
      char c = t[i];
      if (quote) {
        if (c == '\\' && quote == '"') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if ((c == '"' || c == '\'') && i == 0) {
        quote = c;
      } else if (c == '[' || c == '{') {
        if (i == 0) return std::string::npos;  // a flow collection, not a key
        ++depth;
      } else if (c == ']' || c == '}') {
        --depth;
      } else if (c == ':' && depth == 0 && (i + 1 == t.size() || t[i + 1] == ' ')) {
        return i;
      }
    }
    return std::string::npos;
  }

  json Block(int indent, const std::string& ptr) {
    const Line& l = lines_[pos_];
    Mark(ptr, l.number);
    if (IsSeqItem(l.text)) return Sequence(indent, ptr);
    if (KeyColon(l.text) != std::string::npos) return Mapping(indent, ptr);
    ++pos_;
    return Inline(l.text, l.number, ptr);
  }

  json Sequence(int indent, const std::string& ptr) {
    json out = json::array();
    while (true) {
      Skip();
      if (pos_ >= lines_.size()) break;
      Line& l = lines_[pos_];
      if (l.indent < indent) break;
      if (l.indent > indent) throw YamlError(l.number, "unexpected indentation");
      if (!IsSeqItem(l.text)) break;
      const std::string item_ptr = ptr + "/" + std::to_string(out.size());
      std::string rest = l.text == "-" ? "" : Trim(l.text.substr(2));
      Mark(item_ptr, l.number);
      if (rest.empty()) {
        ++pos_;
        Skip();
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
          out.push_back(Block(lines_[pos_].indent, item_ptr));
        } else {
          out.push_back(nullptr);
        }
      } else if (KeyColon(rest) != std::string::npos) {
        // `- key: value`: a mapping whose first entry shares the item's line.
        const int inner = indent + static_cast<int>(l.text.size() - rest.size());
        l.indent = inner;
        l.text = rest;
        out.push_back(Mapping(inner, item_ptr));
      } else if (rest == "|" || rest == ">" || rest == "|-" || rest == ">-") {
        ++pos_;
        out.push_back(BlockScalar(rest, indent, l.number));
      } else {
        ++pos_;
        out.push_back(Inline(rest, l.number, item_ptr));
      }
    }
    return out;
  }

  json Mapping(int indent, const std::string& ptr) {
    json out = json::object();
    while (true) {
      Skip();
      if (pos_ >= lines_.size()) break;
      const Line l = lines_[pos_];
      if (l.indent < indent) break;
      if (l.indent > indent) throw YamlError(l.number, "unexpected indentation");
      if (IsSeqItem(l.text) || l.text == "---") break;
      size_t colon = KeyColon(l.text);
      if (colon == std::string::npos) {
        throw YamlError(l.number, "expected `key: value`, got '" + l.text + "'");
      }
      std::string key = Trim(l.text.substr(0, colon));
      if (!key.empty() && (key[0] == '"' || key[0] == '\'')) {
        key = Inline(key, l.number, "").get<std::string>();
      }
      if (key.empty()) throw YamlError(l.number, "empty mapping key");
      if (key[0] == '&' || key[0] == '*' || key[0] == '!') {
        throw YamlError(l.number, "anchors, aliases and tags are not supported");
      }
      if (out.contains(key)) throw YamlError(l.number, "duplicate key '" + key + "'");
      const std::string child_ptr = ptr + "/" + key;
      std::string value = Trim(l.text.substr(colon + 1));
      Mark(child_ptr, l.number);
      ++pos_;
      if (value.empty()) {
        Skip();
        if (pos_ < lines_.size() && lines_[pos_].indent > indent) {
          out[key] = Block(lines_[pos_].indent, child_ptr);
        } else if (pos_ < lines_.size() && lines_[pos_].indent == indent &&
                   IsSeqItem(lines_[pos_].text)) {
          out[key] = Sequence(indent, child_ptr);  // a list at the key's own indentation
        } else {
          out[key] = nullptr;
        }
      } else if (value == "|" || value == ">" || value == "|-" || value == ">-") {
        out[key] = BlockScalar(value, indent, l.number);
      } else {
        out[key] = Inline(value, l.number, child_ptr);
      }
    }
    return out;
  }

  // The lines indented deeper than `parent` after a `|` or `>` indicator.
  json BlockScalar(const std::string& indicator, int parent, int line) {
    std::vector<std::string> body;
    int block_indent = -1;
    while (pos_ < lines_.size()) {
      const Line& l = lines_[pos_];
      bool blank = Trim(l.raw).empty();
      if (!blank) {
        if (l.indent <= parent) break;
        if (block_indent < 0) block_indent = l.indent;
        if (l.indent < block_indent) break;
      }
      body.push_back(blank ? "" : l.raw.substr(static_cast<size_t>(block_indent)));
      ++pos_;
    }
    while (!body.empty() && body.back().empty()) body.pop_back();
    if (body.empty()) throw YamlError(line, "empty block scalar");
    std::string out;
    const bool folded = indicator[0] == '>';
    for (size_t i = 0; i < body.size(); ++i) {
      if (i > 0) out += (folded && !body[i].empty() && !body[i - 1].empty()) ? " " : "\n";
      out += body[i];
    }
    if (indicator.size() == 1) out += "\n";  // clip: one final newline
    return out;
  }

  // A value on one line: flow collection, quoted or plain scalar.
  json Inline(const std::string& text, int line, const std::string& ptr) {
    size_t i = 0;
    json v = Flow(text, i, line, ptr, false);
    while (i < text.size() && text[i] == ' ') ++i;
    if (i != text.size())
      throw YamlError(line, "unexpected text after value: '" + text.substr(i) + "'");
    return v;
  }

  json Flow(const std::string& t, size_t& i, int line, const std::string& ptr, bool in_flow) {
    while (i < t.size() && t[i] == ' ') ++i;
    if (i >= t.size()) return nullptr;
    Mark(ptr, line);
    char c = t[i];
    if (c == '&' || c == '*' || c == '!') {
      throw YamlError(line, "anchors, aliases and tags are not supported");
    }
    if (c == '[') {
      ++i;
      json arr = json::array();
      while (true) {
        while (i < t.size() && t[i] == ' ') ++i;
        if (i >= t.size())
          throw YamlError(line, "unclosed '[' (flow collections must fit on one line)");
        if (t[i] == ']') {
          ++i;
          return arr;
        }
        arr.push_back(Flow(t, i, line, ptr + "/" + std::to_string(arr.size()), true));
        while (i < t.size() && t[i] == ' ') ++i;
        if (i < t.size() && t[i] == ',') {
          ++i;
        } else if (i >= t.size() || t[i] != ']') {
          throw YamlError(line, "expected ',' or ']' in flow sequence");
        }
      }
    }
    if (c == '{') {
      ++i;
      json obj = json::object();
      while (true) {
        while (i < t.size() && t[i] == ' ') ++i;
        if (i >= t.size())
          throw YamlError(line, "unclosed '{' (flow collections must fit on one line)");
        if (t[i] == '}') {
          ++i;
          return obj;
        }
        json key = Flow(t, i, line, "", true);
        if (!key.is_string()) key = key.dump();
        while (i < t.size() && t[i] == ' ') ++i;
        if (i >= t.size() || t[i] != ':') throw YamlError(line, "expected ':' in flow mapping");
        ++i;
        const std::string k = key.get<std::string>();
        if (obj.contains(k)) throw YamlError(line, "duplicate key '" + k + "'");
        obj[k] = Flow(t, i, line, ptr + "/" + k, true);
        while (i < t.size() && t[i] == ' ') ++i;
        if (i < t.size() && t[i] == ',') {
          ++i;
        } else if (i >= t.size() || t[i] != '}') {
          throw YamlError(line, "expected ',' or '}' in flow mapping");
        }
      }
    }
    if (c == '"' || c == '\'') {
      std::string out;
      ++i;
      while (true) {
        if (i >= t.size()) throw YamlError(line, "unclosed quoted string");
        char d = t[i++];
        if (d == c) {
          if (c == '\'' && i < t.size() && t[i] == '\'') {  // '' is a quote
            out += '\'';
            ++i;
            continue;
          }
          return out;
        }
        if (c == '"' && d == '\\') {
          if (i >= t.size()) throw YamlError(line, "unclosed quoted string");
          char e = t[i++];
          switch (e) {
            case 'n':
              out += '\n';
              break;
            case 't':
              out += '\t';
              break;
            case 'r':
              out += '\r';
              break;
            case '0':
              out += '\0';
              break;
            case '"':
              out += '"';
              break;
            case '\\':
              out += '\\';
              break;
            case '/':
              out += '/';
              break;
            default:
              throw YamlError(line, std::string("unknown escape \\") + e + " in a quoted string");
          }
          continue;
        }
        out += d;
      }
    }
    // Plain scalar: up to the end, or (inside a flow collection) , ] } or ': '.
    size_t start = i;
    while (i < t.size()) {
      char d = t[i];
      if (in_flow && (d == ',' || d == ']' || d == '}')) break;
      if (in_flow && d == ':' && (i + 1 == t.size() || t[i + 1] == ' ')) break;
      ++i;
    }
    return PlainScalar(Trim(t.substr(start, i - start)));
  }

  std::vector<Line> lines_;
  size_t pos_ = 0;
  YamlDocument* doc_ = nullptr;
};

}  // namespace

YamlDocument ParseYaml(const std::string& text) { return Parser(text).Parse(); }

}  // namespace cueball::workers
