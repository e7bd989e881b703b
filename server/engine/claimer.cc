#include "server/engine/claimer.h"

#include <algorithm>

#include "server/logging/logging.h"

namespace cueball::engine {

void Claimer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Claimer::Join() {
  if (thread_.joinable()) thread_.join();
}

void Claimer::Loop() {
  int failures = 0;
  while (true) {
    const std::optional<int> want = slots_->ToClaim(opts_.coalesce);
    if (!want) return;  // stopping
    Millis wait = opts_.poll_interval;
    if (*want > 0) {
      std::optional<Millis> next_due;  // set when the claim comes back short
      auto claimed =
          store_->Claim(opts_.owner, opts_.queues, opts_.types, *want, opts_.lease, &next_due);
      if (!claimed.ok()) {
        ++failures;
        wait = ErrorBackoff(failures);
        logging::Warn(DispatchLog(), "claim failed",
                      {{"error", claimed.status().message()}, {"retry_in_ms", wait.count()}});
      } else {
        if (failures > 0) logging::Info(DispatchLog(), "claim recovered");
        failures = 0;
        const bool full = static_cast<int>(claimed->size()) == *want;
        std::vector<std::shared_ptr<Attempt>> attempts;
        attempts.reserve(claimed->size());
        for (auto& c : *claimed) attempts.push_back(NewAttempt(*registry_, std::move(c)));
        slots_->Claimed(std::move(attempts), full);
        if (full) continue;  // there may be more
        // The claim took every run that was ready. New ones announce
        // themselves (a notification, or a poke from this daemon's
        // completions); runs due later wake this loop when they are due.
        // Finished steps do not claim again on their own (an empty claim per
        // run when runs trickle in). The claim said when the next run is due
        // (a separate probe walked the claimed runs' dead index entries
        // again: docs/performance.md, "The claim says when to look again").
        if (next_due) {
          // At least 5 ms, so that a run due "now" that another daemon holds
          // locked does not make this loop spin.
          wait = std::clamp(*next_due, Millis(5), opts_.poll_interval);
        }
      }
    }
    if (!slots_->WaitForPoke(wait)) return;
  }
}

}  // namespace cueball::engine
