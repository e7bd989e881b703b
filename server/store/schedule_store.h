// ScheduleStore: cron schedules (migration 0015). The engine's Scheduler
// computes ticks; the store keeps each schedule's next tick and fires a tick
// with a compare-and-set on it, enqueueing the tick's run in the same
// transaction, so one tick is fired once whatever the number of daemons.
// Thread-safe; UNAVAILABLE when the database is unreachable.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"
#include "server/store/run_store.h"

namespace cueball::store {

struct Schedule {
  std::string name;
  std::string cron;
  std::string timezone;
  std::string workflow_type;
  std::string input = "{}";  // JSON text
  std::string queue = "default";
  int priority = 0;
  std::map<std::string, std::string> tags;
  std::string catch_up = "one";  // "one" or "skip"
  std::optional<TimePoint> paused_at;
  TimePoint next_at;
  std::optional<TimePoint> last_tick_at;
  std::optional<std::string> last_run_id;
  TimePoint created_at;
  TimePoint updated_at;
  TimePoint db_now;  // the database's clock when read (DueSchedules)
};

class ScheduleStore {
 public:
  virtual ~ScheduleStore() = default;
  // Inserts a schedule (next_at set by the caller); ALREADY_EXISTS when the
  // name is taken.
  virtual StatusOr<Schedule> CreateSchedule(const Schedule& s) = 0;
  virtual StatusOr<std::vector<Schedule>> ListSchedules() = 0;  // by name
  // NOT_FOUND when there is none.
  virtual StatusOr<Schedule> GetSchedule(const std::string& name) = 0;
  // Pauses (next_at kept) or resumes with `next_at` (the caller's next tick
  // from now: ticks while paused are not caught up). NOT_FOUND if absent.
  virtual StatusOr<Schedule> SetSchedulePaused(const std::string& name, bool paused,
                                               std::optional<TimePoint> next_at) = 0;
  virtual Status DeleteSchedule(const std::string& name) = 0;  // NOT_FOUND if absent
  // Schedules not paused whose next tick is due by the database clock
  // (db_now set), at most `limit`, most overdue first.
  virtual StatusOr<std::vector<Schedule>> DueSchedules(int limit) = 0;
  // Fires a tick: if the schedule is still not paused and its next_at is
  // still `expected_next`, sets next_at = `new_next`, last_tick_at = `tick`,
  // and enqueues `run` (if any; last_run_id = its id) in the same
  // transaction. False (nothing written) when another daemon fired it
  // first, or it was paused, changed or deleted meanwhile.
  virtual StatusOr<bool> FireSchedule(const std::string& name, TimePoint expected_next,
                                      TimePoint new_next, TimePoint tick,
                                      const std::optional<NewRun>& run) = 0;
};

}  // namespace cueball::store
