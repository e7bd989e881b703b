#include "server/domain/utf8.h"

namespace cueball {
namespace {

// Length of the well-formed sequence at s[i], or 0 if none starts there
// (Unicode 15, table 3-7). On 0, *skip is the length of the maximal subpart
// to replace (at least 1).
size_t SequenceAt(std::string_view s, size_t i, size_t* skip) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  *skip = 1;
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // no overlong forms
    if (c == 0xED) hi = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // no overlong forms
    if (c == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= s.size()) {
      *skip = k;
      return 0;
    }
    const unsigned char lo_k = k == 1 ? lo : 0x80, hi_k = k == 1 ? hi : 0xBF;
    if (b(k) < lo_k || b(k) > hi_k) {
      *skip = k;
      return 0;
    }
  }
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  size_t skip;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII, the common case
      ++i;
      continue;
    }
    size_t n = SequenceAt(s, i, &skip);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t skip;
  for (size_t i = 0; i < s.size();) {
    size_t n = SequenceAt(s, i, &skip);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      i += skip;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

std::string StorableText(std::string_view s) {
  std::string out = ValidUtf8(s);
  for (size_t i = 0; (i = out.find('\0', i)) != std::string::npos;) {
    out.replace(i, 1, "\xEF\xBF\xBD");
    i += 3;
  }
  return out;
}

std::string StorableJson(std::string json) {
  if (json.find("\\u0000") == std::string::npos) return json;  // the common case
  // Walk the escapes, so that an escaped backslash followed by "u0000" (the
  // six characters themselves) is left alone.
  for (size_t i = 0; i + 1 < json.size(); ++i) {
    if (json[i] != '\\') continue;
    if (json.compare(i + 1, 5, "u0000") == 0) json.replace(i + 2, 4, "fffd");
    ++i;  // the escaped character is never the start of an escape
  }
  return json;
}

}  // namespace cueball
