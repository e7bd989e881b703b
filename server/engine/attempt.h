// Attempt: one claimed run's step, from its claim (or its kept lease, when
// the run's previous step asked it to stay) until its outcome is recorded.
// Shared by the parts of dispatching: Slots hold it, a StepRunner runs it,
// the Completer records its outcome, the Watchdog keeps its lease.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <random>
#include <string>

#include "server/engine/cancel_token.h"
#include "server/engine/workflow.h"
#include "server/store/run_store.h"

namespace spdlog {
class logger;
}

namespace cueball::engine {

struct Attempt {
  store::ClaimedRun claimed;
  CancelToken cancel;
  std::chrono::steady_clock::time_point deadline;
  // Claimed ahead, then handed back unstarted because steps turned slow.
  std::atomic<bool> hand_back{false};
  // When a worker took it up (steady clock, ns; 0: not yet), and whether
  // its step_started is written (by the watchdog, for a step that runs
  // longer than Watchdog::kStartWrittenAfter; else with its outcome).
  std::atomic<int64_t> began_ns{0};
  std::atomic<bool> start_written{false};
  // Its outcome asks that the run's next step stay here (continue_lease):
  // the slot stays taken until the record says whether it did.
  bool continues = false;
};

// A new attempt of a claimed run, its step's timeout (from `registry`; 30 s
// for a step it does not know) running from now.
std::shared_ptr<Attempt> NewAttempt(const Registry& registry, store::ClaimedRun claimed);

// Gives the outcome its attempt's start, unless that was written already
// (the store writes it only if it was not written while the step ran; the
// flag only spares the parameter).
inline void WithStart(store::Outcome& outcome, const Attempt& attempt) {
  if (!attempt.start_written) outcome.start = attempt.claimed.start();
}

// For the dispatching parts: the engine's logger, a per-thread random
// source, and capped exponential backoff with full jitter for their own
// retries against the database, so that many daemons do not reconnect in
// lockstep.
std::shared_ptr<spdlog::logger> DispatchLog();
std::mt19937_64& DispatchRng();
Millis ErrorBackoff(int failures);

}  // namespace cueball::engine
