#include "server/engine/cron.h"

#include <date/date.h>
#include <date/tz.h>

#include <cctype>
#include <sstream>
#include <vector>

namespace cueball::engine {

struct CronSchedule::Zone {
  const date::time_zone* tz = nullptr;
};

namespace {

struct FieldSpec {
  const char* name;  // for messages
  int lo, hi;
  const char* const* names;  // names for lo.. (nullptr: none)
};

const char* const kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",  "JUL",
                                   "AUG", "SEP", "OCT", "NOV", "DEC", nullptr};
const char* const kDayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", nullptr};

const FieldSpec kFields[] = {{"minute", 0, 59, nullptr},
                             {"hour", 0, 23, nullptr},
                             {"day of month", 1, 31, nullptr},
                             {"month", 1, 12, kMonthNames},
                             {"day of week", 0, 7, kDayNames}};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::stringstream ss(s);
  while (std::getline(ss, cur, sep)) out.push_back(cur);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

// A number or (for months and days) a name; nullopt if neither.
std::optional<int> Value(const std::string& text, const FieldSpec& f) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    int v = 0;
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  }
  if (!f.names) return std::nullopt;
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (int i = 0; f.names[i]; ++i) {
    if (upper == f.names[i]) return f.lo == 0 ? i : i + 1;  // days from 0, months from 1
  }
  return std::nullopt;
}

// Parses one field into `bits` (index = value); `restricted` is false for
// a bare `*`.
Status ParseField(const std::string& text, const FieldSpec& f, std::vector<bool>* bits,
                  bool* restricted) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("cron: " + std::string(f.name) + " field '" + text + "': " + why);
  };
  bits->assign(static_cast<size_t>(f.hi + 1), false);
  *restricted = text != "*";
  for (const std::string& item : Split(text, ',')) {
    if (item.empty()) return bad("empty list item");
    std::string range = item;
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string::npos) {
      range = item.substr(0, slash);
      const std::string s = item.substr(slash + 1);
      auto v = s.empty() || !std::isdigit(static_cast<unsigned char>(s[0]))
                   ? std::nullopt
                   : Value(s, FieldSpec{f.name, 0, 0, nullptr});
      if (!v || *v < 1 || *v > f.hi) {
        return bad("step '" + s + "' must be a number from 1 to " + std::to_string(f.hi));
      }
      step = *v;
    }
    int lo, hi;
    if (range == "*") {
      lo = f.lo;
      hi = f.hi == 7 ? 6 : f.hi;
    } else if (auto dash = range.find('-'); dash != std::string::npos) {
      auto a = Value(range.substr(0, dash), f), b = Value(range.substr(dash + 1), f);
      if (!a || !b) return bad("'" + range + "' is not a range of two values");
      lo = *a;
      hi = *b;
    } else {
      auto a = Value(range, f);
      if (!a) return bad("'" + range + "' is not a value");
      lo = *a;
      // "a/n" means from a to the end, every n.
      hi = item.find('/') != std::string::npos ? (f.hi == 7 ? 6 : f.hi) : *a;
    }
    if (lo < f.lo || hi > f.hi || lo > f.hi || hi < f.lo) {
      return bad("values must be within " + std::to_string(f.lo) + "-" + std::to_string(f.hi));
    }
    if (lo > hi) return bad("range " + range + " runs backwards");
    for (int v = lo; v <= hi; v += step) (*bits)[static_cast<size_t>(v)] = true;
  }
  return Status::Ok();
}

template <size_t N>
void Copy(const std::vector<bool>& from, std::bitset<N>* to) {
  for (size_t i = 0; i < N && i < from.size(); ++i) (*to)[i] = from[i];
}

}  // namespace

StatusOr<CronSchedule> CronSchedule::Parse(const std::string& expr, const std::string& tz) {
  CronSchedule c;
  c.expr_ = expr;
  c.tz_name_ = tz;
  if (tz.empty()) return InvalidArgument("timezone: required (e.g. UTC or Europe/Berlin)");
  try {
    auto zone = std::make_shared<Zone>();
    zone->tz = date::locate_zone(tz);
    c.zone_ = std::move(zone);
  } catch (const std::exception& e) {
    return InvalidArgument("timezone: '" + tz.substr(0, 64) +
                           "' is not a time zone of the tz database (e.g. UTC, "
                           "Europe/Berlin, America/New_York)");
  }
  std::string text = expr;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.erase(0, 1);
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  if (!text.empty() && text[0] == '@') {
    bool found = false;
    for (const auto& [name, body] : kMacros) {
      if (text == name) {
        text = body;
        found = true;
      }
    }
    if (!found) {
      return InvalidArgument("cron: '" + text.substr(0, 32) +
                             "' is not one of @yearly, @annually, @monthly, @weekly, @daily, "
                             "@midnight, @hourly");
    }
  }
  std::vector<std::string> fields;
  std::string cur;
  std::istringstream in(text);
  while (in >> cur) fields.push_back(cur);
  if (fields.size() != 5) {
    return InvalidArgument("cron: '" + expr.substr(0, 100) + "' has " +
                           std::to_string(fields.size()) +
                           " fields; expected 5: minute hour day-of-month month day-of-week");
  }
  std::vector<bool> bits;
  bool restricted = false;
  if (Status st = ParseField(fields[0], kFields[0], &bits, &restricted); !st.ok()) return st;
  Copy(bits, &c.minutes_);
  if (Status st = ParseField(fields[1], kFields[1], &bits, &restricted); !st.ok()) return st;
  Copy(bits, &c.hours_);
  if (Status st = ParseField(fields[2], kFields[2], &bits, &c.days_restricted_); !st.ok()) {
    return st;
  }
  Copy(bits, &c.days_);
  if (Status st = ParseField(fields[3], kFields[3], &bits, &restricted); !st.ok()) return st;
  Copy(bits, &c.months_);
  if (Status st = ParseField(fields[4], kFields[4], &bits, &c.weekdays_restricted_); !st.ok()) {
    return st;
  }
  if (bits[7]) bits[0] = true;  // 7 is Sunday too
  Copy(bits, &c.weekdays_);
  if (!c.Next(Now())) {
    return InvalidArgument("cron: '" + expr.substr(0, 100) + "' never fires");
  }
  return c;
}

std::optional<TimePoint> CronSchedule::Next(TimePoint after) const {
  using namespace date;
  using std::chrono::hours;
  using std::chrono::minutes;
  const time_zone* tz = zone_->tz;
  const auto after_s = std::chrono::time_point_cast<std::chrono::microseconds>(after);
  local_time<minutes> l = floor<minutes>(tz->to_local(after_s)) + minutes(1);
  const local_time<minutes> limit = l + days(366 * 8);
  while (l < limit) {
    const local_days ld = floor<days>(l);
    const year_month_day ymd{ld};
    if (!months_[static_cast<unsigned>(ymd.month())]) {
      l = local_days{year_month_day{ymd.year() / ymd.month() / 1} + months(1)};
      continue;
    }
    const bool dom = days_[static_cast<unsigned>(ymd.day())];
    const bool dow = weekdays_[weekday{ld}.c_encoding()];
    const bool day_ok = days_restricted_ && weekdays_restricted_ ? (dom || dow) : (dom && dow);
    if (!day_ok) {
      l = ld + days(1);
      continue;
    }
    const auto tod = l - ld;
    const auto h = static_cast<size_t>(std::chrono::duration_cast<hours>(tod).count());
    const auto m = static_cast<size_t>(tod.count() % 60);
    if (!hours_[h]) {
      l = ld + hours(h + 1);
      continue;
    }
    if (!minutes_[m]) {
      l += minutes(1);
      continue;
    }
    // The local tick as an instant.
    const local_seconds ls{l.time_since_epoch()};
    const local_info info = tz->get_info(ls);
    sys_seconds at;
    if (info.result == local_info::nonexistent) {
      at = info.first.end;  // skipped by a spring-forward: the instant the clocks jump
    } else {
      at = sys_seconds{ls.time_since_epoch()} - info.first.offset;  // unique, or the first
    }
    const TimePoint tick = std::chrono::time_point_cast<std::chrono::microseconds>(at);
    if (tick > after) return tick;
    l += minutes(1);
  }
  return std::nullopt;
}

}  // namespace cueball::engine
