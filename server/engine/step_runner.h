// StepRunner: where a claimed attempt's step runs. The dispatcher holds the
// attempt (Slots), asks a runner for the step's StepResult on one of its
// worker threads, and turns the result into the run's outcome itself
// (Decide, the completer), so the outcome vocabulary (next, done, retry,
// fail, defer, sleep, wait for a signal or runs, children, blobs) does not
// depend on where the step ran.
//
// InProcessRunner (in_process_runner.h) calls the step's C++ handler in the
// daemon. A runner that hands the attempt to a worker process (the remote
// workers of issue 30) implements the same call: it passes the attempt on
// (run input, state, attempt, step, deadline, lease) and returns the result
// the worker reports, or returns early when the attempt's cancel token
// fires (timeout, run canceled, lease lost, shutdown), which the dispatcher
// then handles as for any step. The worker thread, and so the slot, stays
// taken while the step runs elsewhere.
#pragma once

#include <memory>

#include "server/engine/attempt.h"
#include "server/engine/workflow.h"

namespace cueball::engine {

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // Runs `step` for `attempt` (its run's input parsed, its state to update in
  // place) and returns what the step came to. Must not throw: a failure is
  // a StepResult (Retry for a passing one, Fail for one that will not pass).
  virtual StepResult Run(const std::shared_ptr<Attempt>& attempt, const StepDef& step,
                         const Json& input, Json& state) = 0;
};

}  // namespace cueball::engine
