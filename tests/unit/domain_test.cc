// Domain value types: run ids, statuses, durations and UTF-8 text; the store's JSON writer.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "server/domain/duration.h"
#include "server/domain/run.h"
#include "server/domain/utf8.h"
#include "server/store/postgres/pg_array.h"

using namespace cueball;

TEST_CASE("new run ids are canonical UUIDv7 and sort by creation time") {
  std::set<std::string> seen;
  std::string prev;
  for (int i = 0; i < 1000; ++i) {
    auto id = RunId::NewV7().str();
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '7');                                          // version nibble
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);  // variant
    CHECK(seen.insert(id).second);
    if (i % 100 == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!prev.empty()) CHECK(prev.substr(0, 13) <= id.substr(0, 13));
      prev = id;
    }
  }
}

TEST_CASE("run id parsing accepts any case and rejects malformed text") {
  auto id = RunId::Parse("01A20501-79F8-7FFE-8C6E-F14D984AC55C");
  REQUIRE(id);
  CHECK(id->str() == "01a20501-79f8-7ffe-8c6e-f14d984ac55c");
  CHECK_FALSE(RunId::Parse(""));
  CHECK_FALSE(RunId::Parse("123"));
  CHECK_FALSE(RunId::Parse("01a20501-79f8-7ffe-8c6e-f14d984ac55"));
  CHECK_FALSE(RunId::Parse("01a20501x79f8-7ffe-8c6e-f14d984ac55c"));
  CHECK_FALSE(RunId::Parse("01a20501-79f8-7ffe-8c6e-f14d984ac55g"));
}

TEST_CASE("run statuses round-trip through their names") {
  for (auto s : {RunStatus::kEnqueued, RunStatus::kRunning, RunStatus::kWaiting,
                 RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kCanceled}) {
    CHECK(ParseRunStatus(RunStatusName(s)) == s);
  }
  CHECK_FALSE(ParseRunStatus("done"));
  CHECK(IsTerminal(RunStatus::kCanceled));
  CHECK_FALSE(IsTerminal(RunStatus::kWaiting));
}

TEST_CASE("durations parse with units and reject nonsense") {
  CHECK(ParseDuration("250ms") == Millis(250));
  CHECK(ParseDuration("30s") == Millis(30000));
  CHECK(ParseDuration("30") == Millis(30000));
  CHECK(ParseDuration("5m") == Millis(300000));
  CHECK(ParseDuration("1h30m") == Millis(5400000));
  CHECK(ParseDuration("0s") == Millis(0));
  CHECK_FALSE(ParseDuration(""));
  CHECK_FALSE(ParseDuration("-5s"));
  CHECK_FALSE(ParseDuration("5 s"));
  CHECK_FALSE(ParseDuration("5x"));
  CHECK_FALSE(ParseDuration("99999999999999999999s"));
  CHECK(FormatDuration(Millis(250)) == "250ms");
  CHECK(FormatDuration(Millis(30000)) == "30s");
  CHECK(FormatDuration(Millis(5400000)) == "1h30m");
}

TEST_CASE("times format as RFC 3339 UTC with milliseconds") {
  CHECK(FormatTime(FromMicros(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(FormatTime(FromMicros(1234567)) == "1970-01-01T00:00:01.234Z");
}

TEST_CASE("text that is not UTF-8 is made valid, one U+FFFD per invalid part") {
  const std::string fffd = "\xEF\xBF\xBD";
  // Valid text, including 2-, 3- and 4-byte forms, is unchanged.
  for (std::string ok :
       {std::string(""), std::string("plain"), std::string("caf\xC3\xA9"),
        std::string("\xE2\x82\xAC 5"), std::string("\xF0\x9F\x8E\xB1"), std::string("a\0b", 3)}) {
    CHECK(IsValidUtf8(ok));
    CHECK(ValidUtf8(ok) == ok);
  }
  CHECK_FALSE(IsValidUtf8("caf\xE9"));
  CHECK(ValidUtf8("caf\xE9 x") == "caf" + fffd + " x");               // Latin-1 byte
  CHECK(ValidUtf8("\xE2\x82") == fffd);                               // cut mid-character
  CHECK(ValidUtf8("ab\xF0\x9F\x8E") == "ab" + fffd);                  // cut 4-byte form
  CHECK(ValidUtf8("\xC0\xAF") == fffd + fffd);                        // overlong '/'
  CHECK(ValidUtf8("\xED\xA0\x80") == fffd + fffd + fffd);             // a surrogate
  CHECK(ValidUtf8("\xF4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(ValidUtf8("\x80\xBF") == fffd + fffd);                        // lone continuations
  CHECK(ValidUtf8("\xE2\x82x") == fffd + "x");  // the byte after a cut is kept
  CHECK(IsValidUtf8(ValidUtf8("\xFF\xFE\xC3")));
}

TEST_CASE(
    "the store's array writer quotes text, writes NULL and integers, and keeps text storable") {
  store::pg::PgArrayWriter w;
  w.Text("plain");
  w.Null();
  w.Text("NULL");  // the text, not a null: quoted
  w.Text("a\"b\\c,{d} e");
  w.Int(-12);
  w.Text(std::string("caf\xE9 \0x", 7));
  w.Text("");
  CHECK(
      w.Take() ==
      "{\"plain\",NULL,\"NULL\",\"a\\\"b\\\\c,{d} e\",-12,\"caf\xEF\xBF\xBD \xEF\xBF\xBDx\",\"\"}");
  store::pg::PgArrayWriter empty;
  CHECK(empty.Take() == "{}");
}

TEST_CASE("text and JSON are made storable: U+0000 becomes U+FFFD") {
  const std::string fffd = "\xEF\xBF\xBD";
  CHECK(StorableText(std::string("a\0b\0", 4)) == "a" + fffd + "b" + fffd);
  CHECK(StorableText("caf\xE9") == "caf" + fffd);
  CHECK(StorableText("plain") == "plain");
  CHECK(StorableJson(R"({"a":"x\u0000y","\u0000":1})") == R"({"a":"x\ufffdy","\ufffd":1})");
  // An escaped backslash followed by "u0000" is six plain characters.
  CHECK(StorableJson(R"(["\\u0000","\\\u0000"])") == R"(["\\u0000","\\\ufffd"])");
  CHECK(StorableJson(R"({"a":"\u00001"})") == R"({"a":"\ufffd1"})");
  CHECK(StorableJson("[1,2]") == "[1,2]");
}
