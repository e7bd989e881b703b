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

#include <array>
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
  // The header's place is kept at the front, so Take() copies nothing.
  explicit PgArrayWriter(PgElem type) : type_(type), body_(kHeader, '\0') {}

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

  void Reserve(size_t bytes) { body_.reserve(kHeader + bytes); }
  bool empty() const { return count_ == 0; }
  // The array; the writer is spent. Header: dimensions (0 for an empty
  // array), whether any element is NULL, the element type; for one
  // dimension, its length and lower bound (1). Then the elements, each its
  // length (-1: NULL) and bytes.
  std::string Take() {
    std::string header;
    Be32(header, count_ == 0 ? 0 : 1);
    Be32(header, has_null_ ? 1 : 0);
    Be32(header, static_cast<uint32_t>(type_));
    if (count_ == 0) return header;  // no dimensions, no elements
    Be32(header, count_);
    Be32(header, 1);
    body_.replace(0, kHeader, header);
    return std::move(body_);
  }

 private:
  static void Be32(std::string& out, uint32_t v) {
    const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 8), static_cast<char>(v)};
    out.append(b, 4);
  }
  void Be32(uint32_t v) { Be32(body_, v); }
  // 0-15 for a hex digit, -1 for anything else.
  static int HexValue(char c) {
    static const auto table = [] {
      std::array<int8_t, 256> t{};
      t.fill(-1);
      for (int i = 0; i < 10; ++i) t['0' + i] = static_cast<int8_t>(i);
      for (int i = 0; i < 6; ++i) t['a' + i] = t['A' + i] = static_cast<int8_t>(10 + i);
      return t;
    }();
    return table[static_cast<unsigned char>(c)];
  }
  void Uuid(std::string_view s) {
    char bytes[16];
    int digits = 0;
    for (char ch : s) {
      if (ch == '-') continue;
      const int v = HexValue(ch);
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

  static constexpr size_t kHeader = 20;  // dimensions, flags, type, length, lower bound
  const PgElem type_;
  std::string body_;
  uint32_t count_ = 0;
  bool has_null_ = false;
};

}  // namespace cueball::store::pg
