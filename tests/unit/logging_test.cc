// Log lines carry structured fields: JSON lines give every value back
// exactly, whatever it holds; text lines quote the values that need it.
#include "server/logging/logging.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace cueball;

namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

const std::vector<std::string> kAwkward = {
    "plain",
    "two words",
    "say \"hi\"",
    "key=value k2=\"v\"",
    "line one\nline two\r\n",
    "tab\there",
    "back\\slash",
    "naïve — café 𝄞 日本",
    "",
    "connection to server at \"postgres\" (172.19.0.2), port 5432 failed: Connection refused",
    std::string("nul\0inside", 10),
    "\x01\x1f\x7f",
};

}  // namespace

TEST_CASE("JSON log lines give back every field value exactly") {
  std::ostringstream out;
  logging::Setup("info", "json", &out);
  auto log = spdlog::get("main");
  for (const auto& v : kAwkward) {
    logging::Info(log, v, {{"error", v}, {"count", 42}, {"ok", true}, {"ratio", 0.25}});
  }
  {
    logging::ScopedRequestId rid("req \"7\"");
    logging::Warn(log, "with a request id", {{"msg", "not the message"}});
  }
  logging::Debug(log, "below the level", {{"x", 1}});
  auto lines = Lines(out.str());
  REQUIRE(lines.size() == kAwkward.size() + 1);
  for (size_t i = 0; i < kAwkward.size(); ++i) {
    INFO(lines[i]);
    auto j = nlohmann::json::parse(lines[i]);
    CHECK(j["msg"] == kAwkward[i]);
    CHECK(j["error"] == kAwkward[i]);
    CHECK(j["count"] == 42);
    CHECK(j["ok"] == true);
    CHECK(j["ratio"] == 0.25);
    CHECK(j["level"] == "info");
    CHECK(j["logger"] == "main");
  }
  auto last = nlohmann::json::parse(lines.back());
  CHECK(last["msg"] == "with a request id");  // a field never replaces the line's own
  CHECK(last["request_id"] == "req \"7\"");
  CHECK(last["level"] == "warning");
  logging::Setup("info", "text");
}

TEST_CASE("invalid UTF-8 in a value still makes a valid JSON line") {
  std::ostringstream out;
  logging::Setup("info", "json", &out);
  logging::Error(spdlog::get("store"), "bad bytes", {{"error", std::string("a\xff\xfe b")}});
  auto j = nlohmann::json::parse(Lines(out.str()).at(0));
  CHECK(j["error"] == "a\xEF\xBF\xBD\xEF\xBF\xBD b");
  logging::Setup("info", "text");
}

TEST_CASE("text log lines quote the values that need it") {
  std::ostringstream out;
  logging::Setup("info", "text", &out);
  logging::Info(spdlog::get("api"), "run canceled",
                {{"run", "01a2"},
                 {"reason", "not needed"},
                 {"error", "a \"b\"=c\nd"},
                 {"empty", ""},
                 {"n", -3},
                 {"name", "café"}});
  auto line = Lines(out.str()).at(0);
  CHECK_THAT(line, Catch::EndsWith(" info api run canceled run=01a2 reason=\"not needed\" "
                                   "error=\"a \\\"b\\\"=c\\nd\" empty=\"\" n=-3 name=café"));
  CHECK(logging::TextValue("plain") == "plain");
  CHECK(logging::TextValue("a=b") == "\"a=b\"");
  CHECK(logging::TextValue("back\\slash") == "\"back\\\\slash\"");
  logging::Setup("info", "text");
}
