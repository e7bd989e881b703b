#include "server/maintenance/vacuumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "server/logging/logging.h"

namespace cueball::maintenance {

Vacuumer::Vacuumer(store::UpkeepStore* store, std::function<bool()> caught_up,
                   int64_t min_dead_rows, Millis interval)
    : store_(store),
      caught_up_(std::move(caught_up)),
      min_dead_rows_(min_dead_rows),
      interval_(interval) {}

Vacuumer::~Vacuumer() { Stop(); }

void Vacuumer::Start() {
  if (min_dead_rows_ <= 0) return;
  loop_.Start(interval_, [this] {
    if (caught_up_ && !caught_up_()) return;
    auto r = RunOnce();
    auto log = spdlog::get("maint");
    if (!r.ok() && log)
      logging::Warn(log, "vacuum of runs failed", {{"error", r.status().message()}});
  });
}

void Vacuumer::Stop() { loop_.Stop(); }

StatusOr<bool> Vacuumer::RunOnce() {
  auto rows = store_->RunRowVersions();
  if (!rows.ok()) return rows.status();
  if (min_dead_rows_ <= 0 || rows->dead < std::max(min_dead_rows_, rows->live / 20)) return false;
  auto log = spdlog::get("maint");
  if (!rows->may_vacuum) {
    if (!told_not_allowed_ && log) {
      logging::Warn(log,
                    "cannot vacuum runs: the database user owns neither the table nor the "
                    "database; autovacuum will (set --vacuum-dead-rows 0 to stop this check)",
                    {{"dead_rows", rows->dead}});
    }
    told_not_allowed_ = true;
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  auto vacuumed = store_->VacuumRuns();
  if (!vacuumed.ok()) return vacuumed.status();
  if (!*vacuumed) {
    if (log) logging::Debug(log, "vacuum of runs skipped: another session is vacuuming the table");
    return false;
  }
  if (metrics_) metrics_->RunsVacuumed();
  if (log) {
    logging::Info(
        log, "vacuumed runs",
        {{"dead_rows", rows->dead},
         {"live_rows", rows->live},
         {"took_ms",
          std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count()}});
  }
  return true;
}

}  // namespace cueball::maintenance
