// RemoteWorkers: the engine side of cueball.v1.Workers. Remote workers are
// processes outside the daemon that run steps; this class registers them,
// hands them attempts, keeps their leases and records their outcomes.
//
// How it fits the engine: a worker's poll claims ready runs itself, with
// the same claim statement the dispatcher uses, filtered to the worker's
// queues and steps, with the worker's id as the lease owner and its lease
// length. So a remote step holds no thread or slot of a daemon, any daemon
// can serve any call of any worker (the lease is in the database, named by
// the opaque lease token), and a worker that stops heartbeating loses its
// leases like a daemon that died: the rescuer retries the step by its
// policy. A worker's outcome goes through Decide as an in-process step's
// does and is recorded fenced by its lease, so a late outcome from a lost
// lease changes nothing. A step's services (signals, children, blobs)
// go through AttemptServices, fenced the same way.
//
// What a worker serves: whole types that only remote workers run (their
// definition is stored when first registered, and loaded into every
// daemon's Registry), or the `kind: remote` steps of a type a daemon's
// workflow file defines ("type/step").
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/engine/attempt_services.h"
#include "server/engine/workflow.h"
#include "server/metrics/metrics.h"
#include "server/store/blob_store.h"
#include "server/store/dispatch_store.h"
#include "server/store/run_store.h"
#include "server/store/wait_store.h"
#include "server/store/worker_store.h"

namespace cueball::engine {

// What RegisterWorker declares.
struct WorkerSpec {
  struct Step {
    std::string name;
    std::optional<RetryPolicy> retry;  // unset: 3 attempts, exponential 1 s .. 60 s
    std::optional<Millis> timeout;     // unset: 30 s
  };
  struct Type {
    std::string name;
    std::string description;
    std::vector<Step> steps;
  };
  std::string identity;
  std::vector<std::string> queues;  // empty: default
  int slots = 0;
  std::optional<Millis> lease;  // unset: the daemon's default
  std::vector<Type> types;
};

struct Registration {
  std::string worker_id;
  Millis lease{0};
  Millis heartbeat_interval{0};
};

struct PollSpec {
  std::string worker_id;
  int max_steps = 0;
  std::optional<Millis> wait;       // unset: 20 s
  std::vector<std::string> queues;  // subset of the registered ones; empty: all
  std::vector<std::string> types;   // subset of the registered ones; empty: all
};

// One attempt handed to a worker.
struct RemoteAttempt {
  std::string token;
  std::string run_id;
  std::string workflow_type;
  std::string queue;
  std::string step;
  int step_index = 0;
  int attempt = 0;
  int priority = 0;
  std::string input;  // JSON text
  std::string state;  // JSON text
  TimePoint deadline;
  std::string woke;
};

struct CancelledAttempt {
  std::string token;
  std::string run_id;
  std::string reason;  // "canceled", "finished", "lease_lost" or "timed_out"
};

// A worker's outcome for one attempt, as sent (checked by Complete).
struct RemoteOutcome {
  std::string token;
  std::optional<std::string> state;  // JSON text; unset: unchanged
  // "next", "complete", "retry", "fail", "defer", "sleep", "wait_signal",
  // "wait_runs" or "release"; empty: none was set.
  std::string kind;
  std::string result;              // JSON text (next, complete, sleep); empty: null
  std::string error;               // retry, fail, release
  std::optional<Millis> delay;     // retry: instead of the backoff; waits: the timeout
  std::optional<TimePoint> until;  // defer, sleep
  std::string signal;              // wait_signal
  std::vector<std::string> runs;   // wait_runs
  bool any = false;                // wait_runs
};

struct OutcomeAnswer {
  bool accepted = false;
  std::string error;  // why not
};

// A worker as listed.
struct WorkerView {
  store::WorkerInfo info;
};

class RemoteWorkers {
 public:
  struct Stores {
    store::DispatchStore* dispatch = nullptr;
    store::RunStore* runs = nullptr;
    store::WaitStore* waits = nullptr;
    store::BlobStore* blobs = nullptr;  // null: blobs unavailable
    store::WorkerStore* workers = nullptr;
  };
  struct Options {
    std::string node;  // this daemon's id (recorded with the workers it registers)
    Millis default_lease{30000};
    size_t max_payload_bytes = 1 << 20;  // state and results
    int64_t max_blob_bytes = 16 << 20;
    metrics::Metrics* metrics = nullptr;
    std::function<void()> on_waits_recorded;  // outcomes suspended runs (the waker)
    std::function<void()> on_ready;           // outcomes made runs ready (the dispatcher)
    Millis refresh_interval{2000};            // how often remote types are reloaded
    Millis poll_interval{1000};               // parked polls claim again at least this often
  };
  RemoteWorkers(Stores stores, Registry* registry, Options options);
  ~RemoteWorkers();
  RemoteWorkers(const RemoteWorkers&) = delete;
  RemoteWorkers& operator=(const RemoteWorkers&) = delete;

  // Stores this daemon's own types' definitions, loads the remote ones,
  // and starts the thread that serves parked polls and reloads types.
  void Start();
  // Answers every parked poll (empty) and stops the thread.
  void Stop();

  StatusOr<Registration> Register(const WorkerSpec& spec);
  // Claims attempts for a worker: `done` runs exactly once, inline or on
  // this class's thread, with the attempts (possibly none, once the wait
  // is over) or an error. Returns a handle for AbortPoll (0: `done` ran).
  uint64_t StartPoll(const PollSpec& spec,
                     std::function<void(StatusOr<std::vector<RemoteAttempt>>)> done);
  // The caller went away: `done` runs now with no attempts (attempts claimed
  // for it after this are given back).
  void AbortPoll(uint64_t handle);
  // Gives back attempts claimed for a poll whose answer never reached its
  // worker: their runs go back to the queue, no attempt used.
  void GiveBack(const std::vector<RemoteAttempt>& attempts);
  StatusOr<std::vector<CancelledAttempt>> Heartbeat(const std::string& worker_id,
                                                    const std::vector<std::string>& tokens,
                                                    std::optional<int> in_flight);
  StatusOr<std::vector<OutcomeAnswer>> Complete(const std::string& worker_id,
                                                const std::vector<RemoteOutcome>& outcomes);
  // The worker leaves: the attempts named are given back; returns how many.
  StatusOr<int> StopWorker(const std::string& worker_id, const std::vector<std::string>& tokens);
  StatusOr<std::vector<store::WorkerInfo>> List();

  // The step services of the attempt `token` names, for `worker_id`: each
  // call is fenced by the attempt's lease (AttemptServices).
  class Services;
  StatusOr<std::unique_ptr<Services>> ServicesFor(const std::string& worker_id,
                                                  const std::string& token,
                                                  const std::string& field);

  // Runs may be ready (a notification, an enqueue here): parked polls claim.
  void Poke();

 private:
  struct Worker;   // a registered worker, as this daemon knows it
  struct Token;    // what a lease token holds
  struct Pending;  // a parked poll
  StatusOr<std::shared_ptr<const Worker>> FindWorker(const std::string& id);
  Status CheckToken(const Worker& w, const std::string& text, const std::string& field,
                    Token* out) const;
  // Claims for one poll; runs woken from a timer or a timeout are decided
  // and recorded here, not handed out.
  StatusOr<std::vector<RemoteAttempt>> ClaimFor(const Worker& w,
                                                const std::vector<std::string>& queues,
                                                const std::vector<std::string>& types, int max,
                                                std::optional<Millis>* next_due);
  // Records outcomes decided here (woken runs, timeouts, give-backs).
  void RecordOwn(std::vector<store::Outcome> outcomes);
  void Loop();
  // Loads the stored definitions of remote types into the registry (one
  // name, or all when empty).
  Status LoadTypes(const std::string& name);
  Status PublishOwnTypes();

  const Stores stores_;
  Registry* const registry_;
  const Options opts_;
  AttemptServices::Stores services_;

  std::mutex workers_mu_;
  std::map<std::string, std::shared_ptr<const Worker>> workers_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  uint64_t next_handle_ = 1;
  bool poked_ = false;
  bool parked_ = false;  // a poll was parked since the loop last looked
  bool stopping_ = false;
  std::thread thread_;

  std::mutex load_mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> missed_;  // names not found lately
};

// A step's services for a remote attempt (RemoteWorkers::ServicesFor).
class RemoteWorkers::Services {
 public:
  Services(const AttemptServices::Stores& stores, const Registry* registry,
           store::ClaimedRun claimed)
      : claimed_(std::move(claimed)), services_(stores, registry, claimed_, start_written_) {}
  AttemptServices& get() { return services_; }
  const store::ClaimedRun& claimed() const { return claimed_; }

 private:
  store::ClaimedRun claimed_;
  std::atomic<bool> start_written_{false};
  AttemptServices services_;
};

}  // namespace cueball::engine
