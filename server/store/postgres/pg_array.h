// PgArrayWriter: writes a one-dimensional PostgreSQL array in the binary
// wire format (what array_send writes and array_recv reads), for the typed
// array parameters that batch statements unnest; the statement gets it as a
// binary parameter (pqxx::binarystring). PostgreSQL takes the elements
// apart by their lengths, where a text literal ({"a",NULL,"b"}) was scanned
// for quotes and escapes and each element parsed from text (array_in, 7% of
// its instructions per drained run: docs/performance.md, "Arrays in binary").
// The element type must be the one the statement casts the parameter to
// ($1::int[] is int4, bigint[] int8, text[] text, uuid[] uuid).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "server/domain/utf8.h"

namespace cueball::store::pg {

// Element types, by their PostgreSQL type OIDs.
enum class PgElem : uint32_t { kInt4 = 23, kInt8 = 20, kText = 25, kUuid = 2950 };

class PgArrayWriter {
 public:
  explicit PgArrayWriter(PgElem type) : type_(type) {}

  void Null() {
    has_null_ = true;
    Be32(0xFFFFFFFFu);  // length -1
    ++count_;
  }
  // A text element (kText): bytes that are not UTF-8, and NUL (which
  // PostgreSQL's text cannot hold), become U+FFFD. A uuid element (kUuid):
  // its 32 hex digits, hyphens anywhere. Anything else throws, and adds no
  // element.
  void Text(std::string_view s) {
    if (type_ == PgElem::kUuid) {
      Uuid(s);
    } else if (type_ == PgElem::kText) {
      std::string storable;
      if (!IsValidUtf8(s) || s.find('\0') != std::string_view::npos) {
        storable = StorableText(s);
        s = storable;
      }
      Be32(static_cast<uint32_t>(s.size()));
      body_.append(s);
    } else {
      throw std::logic_error("PgArrayWriter: text in an integer array");
    }
    ++count_;
  }
  void Int(int64_t n) {
    if (type_ == PgElem::kInt8) {
      Be32(8);
      Be32(static_cast<uint32_t>(static_cast<uint64_t>(n) >> 32));
      Be32(static_cast<uint32_t>(static_cast<uint64_t>(n)));
    } else if (type_ == PgElem::kInt4) {
      if (n < INT32_MIN || n > INT32_MAX) {
        throw std::out_of_range("PgArrayWriter: " + std::to_string(n) +
                                " is out of range for int4");
      }
      Be32(4);
      Be32(static_cast<uint32_t>(static_cast<int32_t>(n)));
    } else {
      throw std::logic_error("PgArrayWriter: integer in a text or uuid array");
    }
    ++count_;
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

  void Reserve(size_t bytes) { body_.reserve(bytes); }
  bool empty() const { return count_ == 0; }
  // The array; the writer is spent. Header: dimensions (0 for an empty
  // array), whether any element is NULL, the element type; for one
  // dimension, its length and lower bound (1). Then the elements, each its
  // length (-1: NULL) and bytes.
  std::string Take() {
    std::string out;
    out.reserve(20 + body_.size());
    Be32(out, count_ == 0 ? 0 : 1);
    Be32(out, has_null_ ? 1 : 0);
    Be32(out, static_cast<uint32_t>(type_));
    if (count_ > 0) {
      Be32(out, count_);
      Be32(out, 1);
    }
    out += body_;
    body_.clear();
    return out;
  }

 private:
  static void Be32(std::string& out, uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
  }
  void Be32(uint32_t v) { Be32(body_, v); }
  void Uuid(std::string_view s) {
    char bytes[16];
    int digits = 0;
    for (char ch : s) {
      if (ch == '-') continue;
      int v = ch >= '0' && ch <= '9'   ? ch - '0'
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                       : -1;
      if (v < 0 || digits == 32) throw std::invalid_argument("not a uuid: " + std::string(s));
      if (digits % 2 == 0) {
        bytes[digits / 2] = static_cast<char>(v << 4);
      } else {
        bytes[digits / 2] = static_cast<char>(bytes[digits / 2] | v);
      }
      ++digits;
    }
    if (digits != 32) throw std::invalid_argument("not a uuid: " + std::string(s));
    Be32(16);
    body_.append(bytes, 16);
  }

  const PgElem type_;
  std::string body_;
  uint32_t count_ = 0;
  bool has_null_ = false;
};

}  // namespace cueball::store::pg
