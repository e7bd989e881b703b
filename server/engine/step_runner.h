// StepRunner: where a claimed attempt's step runs. The dispatcher holds the
// attempt (Slots), asks a runner for the step's StepResult on one of its
// worker threads, and turns the result into the run's outcome itself
// (Decide, the completer), so the outcome vocabulary (next, done, retry,
// fail, defer, sleep, wait for a signal or runs, children, blobs) does not
// depend on where the step ran.
//
// InProcessRunner (in_process_runner.h) calls the step's C++ handler in the
// daemon. Steps that remote workers run do not come through here: a worker
// claims its attempts itself, under its own lease and for its own slots
// (RemoteWorkers, remote_workers.h), so a remote step holds no thread or
// slot of any daemon. Both share what is decided without the step's code:
// WokenResult and CheckWaitRuns below, then Decide.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "server/engine/attempt.h"
#include "server/engine/workflow.h"
#include "server/store/run_store.h"

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

// For a run that woke from a timer or a wait's timeout: the step's result,
// decided by the engine without running the step (a timer ends the step as
// it said when it went to sleep; a timeout is a failed attempt). Sets
// `woke` to why the run woke ("timer", "timeout", "signal", "runs"; empty:
// it did not wait).
std::optional<StepResult> WokenResult(const Run& run, const StepDef& step, std::string* woke);

// For a step that asks to wait for runs: the failure to record instead when
// a run it names is not a run id, is the run itself, or does not exist (a
// retry when they cannot be read); nullopt when the wait may go ahead.
std::optional<StepResult> CheckWaitRuns(const StepResult& result, const Run& run,
                                        store::RunStore* runs);

}  // namespace cueball::engine
