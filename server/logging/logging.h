// Logging: cueballd's loggers ("main", "api", "engine", "store", "maint")
// on stderr, as text (`TIME LEVEL LOGGER message key=value ...`) or as JSON
// lines (`{"ts":..., "level":..., "logger":..., "msg":..., "key":"value"}`).
// A line is a message and structured fields given at the call site
// (logging::Info(log, "claim failed", {{"error", text}, {"retry_in_ms", 40}})):
// the JSON formatter writes each field as its own member, so a value is
// never parsed back out of formatted text; the text formatter quotes a value
// that needs it (empty, or holding a space, quote, '=', backslash or control
// character), with backslash escapes. A request id set for the current
// thread (ScopedRequestId, by the api for each call) is added to every line
// that thread logs.
#pragma once

#include <spdlog/spdlog.h>

#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace cueball::logging {

// level: trace, debug, info, warn, error; format: text or json. `out`: where
// lines go (tests); null means stderr.
void Setup(const std::string& level, const std::string& format, std::ostream* out = nullptr);

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

// One field of a log line: text, or a number or boolean (a JSON number or
// boolean in JSON lines).
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
  Field(std::string_view k, bool v) : key(k), value(v ? "true" : "false"), text(false) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T>, int> = 0>
  Field(std::string_view k, T v) : key(k), value(std::to_string(v)), text(false) {}
  Field(std::string_view k, double v);

  std::string_view key;
  std::string value;
  bool text = true;
};
using Fields = std::initializer_list<Field>;

// Writes one line, if the logger's level lets it through.
void Write(spdlog::logger& log, spdlog::level::level_enum level, std::string_view msg,
           Fields fields);

// A logger given as a reference or a shared pointer (null: nothing is logged).
struct LoggerRef {
  LoggerRef(spdlog::logger& l) : logger(&l) {}  // NOLINT: implicit by design
  LoggerRef(const std::shared_ptr<spdlog::logger>& l) : logger(l.get()) {}  // NOLINT
  spdlog::logger* logger;
};

inline void Trace(LoggerRef log, std::string_view msg, Fields fields = {}) {
  if (log.logger) Write(*log.logger, spdlog::level::trace, msg, fields);
}
inline void Debug(LoggerRef log, std::string_view msg, Fields fields = {}) {
  if (log.logger) Write(*log.logger, spdlog::level::debug, msg, fields);
}
inline void Info(LoggerRef log, std::string_view msg, Fields fields = {}) {
  if (log.logger) Write(*log.logger, spdlog::level::info, msg, fields);
}
inline void Warn(LoggerRef log, std::string_view msg, Fields fields = {}) {
  if (log.logger) Write(*log.logger, spdlog::level::warn, msg, fields);
}
inline void Error(LoggerRef log, std::string_view msg, Fields fields = {}) {
  if (log.logger) Write(*log.logger, spdlog::level::err, msg, fields);
}

// A value as the text format writes it: bare, or quoted with escapes.
std::string TextValue(std::string_view value);

}  // namespace cueball::logging
