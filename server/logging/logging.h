// Logging: cueballd's loggers ("main", "api", "engine", "store", "maint")
// on stderr, as text (`TIME LEVEL LOGGER message key=value ...`) or as JSON
// lines (`{"ts":..., "level":..., "logger":..., "msg":..., "key":"value"}`),
// where the key=value pairs of a message become fields. A request id set for
// the current thread (ScopedRequestId, by the api for each call) is added to
// every line that thread logs.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cueball::logging {

// level: trace, debug, info, warn, error; format: text or json.
void Setup(const std::string& level, const std::string& format);

// The request id of the call this thread is serving ("" if none).
const std::string& CurrentRequestId();

class ScopedRequestId {
 public:
  explicit ScopedRequestId(std::string id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// Splits "text key=value key2=\"quoted value\"" into the text and the pairs
// (exposed for tests).
struct Fields {
  std::string msg;
  std::vector<std::pair<std::string, std::string>> pairs;
};
Fields SplitFields(const std::string& message);

}  // namespace cueball::logging
