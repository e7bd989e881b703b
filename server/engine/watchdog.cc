#include "server/engine/watchdog.h"

#include <map>

#include "server/logging/logging.h"

namespace cueball::engine {

using SteadyClock = std::chrono::steady_clock;

void Watchdog::Start() {
  exit_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Watchdog::Stop() {
  exit_ = true;
  if (thread_.joinable()) thread_.join();
}

void Watchdog::WriteStarts(const std::vector<std::shared_ptr<Attempt>>& attempts) {
  if (attempts.empty()) return;
  std::vector<store::AttemptRef> refs;
  refs.reserve(attempts.size());
  for (const auto& a : attempts) refs.push_back({a->claimed.run.id, a->claimed.lease_id});
  Status st = store_->RecordStarts(refs);
  if (!st.ok()) {  // tried again on the next tick; the outcome brings it otherwise
    logging::Warn(DispatchLog(), "writing step starts failed",
                  {{"count", refs.size()}, {"error", st.message()}});
    return;
  }
  for (const auto& a : attempts) a->start_written = true;
}

void Watchdog::Loop() {
  const Millis heartbeat_every = std::max(Millis(100), lease_ / 3);
  auto next_heartbeat = SteadyClock::now() + heartbeat_every;
  while (!exit_) {
    std::this_thread::sleep_for(Millis(50));
    auto now = SteadyClock::now();
    std::vector<store::AttemptRef> leases;
    std::vector<std::shared_ptr<Attempt>> long_steps;  // whose start to write now
    const int64_t began_by = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (now - kStartWrittenAfter).time_since_epoch())
                                 .count();
    slots_->ForEachRunning([&](const std::shared_ptr<Attempt>& a) {
      if (now >= a->deadline && !a->cancel.cancelled()) a->cancel.Cancel(CancelReason::kTimeout);
      if (now >= next_heartbeat) leases.push_back({a->claimed.run.id, a->claimed.lease_id});
      const int64_t began = a->began_ns;
      if (began != 0 && began <= began_by && !a->start_written) long_steps.push_back(a);
    });
    WriteStarts(long_steps);
    if (now < next_heartbeat) continue;
    next_heartbeat = now + heartbeat_every;
    if (leases.empty()) continue;
    // Heartbeat: keep the leases of steps still running here, so a long step
    // is never rescued while its daemon is alive.
    auto lost = store_->ExtendLeases(leases, lease_);
    if (!lost.ok()) {
      logging::Warn(DispatchLog(), "lease heartbeat failed",
                    {{"count", leases.size()}, {"error", lost.status().message()}});
      continue;
    }
    if (lost->empty()) continue;
    std::map<std::string, std::string> sent;  // run id -> the lease it was extended under
    for (auto& l : leases) sent.emplace(std::move(l.run_id), std::move(l.lease_id));
    for (const auto& id : *lost) {
      std::shared_ptr<Attempt> a = slots_->Find(id);
      // Only the attempt whose lease was lost (the run's next step may be
      // here by now, under a lease of its own).
      if (!a || a->claimed.lease_id != sent[id]) continue;
      logging::Warn(DispatchLog(), "lease lost, stopping the step",
                    {{"run", id}, {"step", a->claimed.run.step_name}});
      a->cancel.Cancel(CancelReason::kLeaseLost);
    }
  }
}

}  // namespace cueball::engine
