// PgArrayWriter: writes a PostgreSQL array literal ({"a",NULL,"b"}) straight
// into a string, for the typed array parameters batch statements unnest.
// PostgreSQL parses such a literal for less than the same values as JSON,
// which it builds into a tree and then takes apart again
// (docs/performance.md, "Outcomes as arrays").
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/domain/utf8.h"

namespace cueball::store::pg {

class PgArrayWriter {
 public:
  PgArrayWriter() : out_("{") {}

  void Null() {
    Separate();
    out_ += "NULL";
  }
  // A text element, quoted; bytes that are not UTF-8, and NUL (which
  // PostgreSQL's text cannot hold), become U+FFFD.
  void Text(std::string_view s) {
    Separate();
    std::string storable;
    if (!IsValidUtf8(s) || s.find('\0') != std::string_view::npos) {
      storable = StorableText(s);
      s = storable;
    }
    out_ += '"';
    size_t plain = 0;  // start of the bytes not yet copied
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '"' && s[i] != '\\') continue;
      out_.append(s, plain, i - plain);
      out_ += '\\';
      plain = i;
    }
    out_.append(s, plain, s.size() - plain);
    out_ += '"';
  }
  void Int(int64_t n) {
    Separate();
    char buf[24];
    auto end = std::to_chars(buf, buf + sizeof buf, n).ptr;
    out_.append(buf, end);
  }

  // The value, or NULL for none.
  void TextOrNull(const std::optional<std::string>& s) {
    if (s) {
      Text(*s);
    } else {
      Null();
    }
  }
  void IntOrNull(const std::optional<int64_t>& n) {
    if (n) {
      Int(*n);
    } else {
      Null();
    }
  }

  void Reserve(size_t bytes) { out_.reserve(bytes); }
  // The literal; the writer is spent.
  std::string Take() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Separate() {
    if (!empty_) out_ += ',';
    empty_ = false;
  }

  std::string out_;
  bool empty_ = true;
};

}  // namespace cueball::store::pg
