// JsonWriter: writes JSON text straight into a string, for the rows the
// batch statements read with jsonb_to_recordset. Building them as nlohmann
// trees first (a std::map node per key, a string per value) cost the
// completer more CPU than everything else it does per run
// (docs/performance.md, "The daemon's own CPU").
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/domain/utf8.h"

namespace cueball::store::pg {

class JsonWriter {
 public:
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }
  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  // An object's key; the next call writes its value.
  void Key(std::string_view key) {
    String(key);
    out_ += ':';
    first_ = true;
  }
  // A string value, escaped; bytes that are not UTF-8, and NUL (which
  // PostgreSQL's text cannot hold), become U+FFFD.
  void String(std::string_view s);
  void Int(int64_t n) {
    Separate();
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    out_.append(buf, end);
  }
  // Shorthands for one key and its value.
  void Field(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
  void Field(std::string_view key, int64_t value) {
    Key(key);
    Int(value);
  }

  void Reserve(size_t bytes) { out_.reserve(bytes); }
  std::string Take() { return std::move(out_); }

 private:
  void Separate() {
    if (!first_) out_ += ',';
    first_ = false;
  }
  void Open(char c) {
    Separate();
    out_ += c;
    first_ = true;
  }
  void Close(char c) {
    out_ += c;
    first_ = false;
  }

  std::string out_;
  bool first_ = true;  // nothing written yet at this level: no comma before the next value
};

inline void JsonWriter::String(std::string_view s) {
  Separate();
  std::string valid;
  if (!IsValidUtf8(s)) {
    valid = ValidUtf8(s);
    s = valid;
  }
  out_ += '"';
  size_t plain = 0;  // start of the bytes not yet copied
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out_.append(s, plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"':
        out_ += "\\\"";
        break;
      case '\\':
        out_ += "\\\\";
        break;
      case '\n':
        out_ += "\\n";
        break;
      case '\r':
        out_ += "\\r";
        break;
      case '\t':
        out_ += "\\t";
        break;
      case '\0':
        out_ += "\xEF\xBF\xBD";
        break;
      default: {
        static const char kHex[] = "0123456789abcdef";
        out_ += "\\u00";
        out_ += kHex[c >> 4];
        out_ += kHex[c & 0xF];
      }
    }
  }
  out_.append(s, plain, s.size() - plain);
  out_ += '"';
}

}  // namespace cueball::store::pg
