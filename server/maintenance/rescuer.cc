#include "server/maintenance/rescuer.h"

#include <spdlog/spdlog.h>

#include "server/engine/decide.h"
#include "server/logging/logging.h"

namespace cueball::maintenance {

Rescuer::Rescuer(store::UpkeepStore* upkeep, store::DispatchStore* dispatch,
                 const engine::Registry* registry, Millis interval)
    : upkeep_(upkeep), dispatch_(dispatch), registry_(registry), interval_(interval) {}

Rescuer::~Rescuer() { Stop(); }

void Rescuer::Start() {
  loop_.Start(interval_, [this] {
    auto r = RunOnce();
    auto log = spdlog::get("maint");
    if (!r.ok() && log) logging::Warn(log, "rescue pass failed", {{"error", r.status().message()}});
  });
}

void Rescuer::Stop() { loop_.Stop(); }

StatusOr<int> Rescuer::RunOnce() {
  auto expired = upkeep_->ExpiredLeases(registry_->Names(), 500);
  if (!expired.ok()) return expired.status();
  if (expired->empty()) return 0;
  std::vector<store::Outcome> outcomes;
  std::vector<std::string> types;  // of each outcome, for metrics
  for (const auto& c : *expired) {
    const engine::WorkflowType* type = registry_->Find(c.run.workflow_type);
    if (!type) continue;
    std::string why = "lease of " + c.lease_owner + " expired at " +
                      FormatTime(c.lease_expires_at) + " (daemon died or step hung)";
    auto o = engine::Decide(c.run, c.lease_id, *type, engine::StepResult::Retry(why),
                            engine::Json::object(), Now(), rng_);
    o.events.insert(o.events.begin(),
                    {event_kind::kRunRescued, c.run.step_name, c.run.attempt,
                     engine::Json({{"owner", c.lease_owner},
                                   {"lease_expired_at", FormatTime(c.lease_expires_at)}})
                         .dump()});
    // The lost attempt's step_started, unless written while it ran.
    o.start = c.start();
    outcomes.push_back(std::move(o));
    types.push_back(c.run.workflow_type);
  }
  auto accepted = dispatch_->RecordOutcomes(outcomes);
  if (!accepted.ok()) return accepted.status();
  int n = 0;
  auto log = spdlog::get("maint");
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!(*accepted)[i]) continue;
    ++n;
    if (metrics_ && IsTerminal(outcomes[i].status))
      metrics_->RunFinished(types[i], RunStatusName(outcomes[i].status));
    if (log) {
      logging::Warn(log, "run rescued",
                    {{"run", outcomes[i].run_id},
                     {"step", outcomes[i].step_name},
                     {"attempt", outcomes[i].attempt},
                     {"status", RunStatusName(outcomes[i].status)}});
    }
  }
  if (metrics_ && n > 0) metrics_->LeasesRescued(n);
  return n;
}

}  // namespace cueball::maintenance
