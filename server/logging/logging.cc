#include "server/logging/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "server/domain/utf8.h"

namespace cueball::logging {
namespace {

thread_local std::string t_request_id;
// The fields of the line this thread is writing (set by Write around the
// logger call; spdlog's synchronous sinks format on the calling thread).
thread_local const Fields* t_fields = nullptr;

void AppendJsonString(std::string_view raw, spdlog::memory_buf_t& out) {
  const std::string s = ValidUtf8(raw);  // JSON text must be UTF-8
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
        if (c < 0x20 || c == 0x7f) {
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

// The fields (and the request id) after the message, for text lines.
class FieldsFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg&, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    if (t_fields) {
      for (const auto& f : *t_fields) {
        dest.push_back(' ');
        dest.append(f.key);
        dest.push_back('=');
        dest.append(f.text ? TextValue(f.value) : f.value);
      }
    }
    if (t_request_id.empty()) return;
    dest.append(std::string_view(" request_id="));
    dest.append(TextValue(t_request_id));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<FieldsFlag>();
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
    dest.append(std::string_view("{\"ts\":\""));
    dest.append(std::string_view(ts));
    dest.append(std::string_view("\",\"level\":"));
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level.data(), level.size()), dest);
    dest.append(std::string_view(",\"logger\":"));
    AppendJsonString(std::string_view(msg.logger_name.data(), msg.logger_name.size()), dest);
    dest.append(std::string_view(",\"msg\":"));
    AppendJsonString(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    if (t_fields) {
      for (const auto& f : *t_fields) {
        if (f.key == "ts" || f.key == "level" || f.key == "logger" || f.key == "msg" ||
            f.key == "request_id") {
          continue;  // the line's own members win
        }
        dest.push_back(',');
        AppendJsonString(f.key, dest);
        dest.push_back(':');
        if (f.text) {
          AppendJsonString(f.value, dest);
        } else {
          dest.append(f.value);
        }
      }
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

Field::Field(std::string_view k, double v) : key(k) {
  if (std::isfinite(v)) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    value = buf;
    text = false;
  } else {
    value = std::isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity");  // not JSON numbers
  }
}

std::string TextValue(std::string_view v) {
  bool quote = v.empty();
  for (unsigned char c : v) {
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') {
      quote = true;
      break;
    }
  }
  if (!quote) return std::string(v);
  std::string out = "\"";
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out += "\"";
  return out;
}

void Write(spdlog::logger& log, spdlog::level::level_enum level, std::string_view msg,
           Fields fields) {
  if (!log.should_log(level)) return;
  const Fields* outer = t_fields;
  t_fields = &fields;
  log.log(level, "{}", msg);
  t_fields = outer;
}

const std::string& CurrentRequestId() { return t_request_id; }

ScopedRequestId::ScopedRequestId(std::string id) : previous_(std::move(t_request_id)) {
  t_request_id = std::move(id);
}

ScopedRequestId::~ScopedRequestId() { t_request_id = std::move(previous_); }

void Setup(const std::string& level, const std::string& format, std::ostream* out) {
  spdlog::sink_ptr sink;
  if (out) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out, true);
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  if (format == "json") {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<FieldsFlag>('*').set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n %v%*");
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
