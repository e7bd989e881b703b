// Completer: records the outcomes of attempts in batches, each batch by one
// of its threads (`recorders` at once, so one batch's commit and the next
// one's work in the database overlap). A batch the database refuses as a
// whole is recorded one outcome at a time, and an outcome refused for good
// becomes its run's failure (saying why), so one bad outcome cannot hold up
// the others. Transient errors retry the batch with backoff.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/engine/attempt.h"
#include "server/engine/finished_run_sink.h"
#include "server/metrics/metrics.h"
#include "server/store/dispatch_store.h"

namespace cueball::engine {

class Completer {
 public:
  struct Options {
    int batch = 500;    // most outcomes recorded per transaction
    int recorders = 2;  // threads recording batches at once
    metrics::Metrics* metrics = nullptr;
    FinishedRunSink* finished_runs = nullptr;  // waiters here get finished runs from the record
    // Called after outcomes that suspend runs are recorded.
    std::function<void()> on_waits_recorded;
    // Called after outcomes that made runs ready to claim are recorded.
    std::function<void()> on_ready;
    // After each record: the first `count` outcomes of the batch (and their
    // attempts) are recorded or refused as late; `next` (aligned; shorter:
    // none) holds the next steps the store kept here.
    std::function<void(const std::vector<store::Outcome>& outcomes,
                       const std::vector<std::shared_ptr<Attempt>>& attempts, size_t count,
                       const std::vector<std::optional<store::NextAttempt>>& next)>
        on_recorded;
  };
  Completer(store::DispatchStore* store, const Registry* registry, Options options);
  ~Completer();

  void Start();
  // Records what is queued, then stops (a batch that still fails after a
  // few tries is given up: its leases expire and the runs are rescued).
  void Stop();

  // Queues an outcome, with the attempt it ends (its start goes with it
  // unless written already).
  void Push(store::Outcome outcome, std::shared_ptr<Attempt> attempt);

 private:
  void Loop();
  // Records the outcomes one at a time; one the database refuses for good
  // is replaced by the run's failure (saying why) and recorded instead.
  // `accepted` gets one entry per outcome recorded, in order; an error stops
  // it early.
  Status RecordOneByOne(std::vector<store::Outcome>& batch,
                        const std::vector<std::shared_ptr<Attempt>>& attempts,
                        std::vector<bool>* accepted);

  store::DispatchStore* const store_;
  const Registry* const registry_;
  const Options opts_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::Outcome> outcomes_;
  std::deque<std::shared_ptr<Attempt>> attempts_;  // the attempt each outcome ends
  bool exit_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cueball::engine
