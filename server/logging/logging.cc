#include "server/logging/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <chrono>
#include <ctime>

namespace cueball::logging {
namespace {

thread_local std::string t_request_id;

bool IsKeyChar(char c) { return std::islower(static_cast<unsigned char>(c)) || c == '_'; }

// At `i`: a key ([a-z_]+) followed by '='? Returns the key's end.
size_t KeyEnd(const std::string& s, size_t i) {
  size_t j = i;
  while (j < s.size() && IsKeyChar(s[j])) ++j;
  return (j > i && j < s.size() && s[j] == '=') ? j : std::string::npos;
}

void AppendJsonString(const std::string& s, spdlog::memory_buf_t& out) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out.append(std::string_view("\\\""));
        break;
      case '\\':
        out.append(std::string_view("\\\\"));
        break;
      case '\n':
        out.append(std::string_view("\\n"));
        break;
      case '\r':
        out.append(std::string_view("\\r"));
        break;
      case '\t':
        out.append(std::string_view("\\t"));
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(std::string_view(buf));
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// ` request_id=...` after the text message when the thread serves a call.
class RequestIdFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_request_id.empty()) return;
    dest.append(std::string_view(" request_id="));
    dest.append(std::string_view(t_request_id));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<RequestIdFlag>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto t = msg.time;
    const std::time_t secs = system_clock::to_time_t(t);
    const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[40];
    size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms));
    Fields f = SplitFields(std::string(msg.payload.data(), msg.payload.size()));
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(std::string_view(ts));
    dest.append(std::string_view("\",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string(level.data(), level.size()), dest);
    dest.append(std::string_view(",\"logger\":"));
    AppendJsonString(std::string(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view(",\"msg\":"));
    AppendJsonString(f.msg, dest);
    for (const auto& [k, v] : f.pairs) {
      if (k == "ts" || k == "level" || k == "logger" || k == "msg") continue;
      dest.push_back(',');
      AppendJsonString(k, dest);
      dest.push_back(':');
      AppendJsonString(v, dest);
    }
    if (!t_request_id.empty()) {
      dest.append(std::string_view(",\"request_id\":"));
      AppendJsonString(t_request_id, dest);
    }
    dest.append(std::string_view("}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

Fields SplitFields(const std::string& s) {
  Fields f;
  size_t i = 0;
  std::string text;
  while (i < s.size()) {
    const bool at_word = i == 0 || s[i - 1] == ' ';
    const size_t key_end = at_word ? KeyEnd(s, i) : std::string::npos;
    if (key_end == std::string::npos) {
      text.push_back(s[i++]);
      continue;
    }
    std::string key = s.substr(i, key_end - i);
    std::string value;
    size_t j = key_end + 1;
    if (j < s.size() && s[j] == '"') {
      for (++j; j < s.size() && s[j] != '"'; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) ++j;
        value.push_back(s[j]);
      }
      if (j < s.size()) ++j;  // closing quote
    } else {
      while (j < s.size() && s[j] != ' ') value.push_back(s[j++]);
    }
    f.pairs.emplace_back(std::move(key), std::move(value));
    i = j;
  }
  // The text parts, with the gaps the pairs left squeezed out.
  std::string squeezed;
  for (char c : text) {
    if (c == ' ' && (squeezed.empty() || squeezed.back() == ' ')) continue;
    squeezed.push_back(c);
  }
  while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
  f.msg = squeezed;
  return f;
}

const std::string& CurrentRequestId() { return t_request_id; }

ScopedRequestId::ScopedRequestId(std::string id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(id);
}

ScopedRequestId::~ScopedRequestId() { t_request_id = std::move(previous_); }

void Setup(const std::string& level, const std::string& format) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  if (format == "json") {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<RequestIdFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n %v%*");
    sink->set_formatter(std::move(f));
  }
  for (const char* name : {"main", "api", "engine", "store", "maint"}) {
    spdlog::drop(name);
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(spdlog::get("main"));
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace cueball::logging
