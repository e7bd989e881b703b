// Domain value types: run ids, statuses, durations and UTF-8 text; the store's JSON writer.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <vector>

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

namespace {

// A binary array as PostgreSQL's array_recv reads it: the header's fields,
// then each element's bytes (nullopt: NULL).
struct DecodedArray {
  uint32_t ndim = 0, has_null = 0, oid = 0, dim = 0, lbound = 0;
  std::vector<std::optional<std::string>> elems;
};

DecodedArray Decode(const std::string& b) {
  size_t at = 0;
  auto u32 = [&] {
    REQUIRE(at + 4 <= b.size());
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(b[at++]);
    return v;
  };
  DecodedArray d;
  d.ndim = u32();
  d.has_null = u32();
  d.oid = u32();
  if (d.ndim == 1) {
    d.dim = u32();
    d.lbound = u32();
    for (uint32_t i = 0; i < d.dim; ++i) {
      uint32_t len = u32();
      if (len == 0xFFFFFFFFu) {
        d.elems.push_back(std::nullopt);
        continue;
      }
      REQUIRE(at + len <= b.size());
      d.elems.push_back(b.substr(at, len));
      at += len;
    }
  }
  CHECK(at == b.size());
  return d;
}

}  // namespace

TEST_CASE("the store's array writer writes binary arrays of text, integers and uuids") {
  using store::pg::PgArrayWriter;
  using store::pg::PgElem;
  PgArrayWriter text(PgElem::kText);
  text.Text("plain");
  text.Null();
  text.Text("NULL");  // the text, not a null
  text.Text(std::string("caf\xE9 \0x", 7));
  text.Text("");
  auto t = Decode(text.Take());
  CHECK(t.ndim == 1);
  CHECK(t.has_null == 1);
  CHECK(t.oid == 25);
  CHECK(t.dim == 5);
  CHECK(t.lbound == 1);
  CHECK(t.elems == std::vector<std::optional<std::string>>{"plain", std::nullopt, "NULL",
                                                           "caf\xEF\xBF\xBD \xEF\xBF\xBDx", ""});

  PgArrayWriter ints(PgElem::kInt4);
  ints.Int(-12);
  ints.Int(258);
  CHECK_THROWS(ints.Int(int64_t{1} << 40));
  CHECK_THROWS(ints.Text("1"));
  auto i4 = Decode(ints.Take());
  CHECK(i4.oid == 23);
  CHECK(i4.has_null == 0);
  CHECK(i4.elems == std::vector<std::optional<std::string>>{std::string("\xFF\xFF\xFF\xF4", 4),
                                                            std::string("\0\0\x01\x02", 4)});

  PgArrayWriter bigs(PgElem::kInt8);
  bigs.Int(-1);
  bigs.IntOrNull(std::nullopt);
  bigs.Int(int64_t{1} << 32);
  auto i8 = Decode(bigs.Take());
  CHECK(i8.oid == 20);
  CHECK(i8.elems == std::vector<std::optional<std::string>>{std::string(8, '\xFF'), std::nullopt,
                                                            std::string("\0\0\0\x01\0\0\0\0", 8)});

  PgArrayWriter uuids(PgElem::kUuid);
  uuids.Text("01234567-89ab-cdef-0123-456789ABCDEF");
  CHECK_THROWS(uuids.Text("not-a-uuid"));
  CHECK_THROWS(uuids.Text("01234567-89ab-cdef-0123-456789abcdef0"));
  auto u = Decode(uuids.Take());
  CHECK(u.oid == 2950);
  CHECK(u.elems == std::vector<std::optional<std::string>>{std::string(
                       "\x01\x23\x45\x67\x89\xAB\xCD\xEF\x01\x23\x45\x67\x89\xAB\xCD\xEF", 16)});

  // An empty array has no dimensions.
  auto e = Decode(PgArrayWriter(PgElem::kText).Take());
  CHECK(e.ndim == 0);
  CHECK(e.oid == 25);
  CHECK(e.elems.empty());
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
