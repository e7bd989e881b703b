// Dispatcher: runs the steps of workflow runs on this daemon, from five parts
// (as River splits producer, executor and completer):
//   Claimer     claims ready runs in batches for the free slots (claimer.h)
//   Slots       what is held here: ready, running, continuing (slots.h)
//   workers     a fixed pool of threads; each takes a ready attempt, has a
//               StepRunner run its step (in_process_runner.h: the C++
//               handler), and turns the result into an outcome (Decide)
//   Completer   records outcomes in batches (completer.h)
//   Watchdog    step timeouts, long steps' starts, lease heartbeats
//               (watchdog.h)
// While steps are fast, a run's next step stays here: the record claims it,
// and a worker runs it without a claim of its own. Stop() stops claiming,
// lets in-flight steps finish for up to the drain timeout, then cancels
// them and releases their runs.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/engine/claimer.h"
#include "server/engine/completer.h"
#include "server/engine/finished_run_sink.h"
#include "server/engine/slots.h"
#include "server/engine/step_runner.h"
#include "server/engine/watchdog.h"
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
  // Where steps run (null: an InProcessRunner, the C++ handlers). Not owned.
  StepRunner* runner = nullptr;
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
  void Poke() { slots_.Poke(); }
  // A run reached a terminal state somewhere (e.g. canceled): stop its step here.
  void OnRunFinished(const std::string& run_id) {
    slots_.Cancel(run_id, CancelReason::kRunCanceled);
  }

  int in_flight() const { return slots_.Held(); }
  // Whether the last claim found nothing more ready (it came back short).
  bool caught_up() const { return slots_.caught_up(); }
  const DispatcherOptions& options() const { return opts_; }

 private:
  void WorkerLoop();
  // Runs the attempt's step and queues its outcome; returns how long the
  // step ran (nullopt when its handler did not run).
  std::optional<double> Execute(const std::shared_ptr<Attempt>& attempt);
  // After a record (Completer::Options::on_recorded): the attempts whose
  // outcomes asked to continue give their slots to their next steps, where
  // the store kept them here (`next`, aligned with `outcomes`; shorter:
  // none), or free them.
  void SettleContinuations(const std::vector<store::Outcome>& outcomes,
                           const std::vector<std::shared_ptr<Attempt>>& attempts, size_t count,
                           const std::vector<std::optional<store::NextAttempt>>& next);

  const Registry* const registry_;
  const DispatcherOptions opts_;
  Slots slots_;
  std::unique_ptr<StepRunner> own_runner_;  // when opts_.runner is null
  StepRunner* const runner_;
  Completer completer_;
  Watchdog watchdog_;
  Claimer claimer_;
  std::vector<std::thread> workers_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

}  // namespace cueball::engine
