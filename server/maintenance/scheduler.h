// Scheduler: fires cron schedules' ticks (migration 0015). Runs in every
// daemon: each pass reads the schedules whose next tick is due by the
// database clock, works out the tick to fire and the one after it
// (engine::CronSchedule, in the schedule's time zone), and fires it through
// ScheduleStore::FireSchedule, whose compare-and-set on the schedule's next
// tick lets exactly one daemon fire each tick and enqueues its run in the
// same transaction.
//
// Ticks missed while no daemon ran (older than a grace of a minute) are
// folded into one: catch_up "one" enqueues one run for the latest of them,
// "skip" enqueues none. A schedule whose workflow type this daemon does not
// know is left for a daemon that does.
#pragma once

#include <map>
#include <string>

#include "server/engine/cron.h"
#include "server/engine/workflow.h"
#include "server/maintenance/periodic.h"
#include "server/store/schedule_store.h"

namespace cueball::maintenance {

class Scheduler {
 public:
  Scheduler(store::ScheduleStore* store, const engine::Registry* registry, Millis interval);
  ~Scheduler();

  void Start();
  void Stop();
  // One pass: how many runs it enqueued (tests call this directly).
  StatusOr<int> RunOnce();

  // A tick later than this when it fires counts as missed.
  static constexpr Millis kGrace{60000};

 private:
  const engine::CronSchedule* Cron(const store::Schedule& s);

  store::ScheduleStore* const store_;
  const engine::Registry* const registry_;
  const Millis interval_;
  std::map<std::string, engine::CronSchedule> crons_;                    // by "cron\ntimezone"
  std::map<std::string, std::chrono::steady_clock::time_point> warned_;  // unknown types
  Periodic loop_;
};

}  // namespace cueball::maintenance
