// Dispatcher: claims ready runs in batches (never more than free worker
// slots), runs each claimed step on a fixed pool of worker threads, and
// records outcomes in batches through completer threads (`recorders`). While
// steps are fast, a run's next step stays here: the record claims it, and a
// worker runs it without a claim of its own. It sleeps until poked (NOTIFY,
// a freed slot) or until the next due run_at, polling only as a fallback. Step timeouts cancel the
// handler's token; a handler that throws is a failed attempt. Stop() stops claiming, lets in-flight
// steps finish for up to the drain timeout, then cancels them and releases their runs. While a step
// runs, its lease is extended by a heartbeat; a step whose lease was lost (rescued elsewhere) is
// stopped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/engine/finished_run_sink.h"
#include "server/engine/workflow.h"
#include "server/metrics/metrics.h"
#include "server/store/blob_store.h"
#include "server/store/dispatch_store.h"
#include "server/store/run_store.h"
#include "server/store/wait_store.h"

namespace cueball::engine {

struct DispatcherOptions {
  std::string owner;  // this daemon's id, recorded on leases
  std::vector<std::string> queues{"default"};
  int workers = 8;  // concurrent steps
  // Most runs claimed per statement. A claim also asks for no more than the
  // free slots (Capacity(): up to 16 x workers while steps are fast); 100 cut
  // claims short (docs/performance.md, "Fewer, larger claims").
  int claim_batch = 400;
  Millis lease{30000};  // lease length; extended by a heartbeat every lease/3 while a step runs
  Millis poll_interval{1000};   // fallback poll when no NOTIFY arrives
  Millis drain_timeout{10000};  // Stop(): wait this long for in-flight steps
  int complete_batch = 500;     // most outcomes recorded per transaction
  // Batches of outcomes recorded at once, each by a completer thread of its
  // own: one batch's commit and the next one's work in the database overlap
  // (one at a time, records were the drain's bottleneck: docs/performance.md).
  int recorders = 2;
  Millis claim_coalesce{2};             // wait for more free slots before a small claim
  metrics::Metrics* metrics = nullptr;  // step durations, retries, runs finished
  store::BlobStore* blobs = nullptr;    // ctx.SaveBlob / LoadBlob (null: unavailable)
  int64_t max_blob_bytes = 16 << 20;    // largest blob a step may save
  // Called after outcomes that suspend runs are recorded (the waker then
  // looks again: a new timer may be due sooner, a wait on runs may be over).
  std::function<void()> on_waits_recorded;
  FinishedRunSink* finished_runs = nullptr;  // null: none
};

class Dispatcher {
 public:
  // The parts of the store a dispatcher uses: claims, outcomes and leases;
  // runs (a step's children, the runs it waits for); signals a step takes.
  struct Stores {
    store::DispatchStore* dispatch;
    store::RunStore* runs;
    store::WaitStore* waits;
  };
  Dispatcher(Stores stores, const Registry* registry, DispatcherOptions options);
  ~Dispatcher();

  void Start();
  void Stop();

  // Something may be ready to claim (a NOTIFY or a local enqueue). Cheap, non-blocking.
  void Poke();
  // A run reached a terminal state somewhere (e.g. canceled): stop its step here.
  void OnRunFinished(const std::string& run_id);

  int in_flight() const;
  // Whether the last claim found nothing more ready (it came back short).
  bool caught_up() const { return caught_up_; }
  const DispatcherOptions& options() const { return opts_; }

 private:
  struct Attempt {
    store::ClaimedRun claimed;
    CancelToken cancel;
    std::chrono::steady_clock::time_point deadline;
    // Claimed ahead, then handed back unstarted because steps turned slow.
    std::atomic<bool> hand_back{false};
    // When a worker took it up (steady clock, ns; 0: not yet), and whether
    // its step_started is written (by the watchdog, for a step that runs
    // longer than kStartWrittenAfter; else with its outcome).
    std::atomic<int64_t> began_ns{0};
    std::atomic<bool> start_written{false};
    // Its outcome asks that the run's next step stay here (continue_lease):
    // the slot stays taken until the record says whether it did.
    bool continues = false;
  };

  void ClaimLoop();
  void WorkerLoop();
  void CompleterLoop();
  void WatchdogLoop();
  // Runs the attempt's step and queues its outcome; returns how long the
  // step ran (nullopt when its handler did not run).
  std::optional<double> Execute(const std::shared_ptr<Attempt>& attempt);
  // What the attempt's step returns: the handler's result, or the engine's
  // own when the run woke from a timer or a timeout.
  StepResult RunStep(const std::shared_ptr<Attempt>& attempt, const StepDef& step,
                     const Json& input, Json& state);
  // Frees the attempt's slot (or keeps it for the run's next step, when the
  // attempt continues); `step_ms` (how long the step ran) feeds the average
  // that decides whether to claim ahead. With `take_next`, also takes the
  // next ready attempt, if any, for the calling worker.
  std::shared_ptr<Attempt> Finish(const Attempt& attempt, std::optional<double> step_ms,
                                  bool take_next);
  // A new attempt of a claimed run, its step's timeout running from now.
  std::shared_ptr<Attempt> NewAttempt(store::ClaimedRun claimed) const;
  // Hands attempts to the workers (under mu_): at the back of the line for
  // claimed runs, at the front for next steps of runs already here.
  void AddReady(std::vector<std::shared_ptr<Attempt>> attempts, bool front);
  // After a record: the attempts whose outcomes asked to continue give
  // their slots to their next steps, where the store kept them here
  // (`next`, aligned with `outcomes`; shorter: none), or free them.
  void SettleContinuations(const std::vector<store::Outcome>& outcomes,
                           const std::vector<std::shared_ptr<Attempt>>& attempts, size_t count,
                           const std::vector<std::optional<store::NextAttempt>>& next);
  int Capacity() const;  // runs this daemon may hold claimed (under mu_)
  int Held() const {     // runs held here: claimed, or whose next step may stay (under mu_)
    return static_cast<int>(running_.size()) + continuing_;
  }
  // Free slots worth a claim of their own while steps run: fewer wait
  // briefly (claim_coalesce) for more, so claims come in batches.
  int ClaimBatchThreshold(int capacity) const { return std::min(capacity / 2, opts_.claim_batch); }
  // Gives the outcome its attempt's start, unless that was written already.
  static void WithStart(store::Outcome& outcome, const Attempt& attempt);
  // Writes the step_started of attempts whose steps run long (watchdog).
  void WriteStarts(const std::vector<std::shared_ptr<Attempt>>& attempts);
  // Queues an outcome for the completer, with the attempt it ends.
  void PushOutcome(store::Outcome outcome, std::shared_ptr<Attempt> attempt);
  // Records the outcomes one at a time; one the database refuses for good
  // is replaced by the run's failure (saying why) and recorded instead.
  // `accepted` gets one entry per outcome recorded, in order; an error stops
  // it early.
  Status RecordOneByOne(std::vector<store::Outcome>& batch,
                        const std::vector<std::shared_ptr<Attempt>>& attempts,
                        std::vector<bool>* accepted);

  const Stores stores_;
  store::DispatchStore* const store_;  // stores_.dispatch
  const Registry* const registry_;
  const DispatcherOptions opts_;
  std::vector<std::string> types_;

  mutable std::mutex mu_;
  std::condition_variable claim_cv_;  // ClaimLoop waits for pokes / slots
  std::condition_variable work_cv_;   // workers wait for attempts
  std::condition_variable idle_cv_;   // Stop waits for in-flight to reach zero
  bool poked_ = false;
  // Ready runs may be left that this daemon has not claimed (a full claim,
  // or a poke since the last claim): a slot that frees up should claim.
  bool more_ready_ = true;
  std::atomic<bool> caught_up_{false};  // set by the claim loop, read by anyone
  // No more claims, and no next step stays here. Set under mu_; Execute
  // reads it without.
  std::atomic<bool> stopping_{false};
  bool workers_exit_ = false;
  std::deque<std::shared_ptr<Attempt>> ready_;
  std::map<std::string, std::shared_ptr<Attempt>> running_;  // by run id (claimed here)
  // Finished attempts whose outcomes ask that the run's next step stay
  // here, not yet recorded: each holds its slot for that step.
  int continuing_ = 0;
  static constexpr double kClaimAheadBelowMs = 5;
  static constexpr int kClaimAheadFactor = 16;  // runs held per worker while steps are fast
  // A step still running this long after it began has its step_started
  // written while it runs; a shorter one has it written with its outcome
  // (migration 0010).
  static constexpr Millis kStartWrittenAfter{100};
  double step_ewma_ms_ = 1000;  // moving average of step run time; starts "slow"
  // step_ewma_ms_ < kClaimAheadBelowMs: runs are claimed ahead (Capacity())
  // and next steps stay here. Set under mu_; Execute reads it without.
  std::atomic<bool> steps_fast_{false};

  std::mutex out_mu_;
  std::condition_variable out_cv_;
  std::deque<store::Outcome> outcomes_;
  std::deque<std::shared_ptr<Attempt>> outcome_attempts_;  // the attempt each outcome ends
  int unrecorded_ = 0;                                     // outcomes pushed but not yet recorded
  bool completer_exit_ = false;

  std::thread claimer_;
  std::vector<std::thread> completers_;
  std::thread watchdog_;
  std::vector<std::thread> workers_;
  std::atomic<bool> watchdog_exit_{false};
};

}  // namespace cueball::engine
