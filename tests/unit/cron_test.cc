// CronSchedule: parsing (and refusing) expressions and time zones, and the
// next tick, across months, leap years and daylight-saving changes, with
// the system tz database.
#include "server/engine/cron.h"

#include <catch2/catch.hpp>

using namespace cueball;
using cueball::engine::CronSchedule;

namespace {

// RFC 3339 in UTC to a TimePoint (whole seconds).
TimePoint At(const std::string& utc) {
  std::tm tm{};
  REQUIRE(strptime(utc.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm) != nullptr);
  return FromMicros(static_cast<int64_t>(timegm(&tm)) * 1000000);
}

CronSchedule Cron(const std::string& expr, const std::string& tz = "UTC") {
  auto c = CronSchedule::Parse(expr, tz);
  INFO(c.status().message());
  REQUIRE(c.ok());
  return *c;
}

// The next n ticks after `from`, as RFC 3339 UTC text (milliseconds).
std::vector<std::string> Ticks(const CronSchedule& c, const std::string& from, int n) {
  std::vector<std::string> out;
  TimePoint t = At(from);
  for (int i = 0; i < n; ++i) {
    auto next = c.Next(t);
    REQUIRE(next);
    out.push_back(FormatTime(*next));
    t = *next;
  }
  return out;
}

}  // namespace

TEST_CASE("cron: fields, ranges, steps, lists, names and macros") {
  CHECK(Ticks(Cron("*/15 * * * *"), "2026-12-06T10:07:00Z", 3) ==
        std::vector<std::string>{"2026-12-06T10:15:00.000Z", "2026-12-06T10:30:00.000Z",
                                 "2026-12-06T10:45:00.000Z"});
  CHECK(Ticks(Cron("0 9-17/4 * * mon-fri"), "2026-12-04T16:00:00Z", 3) ==  // a Friday
        std::vector<std::string>{"2026-12-04T17:00:00.000Z", "2026-12-07T09:00:00.000Z",
                                 "2026-12-07T13:00:00.000Z"});
  CHECK(Ticks(Cron("30 2 1,15 JAN,jul *"), "2026-06-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2026-07-01T02:30:00.000Z", "2026-07-15T02:30:00.000Z"});
  CHECK(Ticks(Cron("@daily"), "2026-12-06T10:00:00Z", 1) ==
        std::vector<std::string>{"2026-12-07T00:00:00.000Z"});
  CHECK(Ticks(Cron("@hourly"), "2026-12-06T10:00:00Z", 1) ==
        std::vector<std::string>{"2026-12-06T11:00:00.000Z"});
  CHECK(Ticks(Cron("@weekly"), "2026-12-06T10:00:00Z", 1) ==  // a Sunday
        std::vector<std::string>{"2026-12-13T00:00:00.000Z"});
  CHECK(Ticks(Cron("0 0 * * 7"), "2026-12-06T10:00:00Z", 1) ==  // 7 is Sunday too
        std::vector<std::string>{"2026-12-13T00:00:00.000Z"});
  // Leap day: only in leap years.
  CHECK(Ticks(Cron("0 12 29 2 *"), "2026-01-01T00:00:00Z", 2) ==
        std::vector<std::string>{"2028-02-29T12:00:00.000Z", "2032-02-29T12:00:00.000Z"});
  // Both day fields restricted: either matches (Vixie cron).
  CHECK(Ticks(Cron("0 0 1 * fri"), "2026-12-01T00:00:00Z", 3) ==
        std::vector<std::string>{"2026-12-04T00:00:00.000Z", "2026-12-11T00:00:00.000Z",
                                 "2026-12-18T00:00:00.000Z"});
  // "a/n": from a to the end.
  CHECK(Ticks(Cron("50/5 * * * *"), "2026-12-06T10:00:00Z", 3) ==
        std::vector<std::string>{"2026-12-06T10:50:00.000Z", "2026-12-06T10:55:00.000Z",
                                 "2026-12-06T11:50:00.000Z"});
  // Strictly after: a tick exactly at `after` is not returned again.
  CHECK(Ticks(Cron("0 * * * *"), "2026-12-06T10:00:00Z", 1) ==
        std::vector<std::string>{"2026-12-06T11:00:00.000Z"});
}

TEST_CASE("cron: a time zone's daylight-saving changes neither skip nor double a tick") {
  // Europe/Berlin springs forward on 2026-03-29 at 02:00 CET (01:00 UTC)
  // to 03:00 CEST: 02:30 does not exist that day and fires when the clocks
  // jump; the days around it fire at 02:30 local.
  auto daily = Cron("30 2 * * *", "Europe/Berlin");
  CHECK(Ticks(daily, "2026-03-27T12:00:00Z", 4) ==
        std::vector<std::string>{"2026-03-28T01:30:00.000Z", "2026-03-29T01:00:00.000Z",
                                 "2026-03-30T00:30:00.000Z", "2026-03-31T00:30:00.000Z"});
  // It falls back on 2026-10-25 at 03:00 CEST (01:00 UTC) to 02:00 CET:
  // 02:30 happens twice and fires once, at the first.
  CHECK(Ticks(daily, "2026-10-23T12:00:00Z", 3) ==
        std::vector<std::string>{"2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z",
                                 "2026-10-26T01:30:00.000Z"});
  // Every 30 minutes across the spring gap: 02:00 and 02:30 fold into the
  // jump; nothing is doubled.
  CHECK(Ticks(Cron("*/30 * * * *", "Europe/Berlin"), "2026-03-29T00:00:00Z", 4) ==
        std::vector<std::string>{"2026-03-29T00:30:00.000Z", "2026-03-29T01:00:00.000Z",
                                 "2026-03-29T01:30:00.000Z", "2026-03-29T02:00:00.000Z"});
  // Hourly across the autumn change: the repeated hour's local times fire
  // once each.
  CHECK(Ticks(Cron("0 * * * *", "Europe/Berlin"), "2026-10-24T23:30:00Z", 4) ==
        std::vector<std::string>{"2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z",
                                 "2026-10-25T03:00:00.000Z", "2026-10-25T04:00:00.000Z"});
  // New York: 9:00 local is 14:00 UTC in winter, 13:00 in summer.
  CHECK(Ticks(Cron("0 9 * * *", "America/New_York"), "2026-03-07T15:00:00Z", 2) ==
        std::vector<std::string>{"2026-03-08T13:00:00.000Z", "2026-03-09T13:00:00.000Z"});
}

TEST_CASE("cron: bad expressions and time zones are refused, naming the part") {
  auto refused = [](const std::string& expr, const std::string& tz, const std::string& prefix) {
    auto c = CronSchedule::Parse(expr, tz);
    INFO(expr << " in " << tz);
    REQUIRE_FALSE(c.ok());
    CHECK(c.status().code() == StatusCode::kInvalidArgument);
    CHECK_THAT(c.status().message(), Catch::StartsWith(prefix));
  };
  refused("* * * *", "UTC", "cron: '* * * *' has 4 fields");
  refused("* * * * * *", "UTC", "cron: '* * * * * *' has 6 fields");
  refused("60 * * * *", "UTC", "cron: minute field '60'");
  refused("* 24 * * *", "UTC", "cron: hour field '24'");
  refused("* * 0 * *", "UTC", "cron: day of month field '0'");
  refused("* * * 13 *", "UTC", "cron: month field '13'");
  refused("* * * * 8", "UTC", "cron: day of week field '8'");
  refused("*/0 * * * *", "UTC", "cron: minute field '*/0': step");
  refused("5-1 * * * *", "UTC", "cron: minute field '5-1': range 5-1 runs backwards");
  refused("a * * * *", "UTC", "cron: minute field 'a'");
  refused("1,,2 * * * *", "UTC", "cron: minute field '1,,2': empty list item");
  refused("* * * FOO *", "UTC", "cron: month field 'FOO'");
  refused("@often", "UTC", "cron: '@often' is not one of");
  refused("0 0 30 2 *", "UTC", "cron: '0 0 30 2 *' never fires");
  refused("* * * * *", "Mars/Olympus_Mons", "timezone: 'Mars/Olympus_Mons' is not a time zone");
  refused("* * * * *", "", "timezone: required");
  CHECK(CronSchedule::Parse("  0 0 * * *  ", "Europe/Berlin").ok());
}
