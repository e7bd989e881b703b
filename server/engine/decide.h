// Decide: turns what a step handler returned into the Outcome the store
// records: the run's next status, step, attempt count, run_at and the events
// that explain it. Pure (the clock and the random source are passed in), so
// every branch of retry, backoff, defer and completion is unit-tested.
#pragma once

#include <random>

#include "server/engine/workflow.h"
#include "server/store/run_store.h"

namespace cueball::engine {

// `run` is the run as claimed (attempt already counts this attempt);
// `new_state` is the state after the handler ran.
store::Outcome Decide(const Run& run, const std::string& lease_id, const WorkflowType& type,
                      const StepResult& result, const Json& new_state, TimePoint now,
                      std::mt19937_64& rng);

}  // namespace cueball::engine
