#include "server/domain/duration.h"

#include <cctype>
#include <cstdint>

namespace cueball {

std::optional<Millis> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  size_t i = 0;
  int64_t total_ms = 0;
  bool any = false;
  constexpr int64_t kMaxMs = int64_t{10} * 366 * 24 * 3600 * 1000;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > kMaxMs) return std::nullopt;
      ++i;
    }
    std::string_view unit;
    size_t start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    unit = text.substr(start, i - start);
    int64_t mult;
    if (unit == "ms")
      mult = 1;
    else if (unit == "s" || (unit.empty() && !any && i == text.size()))
      mult = 1000;
    else if (unit == "m")
      mult = 60 * 1000;
    else if (unit == "h")
      mult = 3600 * 1000;
    else if (unit == "d")
      mult = 24 * 3600 * 1000;
    else
      return std::nullopt;
    total_ms += n * mult;
    if (total_ms > kMaxMs) return std::nullopt;
    any = true;
  }
  return Millis(total_ms);
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  if (ms % 1000 != 0 || ms == 0) return std::to_string(ms) + "ms";
  int64_t s = ms / 1000;
  if (s % 60 != 0) return std::to_string(s) + "s";
  int64_t m = s / 60;
  if (m % 60 != 0)
    return m >= 60 ? std::to_string(m / 60) + "h" + std::to_string(m % 60) + "m"
                   : std::to_string(m) + "m";
  return std::to_string(m / 60) + "h";
}

}  // namespace cueball
