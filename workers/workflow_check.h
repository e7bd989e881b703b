// What parsing a workflow file and checking its step kinds share: where a
// field is (file and line, for errors), and the checks every field gets.
#pragma once

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "server/domain/duration.h"
#include "server/domain/status.h"
#include "server/engine/workflow.h"

namespace cueball::workers {

using engine::Json;

// Where a field is, for errors: the file and the line of a JSON pointer.
class Locator {
 public:
  Locator(std::string path, std::map<std::string, int> lines)
      : path_(std::move(path)), lines_(std::move(lines)) {}
  // "file:line: field: msg", using the nearest enclosing pointer with a line.
  Status Error(const std::string& ptr, const std::string& field, const std::string& msg) const {
    std::string p = ptr;
    while (true) {
      auto it = lines_.find(p);
      if (it != lines_.end()) {
        return InvalidArgument(path_ + ":" + std::to_string(it->second) + ": " + field + ": " +
                               msg);
      }
      if (p.empty()) break;
      p = p.substr(0, p.rfind('/'));
    }
    return InvalidArgument(path_ + ": " + field + ": " + msg);
  }

 private:
  std::string path_;
  std::map<std::string, int> lines_;
};

inline bool ValidName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
           c == ':';
  });
}

struct Checker {
  const Locator& loc;
  Status st = Status::Ok();
  bool Fail(const std::string& ptr, const std::string& field, const std::string& msg) {
    if (st.ok()) st = loc.Error(ptr, field, msg);
    return false;
  }
  // Only these keys.
  bool Keys(const Json& obj, const std::string& ptr, const std::string& field,
            const std::set<std::string>& allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (!allowed.count(it.key())) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Fail(ptr + "/" + it.key(), field + it.key(),
                    "unknown field (allowed: " + list + ")");
      }
    }
    return true;
  }
  std::optional<Millis> Duration(const Json& v, const std::string& ptr, const std::string& field) {
    std::optional<Millis> d;
    if (v.is_number_integer() && v.get<int64_t>() >= 0) d = Millis(v.get<int64_t>());
    if (v.is_string()) d = ParseDuration(v.get<std::string>());
    if (!d) Fail(ptr, field, "must be a duration like 500ms, 30s, 5m or 1h (or milliseconds)");
    return d;
  }
};

}  // namespace cueball::workers
