#include "server/maintenance/scheduler.h"

#include <spdlog/spdlog.h>

#include "server/engine/new_run.h"
#include "server/logging/logging.h"

namespace cueball::maintenance {
namespace {

std::shared_ptr<spdlog::logger> Log() {
  auto l = spdlog::get("maint");
  return l ? l : spdlog::default_logger();
}

}  // namespace

Scheduler::Scheduler(store::ScheduleStore* store, const engine::Registry* registry, Millis interval)
    : store_(store), registry_(registry), interval_(interval) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::Start() {
  loop_.Start(interval_, [this] {
    auto n = RunOnce();
    if (!n.ok()) logging::Warn(Log(), "schedules not fired", {{"error", n.status().message()}});
  });
}

void Scheduler::Stop() { loop_.Stop(); }

const engine::CronSchedule* Scheduler::Cron(const store::Schedule& s) {
  const std::string key = s.cron + "\n" + s.timezone;
  auto it = crons_.find(key);
  if (it != crons_.end()) return &it->second;
  auto parsed = engine::CronSchedule::Parse(s.cron, s.timezone);
  if (!parsed.ok()) {
    logging::Error(Log(), "schedule has a cron expression this daemon cannot read",
                   {{"schedule", s.name}, {"error", parsed.status().message()}});
    return nullptr;
  }
  return &crons_.emplace(key, std::move(parsed).value()).first->second;
}

StatusOr<int> Scheduler::RunOnce() {
  auto due = store_->DueSchedules(100);
  if (!due.ok()) return due.status();
  int enqueued = 0;
  for (const store::Schedule& s : *due) {
    const engine::CronSchedule* cron = Cron(s);
    if (!cron) continue;
    const engine::WorkflowType* type = registry_->Find(s.workflow_type);
    if (!type) {
      auto now = std::chrono::steady_clock::now();
      auto& last = warned_[s.name];
      if (now - last > std::chrono::minutes(1)) {
        last = now;
        logging::Warn(Log(), "schedule due, but this daemon does not run its workflow type",
                      {{"schedule", s.name}, {"type", s.workflow_type}});
      }
      continue;
    }
    // The latest tick due by now, counting the ones before it.
    const TimePoint now = s.db_now;
    TimePoint tick = s.next_at;
    int64_t earlier = 0;
    for (int i = 0; i < 1000000; ++i) {
      auto n = cron->Next(tick);
      if (!n || *n > now) break;
      tick = *n;
      ++earlier;
    }
    const bool on_time = now - tick <= kGrace;
    const int64_t missed = earlier + (on_time ? 0 : 1);
    const bool enqueue = on_time || s.catch_up == "one";
    auto next = cron->Next(now);
    // A schedule that never fires again keeps a tick far ahead.
    const TimePoint new_next = next ? *next : now + std::chrono::hours(24 * 366 * 100);
    std::optional<store::NewRun> run;
    if (enqueue) {
      store::NewRun r = engine::MakeNewRun(*type, s.queue, s.priority, s.input);
      r.tags = s.tags;
      r.tags["schedule"] = s.name;
      r.idempotency_key = "schedule:" + s.name + ":" + FormatTime(tick);
      run = std::move(r);
    }
    auto fired = store_->FireSchedule(s.name, s.next_at, new_next, tick, run);
    if (!fired.ok()) {
      logging::Warn(Log(), "schedule tick not fired",
                    {{"schedule", s.name}, {"error", fired.status().message()}});
      continue;
    }
    if (!*fired) continue;  // another daemon fired it first
    if (enqueue) ++enqueued;
    logging::Info(Log(), enqueue ? "schedule fired" : "schedule tick skipped",
                  {{"schedule", s.name},
                   {"tick", FormatTime(tick)},
                   {"run", run ? run->id : ""},
                   {"missed", missed},
                   {"next", FormatTime(new_next)}});
  }
  return enqueued;
}

}  // namespace cueball::maintenance
