// Workflow types: named, ordered steps, each with a handler, a retry policy
// and a timeout. Handlers receive a StepContext and return a StepResult; they
// must be idempotent (a step may run more than once if a daemon dies) and
// should honour ctx.cancel. A handler that throws is a failed attempt.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"
#include "server/engine/cancel_token.h"
#include "server/engine/retry_policy.h"

namespace cueball::engine {

using Json = nlohmann::json;

struct StepContext {
  const std::string& run_id;
  const std::string& workflow_type;
  const std::string& step;
  int attempt;        // 1-based attempt number of this step
  const Json& input;  // the run's input
  Json& state;        // persisted state; changes are saved when the step completes
  const CancelToken& cancel;
};

class StepResult {
 public:
  enum class Kind { kNext, kComplete, kRetry, kFail, kDefer, kRelease };

  // Step done: go on to the next step, or finish the run with `result` if last.
  static StepResult Next(Json result = nullptr) {
    return StepResult(Kind::kNext, std::move(result));
  }
  // Finish the whole run now with `result`, skipping any remaining steps.
  static StepResult Complete(Json result) { return StepResult(Kind::kComplete, std::move(result)); }
  // The attempt failed but may succeed later; retried per the step's policy
  // (or after `delay` if given) while attempts remain.
  static StepResult Retry(std::string error, std::optional<Millis> delay = std::nullopt) {
    StepResult r(Kind::kRetry, nullptr);
    r.error_ = std::move(error);
    r.delay_ = delay;
    return r;
  }
  // The run cannot succeed: fail it now without further attempts.
  static StepResult Fail(std::string error) {
    StepResult r(Kind::kFail, nullptr);
    r.error_ = std::move(error);
    return r;
  }
  // Not ready yet: run this step again at `until`; uses no attempt.
  static StepResult Defer(TimePoint until) {
    StepResult r(Kind::kDefer, nullptr);
    r.until_ = until;
    return r;
  }
  // Give the run back untouched (used by the engine at shutdown); uses no attempt.
  static StepResult Release(std::string why) {
    StepResult r(Kind::kRelease, nullptr);
    r.error_ = std::move(why);
    return r;
  }

  Kind kind() const { return kind_; }
  // "next", "complete", "retry", "fail", "defer", "release" (logs, metrics).
  const char* kind_name() const {
    static const char* const kNames[] = {"next", "complete", "retry", "fail", "defer", "release"};
    return kNames[static_cast<int>(kind_)];
  }
  const Json& result() const { return result_; }
  const std::string& error() const { return error_; }
  std::optional<Millis> delay() const { return delay_; }
  TimePoint until() const { return until_; }

 private:
  StepResult(Kind k, Json result) : kind_(k), result_(std::move(result)) {}
  Kind kind_;
  Json result_;
  std::string error_;
  std::optional<Millis> delay_;
  TimePoint until_;
};

using StepHandler = std::function<StepResult(StepContext&)>;

struct StepDef {
  std::string name;
  StepHandler handler;
  RetryPolicy retry;
  Millis timeout{30000};
};

struct WorkflowType {
  std::string name;
  std::string description;
  std::vector<StepDef> steps;
};

// The workflow types this daemon can execute. Filled at start-up, then read-only
// (so reads need no lock).
class Registry {
 public:
  // INVALID_ARGUMENT for an empty name, no steps, duplicate step names or a
  // retry policy with max_attempts < 1; ALREADY_EXISTS for a duplicate type.
  Status Register(WorkflowType type);
  const WorkflowType* Find(const std::string& name) const;
  std::vector<const WorkflowType*> All() const;  // sorted by name
  std::vector<std::string> Names() const;

 private:
  std::map<std::string, std::unique_ptr<WorkflowType>> types_;
};

}  // namespace cueball::engine
