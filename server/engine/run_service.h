// RunService: what the api asks of the engine. Validates every request
// against the registry and the configured limits before anything is written
// (bad input changes nothing), then calls the store. Errors name the request
// field at fault, using the api's field names ("runs[2].input: ...").
// Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/engine/dispatcher.h"
#include "server/engine/remote_workers.h"
#include "server/engine/wait_hub.h"
#include "server/engine/workflow.h"
#include "server/metrics/metrics.h"
#include "server/store/blob_store.h"
#include "server/store/queue_store.h"
#include "server/store/run_store.h"
#include "server/store/schedule_store.h"
#include "server/store/wait_store.h"

namespace cueball::engine {

struct Limits {
  size_t max_payload_bytes = 1 << 20;  // input JSON text
  int max_batch = 1000;                // runs per EnqueueBatch
  int max_wait_ids = 1000;             // ids per Wait
  Millis max_wait_timeout{3600 * 1000};
  Millis default_wait_timeout{60 * 1000};
  int max_page_size = 1000;
  int default_page_size = 50;
  Millis max_delay{int64_t{366} * 24 * 3600 * 1000};  // how far ahead run_at/delay may be
  size_t max_waiters = 10000;                         // concurrent Wait calls in this daemon
  int64_t max_queued = 0;                             // enqueued runs in the database; 0: no limit
};

struct EnqueueSpec {
  std::string workflow_type;
  std::string input;  // JSON text; empty means {}
  std::string queue;  // empty means "default"
  int priority = 0;   // -1000..1000, lower runs first
  std::optional<TimePoint> run_at;
  std::optional<Millis> delay;
  std::string idempotency_key;              // empty means none
  std::map<std::string, std::string> tags;  // at most kMaxTags; empty: none
  // The whole run's deadline, or a timeout from now (not both); past it the
  // run fails ("fail", the default) or is canceled ("cancel").
  std::optional<TimePoint> deadline;
  std::optional<Millis> timeout;
  std::string deadline_action;
};

// Tags: at most this many per run, keys of 1..64 name characters
// (A-Z a-z 0-9 _ . : -), values of at most 256 bytes of UTF-8.
constexpr size_t kMaxTags = 16;
constexpr size_t kMaxTagKeyBytes = 64;
constexpr size_t kMaxTagValueBytes = 256;

// Which runs List and the bulk actions look at: every field given must
// match (empty fields match any run).
struct FilterSpec {
  std::string workflow_type;
  std::vector<RunStatus> statuses;
  std::string queue;
  std::optional<TimePoint> created_after;
  std::optional<TimePoint> created_before;
  std::map<std::string, std::string> tags;  // the run has every one
  std::string idempotency_key;
  bool empty() const {
    return workflow_type.empty() && statuses.empty() && queue.empty() && !created_after &&
           !created_before && tags.empty() && idempotency_key.empty();
  }
};

struct ListSpec : FilterSpec {
  int page_size = 0;  // 0 means the default
  std::string page_token;
};

// A bulk action (CancelRuns, RetryRuns) on the runs a filter matches.
struct BulkSpec {
  FilterSpec filter;
  bool all = false;      // required when the filter is empty
  bool dry_run = false;  // only count
  std::string reason;
};

// A cron schedule to create: what each tick enqueues (`run`'s type,
// input, queue, priority and tags; no key or time), when, and what becomes
// of ticks missed while no daemon ran.
struct ScheduleSpec {
  std::string name;
  std::string cron;
  std::string timezone;  // empty: UTC
  EnqueueSpec run;
  std::string catch_up;  // "one" (default: enqueue one run for them) or "skip"
};

struct BulkResult {
  int64_t count = 0;  // runs changed (dry run: that would be)
  bool dry_run = false;
};

struct RunPage {
  std::vector<Run> runs;
  std::string next_page_token;  // empty on the last page
};

class RunService {
 public:
  // `dispatcher` may be null (an api-only process); it is poked on enqueue.
  RunService(store::RunStore* store, store::WaitStore* waits, const Registry* registry,
             WaitHub* hub, Dispatcher* dispatcher, Limits limits);

  // Enqueues all or none. With `batch`, errors name the item ("runs[i].input").
  StatusOr<std::vector<store::EnqueueResult>> Enqueue(const std::vector<EnqueueSpec>& specs,
                                                      bool batch);
  StatusOr<Run> Get(const std::string& id, bool with_history);
  StatusOr<RunPage> List(const ListSpec& spec);
  StatusOr<Run> Cancel(const std::string& id, const std::string& reason);
  StatusOr<Run> Retry(const std::string& id, const std::string& reason);
  // Cancels (or retries) every run the filter matches that has not finished
  // (or that failed), in batches of one transaction each, newest first; each
  // run is looked at once. `stop` is asked between batches (the caller went
  // away): what was done stays done. NOT_FOUND when nothing matched.
  StatusOr<BulkResult> CancelRuns(const BulkSpec& spec, const std::function<bool()>& stop);
  StatusOr<BulkResult> RetryRuns(const BulkSpec& spec, const std::function<bool()>& stop);
  // Validates, then waits asynchronously; `done` runs exactly once (on the
  // hub's thread, or inline with a validation error). Returns a handle for
  // AbortWait (0 if `done` already ran).
  uint64_t Wait(const std::vector<std::string>& ids, bool any, std::optional<Millis> timeout,
                WaitHub::Done done);
  void AbortWait(uint64_t handle);
  // Validates (run_id, name, payload JSON and size, key) and delivers.
  StatusOr<store::SignalResult> Signal(const std::string& run_id, const std::string& name,
                                       const std::string& payload,
                                       const std::string& idempotency_key);
  StatusOr<std::vector<store::BlobInfo>> ListBlobs(const std::string& run_id);
  StatusOr<store::StoredBlob> GetBlob(const std::string& run_id, const std::string& name);
  // Schedules (validated: names, the cron expression and time zone, the
  // run as Enqueue validates it). A schedule's runs carry the tag
  // schedule=NAME.
  StatusOr<store::Schedule> CreateSchedule(const ScheduleSpec& spec);
  StatusOr<std::vector<store::Schedule>> ListSchedules();
  StatusOr<store::Schedule> PauseSchedule(const std::string& name);
  // Resumes from now: ticks that passed while paused are not caught up.
  StatusOr<store::Schedule> ResumeSchedule(const std::string& name);
  Status DeleteSchedule(const std::string& name);
  // Null (the default): schedule calls are UNIMPLEMENTED.
  void set_schedules(store::ScheduleStore* schedules) { schedules_ = schedules; }
  // Queues: list, pause, resume (validated: a queue name, a reason of at
  // most 1000 bytes).
  StatusOr<std::vector<store::QueueInfo>> ListQueues();
  StatusOr<store::QueueInfo> PauseQueue(const std::string& queue, const std::string& reason);
  StatusOr<store::QueueInfo> ResumeQueue(const std::string& queue);
  // Where queues are kept, and how recently a daemon must have been seen to
  // count as live; null (the default): queue calls are UNIMPLEMENTED.
  void set_queues(store::QueueStore* queues, Millis node_window) {
    queues_ = queues;
    node_window_ = node_window;
  }
  // Where blobs are read from; null (the default): blob calls are UNIMPLEMENTED.
  void set_blobs(store::BlobStore* blobs) { blobs_ = blobs; }
  // Remote workers' parked polls are poked too when runs become ready here.
  void set_remote_workers(RemoteWorkers* remote) { remote_ = remote; }

  const Registry& registry() const { return *registry_; }
  // Counts runs enqueued and canceled; null (the default) records nothing.
  void set_metrics(metrics::Metrics* m) { metrics_ = m; }
  const Limits& limits() const { return limits_; }

 private:
  Status Validate(const EnqueueSpec& spec, const std::string& prefix) const;
  Status CheckDeadline(const EnqueueSpec& spec, const std::string& prefix) const;
  // The store's filter for a FilterSpec; errors name fields after `prefix`.
  Status MakeFilter(const FilterSpec& spec, const std::string& prefix, store::RunFilter* out) const;
  // What CancelRuns and RetryRuns differ in.
  struct BulkAction {
    std::vector<RunStatus> allowed;  // statuses it applies to (the default filter)
    std::string verb, past;          // "cancel", "canceled": for messages
    std::function<StatusOr<store::BulkBatch>(const store::RunFilter&)> batch;
    std::function<void(const std::vector<Run>&)> changed;  // after each batch that changed runs
  };
  StatusOr<BulkResult> Bulk(const BulkSpec& spec, const BulkAction& action,
                            const std::function<bool()>& stop);
  // RESOURCE_EXHAUSTED if `adding` more runs would pass max_queued. The depth
  // is read from the database at most once a second and counted up locally
  // in between, so the check costs no query on most enqueues.
  Status CheckQueuedDepth(size_t adding);
  void CountEnqueued(size_t added);

  store::RunStore* const store_;
  store::WaitStore* const waits_;
  const Registry* const registry_;
  WaitHub* const hub_;
  Dispatcher* const dispatcher_;
  RemoteWorkers* remote_ = nullptr;
  void PokeReady() {
    if (dispatcher_) dispatcher_->Poke();
    if (remote_) remote_->Poke();
  }
  const Limits limits_;
  std::mutex depth_mu_;
  int64_t depth_ = 0;
  std::chrono::steady_clock::time_point depth_read_at_{};
  metrics::Metrics* metrics_ = nullptr;
  store::BlobStore* blobs_ = nullptr;
  store::QueueStore* queues_ = nullptr;
  store::ScheduleStore* schedules_ = nullptr;
  Millis node_window_{30000};
};

}  // namespace cueball::engine
