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
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"
#include "server/engine/cancel_token.h"
#include "server/engine/retry_policy.h"

namespace cueball::engine {

using Json = nlohmann::json;

// A signal delivered to a run and bound to the step that asked for it.
struct Signal {
  int64_t seq = 0;  // order of arrival among the run's signals
  std::string name;
  Json payload;
  TimePoint received_at;
};

// A named artifact of a run.
struct Blob {
  std::string name;
  std::string content_type;
  std::string data;  // the bytes
  TimePoint updated_at;
};

// A child run for StepContext::EnqueueChild.
struct ChildSpec {
  std::string key;  // names the child within this step; the same key gives the same run
  std::string workflow_type;
  Json input = Json::object();
  std::string queue;  // empty: the parent's queue
  int priority = 0;
};

// What a step can do besides computing: the durable services of the daemon,
// bound to this attempt (its run, step and lease). Calls that fail for a
// passing reason (database unavailable, lease lost) throw StepError, which
// makes the attempt a failed one, retried by the step's policy.
class StepServices {
 public:
  virtual ~StepServices() = default;
  virtual std::optional<Signal> TakeSignal(const std::string& name) = 0;
  virtual std::string EnqueueChild(const ChildSpec& child) = 0;
  virtual std::vector<Run> GetRuns(const std::vector<std::string>& ids) = 0;
  virtual void SaveBlob(const std::string& name, const std::string& data,
                        const std::string& content_type) = 0;
  virtual std::optional<Blob> LoadBlob(const std::string& name) = 0;
};

class StepError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Thrown for a mistake retrying cannot fix (an unknown child type, a blob
// over the size cap, a bad name): the step fails without further attempts.
class StepFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Empty if `name` is a valid blob name (1..128 of A-Z a-z 0-9 . _ -), else
// what is wrong with it.
std::string BadBlobName(const std::string& name);

struct StepContext {
  const std::string& run_id;
  const std::string& workflow_type;
  const std::string& step;
  int attempt;        // 1-based attempt number of this step
  const Json& input;  // the run's input
  Json& state;        // persisted state; changes are saved when the step completes
  const CancelToken& cancel;
  StepServices* services = nullptr;  // signals, children, blobs (null in pure unit tests)
  // Why this attempt runs again after a wait: "signal" or "runs"; empty
  // for an ordinary attempt.
  std::string woke;
  const std::string* queue = nullptr;  // the run's queue

  // The signal `name` bound to this step: the one taken before (a step that
  // runs again sees the same one), else the oldest buffered one, now bound
  // to this step for good; nullopt when none has arrived (then return
  // StepResult::WaitForSignal).
  std::optional<Signal> TakeSignal(const std::string& name) const {
    return Services().TakeSignal(name);
  }
  // Enqueues a child run linked to this run, once per key (a step that runs
  // again gets the same child). Returns the child's id.
  std::string EnqueueChild(const ChildSpec& child) const { return Services().EnqueueChild(child); }
  // The current records of these runs (status, result, error).
  std::vector<Run> GetRuns(const std::vector<std::string>& ids) const {
    return Services().GetRuns(ids);
  }
  // Saves (or replaces) the run's artifact `name`; refused above the
  // daemon's size cap.
  void SaveBlob(const std::string& name, const std::string& data,
                const std::string& content_type = "application/octet-stream") const {
    Services().SaveBlob(name, data, content_type);
  }
  std::optional<Blob> LoadBlob(const std::string& name) const { return Services().LoadBlob(name); }

 private:
  StepServices& Services() const {
    if (!services) throw StepError("step services are not available here");
    return *services;
  }
};

class StepResult {
 public:
  enum class Kind {
    kNext,
    kComplete,
    kRetry,
    kFail,
    kDefer,
    kRelease,
    kSleep,
    kWaitSignal,
    kWaitRuns
  };

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

  // Step done, like Next, but the next step starts only at `until`: a
  // durable timer. The run waits in the database (status WAITING), holding
  // no worker, and any daemon wakes it when the time comes.
  static StepResult SleepUntil(TimePoint until, Json result = nullptr) {
    StepResult r(Kind::kSleep, std::move(result));
    r.until_ = until;
    return r;
  }
  static StepResult SleepFor(Millis d, Json result = nullptr) {
    return SleepUntil(Now() + std::chrono::duration_cast<std::chrono::microseconds>(d),
                      std::move(result));
  }
  // Suspend the run (status WAITING, no worker held) until the signal `name`
  // arrives; the step then runs again and ctx.TakeSignal(name) returns it.
  // After `timeout` without it, the attempt fails (retried by the policy).
  static StepResult WaitForSignal(std::string name, std::optional<Millis> timeout = std::nullopt) {
    StepResult r(Kind::kWaitSignal, nullptr);
    r.signal_ = std::move(name);
    r.delay_ = timeout;
    return r;
  }
  // Suspend the run until all (or, with `any`, any one) of these runs have
  // finished; the step then runs again and reads them with ctx.GetRuns.
  static StepResult WaitForRuns(std::vector<std::string> ids, bool any = false,
                                std::optional<Millis> timeout = std::nullopt) {
    StepResult r(Kind::kWaitRuns, nullptr);
    r.runs_ = std::move(ids);
    r.any_ = any;
    r.delay_ = timeout;
    return r;
  }

  Kind kind() const { return kind_; }
  // "next", "complete", "retry", "fail", "defer", "release", "sleep",
  // "wait_signal", "wait_runs" (logs, metrics).
  const char* kind_name() const {
    static const char* const kNames[] = {"next",    "complete", "retry",       "fail",     "defer",
                                         "release", "sleep",    "wait_signal", "wait_runs"};
    return kNames[static_cast<int>(kind_)];
  }
  const Json& result() const { return result_; }
  const std::string& error() const { return error_; }
  std::optional<Millis> delay() const { return delay_; }  // retry delay, or a wait's timeout
  TimePoint until() const { return until_; }
  const std::string& signal() const { return signal_; }
  const std::vector<std::string>& runs() const { return runs_; }
  bool any() const { return any_; }

 private:
  StepResult(Kind k, Json result) : kind_(k), result_(std::move(result)) {}
  Kind kind_;
  Json result_;
  std::string error_;
  std::optional<Millis> delay_;
  TimePoint until_;
  std::string signal_;
  std::vector<std::string> runs_;
  bool any_ = false;
};

using StepHandler = std::function<StepResult(StepContext&)>;

// What a step is and may do, declared for graphs and docs (the engine does
// not enforce it).
struct StepTraits {
  StepTraits() = default;
  StepTraits(std::string k, std::string s, std::vector<std::string> sig = {}, bool sleep = false,
             bool child = false, bool wait_runs = false)
      : kind(std::move(k)),
        summary(std::move(s)),
        signals(std::move(sig)),
        sleeps(sleep),
        children(child),
        waits_for_runs(wait_runs) {}

  std::string kind = "code";  // "code", or a workflow file's step kind
  std::string summary;        // one line: what it does
  std::vector<std::string> signals;
  bool sleeps = false;
  bool children = false;
  bool waits_for_runs = false;
  std::vector<std::string> child_types;  // the types of the children it enqueues, if known
};

struct StepDef {
  StepDef() = default;
  StepDef(std::string n, StepHandler h, RetryPolicy r, Millis t, StepTraits tr = {})
      : name(std::move(n)),
        handler(std::move(h)),
        retry(std::move(r)),
        timeout(t),
        traits(std::move(tr)) {}

  std::string name;
  StepHandler handler;
  RetryPolicy retry;
  Millis timeout{30000};
  StepTraits traits;
};

struct WorkflowType {
  std::string name;
  std::string description;
  std::vector<StepDef> steps;
  std::string source = "builtin";  // or the workflow file it came from
};

// A step that remote workers run (a workflow file's `kind: remote`, or any
// step of a type a worker registered): daemons never claim it.
inline bool IsRemote(const StepDef& step) { return step.traits.kind == "remote"; }
// Whether any step of `type` is remote.
bool HasRemoteSteps(const WorkflowType& type);
// The handler of a remote step: daemons never claim one
// (Registry::InProcessClaims); should a daemon of an older build claim one
// anyway, it gives the run back untouched rather than run anything in its
// place.
StepHandler RemoteStepHandler();

// The workflow types this daemon knows: its own (C++ and workflow files),
// registered at start-up and read-only after, and the types remote workers
// registered (PutRemote, any time; all their steps remote), which every
// daemon loads from the database (RemoteWorkers). Find's pointers stay
// valid for the registry's life, also for a remote type replaced since.
class Registry {
 public:
  // INVALID_ARGUMENT for an empty name, no steps, duplicate step names or a
  // retry policy with max_attempts < 1; ALREADY_EXISTS for a duplicate type.
  Status Register(WorkflowType type);
  // Adds or replaces a type remote workers serve (not one registered with
  // Register: FAILED_PRECONDITION). Thread-safe.
  Status PutRemote(WorkflowType type);
  // Looks a name up; for a name it does not have, asks the loader (if set)
  // once, which may PutRemote it.
  const WorkflowType* Find(const std::string& name) const;
  std::vector<const WorkflowType*> All() const;  // sorted by name
  std::vector<std::string> Names() const;
  // Whether `name` is one of this daemon's own types (Register).
  bool IsOwn(const std::string& name) const { return types_.count(name) > 0; }
  std::vector<std::string> OwnNames() const;  // sorted
  // What this daemon's dispatcher claims: its own types whole, except a
  // type with remote steps, whose other steps are listed as "type/step".
  std::vector<std::string> InProcessClaims() const;
  // Called by Find for a name it does not know (set once, before use).
  void SetLoader(std::function<void(const std::string&)> loader) { loader_ = std::move(loader); }

 private:
  const WorkflowType* FindRemote(const std::string& name) const;

  std::map<std::string, std::unique_ptr<WorkflowType>> types_;
  mutable std::shared_mutex remote_mu_;
  std::map<std::string, std::shared_ptr<const WorkflowType>> remote_;
  std::vector<std::shared_ptr<const WorkflowType>> replaced_;  // kept: Find's pointers stay valid
  std::function<void(const std::string&)> loader_;
};

}  // namespace cueball::engine
