// Cron: five-field cron expressions (minute hour day-of-month month
// day-of-week) evaluated in an IANA time zone from the system tz database
// (Howard Hinnant's date/tz, Debian's libhowardhinnant-date-dev).
//
// Fields take *, numbers, ranges a-b, steps */n and a-b/n, lists a,b,c, and
// names for months (JAN..DEC) and days (SUN..SAT; 0 and 7 are Sunday).
// Macros: @yearly (@annually), @monthly, @weekly, @daily (@midnight),
// @hourly. As in Vixie cron, when both day fields are restricted a day
// matches if either does.
//
// Ticks are local times. Around daylight-saving changes each local tick
// fires once: a local time skipped by a spring-forward fires at the instant
// the clocks jump (02:30 becomes 03:00), and ticks the jump folds together
// fire once; a local time that occurs twice (fall back) fires at its first
// occurrence only. So a schedule neither skips a day nor doubles one.
#pragma once

#include <bitset>
#include <memory>
#include <optional>
#include <string>

#include "server/domain/run.h"
#include "server/domain/status.h"

namespace cueball::engine {

class CronSchedule {
 public:
  // Parses `expr` for time zone `tz` ("UTC", "Europe/Berlin", ...).
  // INVALID_ARGUMENT naming `field` ("cron" or "timezone") and the part at
  // fault.
  static StatusOr<CronSchedule> Parse(const std::string& expr, const std::string& tz);

  // The first tick strictly after `after`; nullopt if there is none within
  // the next eight years (e.g. "0 0 30 2 *", February 30th).
  std::optional<TimePoint> Next(TimePoint after) const;

  const std::string& expression() const { return expr_; }
  const std::string& timezone() const { return tz_name_; }

 private:
  struct Zone;  // the date::time_zone, kept out of this header
  std::string expr_, tz_name_;
  std::shared_ptr<const Zone> zone_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool days_restricted_ = false, weekdays_restricted_ = false;
};

}  // namespace cueball::engine
