// Slots: a dispatcher's bookkeeping of the runs it holds, in memory and
// nothing else (no database, no threads of its own), so it is unit-tested
// alone (tests/unit/slots_test.cc). It is a monitor: every method takes its
// one lock, and the claimer, the workers and Stop wait on it.
//
// A run is held from its claim until its outcome is recorded: ready (claimed,
// waiting for a worker) or running, both in `running_` by run id; or, after
// its step asked that the run's next step stay here, as one of `continuing_`
// until the record says whether it did. Capacity is the number of workers,
// or kClaimAheadFactor times that while steps are fast (their moving average
// under kClaimAheadBelowMs): then claims run ahead of the workers, and a
// run's next step stays here. When steps turn slow, runs claimed ahead
// beyond capacity are marked to be handed back unstarted.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/engine/attempt.h"

namespace cueball::engine {

class Slots {
 public:
  static constexpr double kClaimAheadBelowMs = 5;
  static constexpr int kClaimAheadFactor = 16;  // runs held per worker while steps are fast

  // `workers` threads take attempts; a claim asks for at most `claim_batch`.
  Slots(int workers, int claim_batch);

  // --- the claimer ---
  // How many runs to claim now: the free slots, at most claim_batch; 0 when
  // none are free. While steps run and only a few slots are free, waits up
  // to `coalesce` for more, so that claims come in batches rather than one
  // run per statement (nothing running: the claim goes out at once).
  // nullopt once stopping.
  std::optional<int> ToClaim(Millis coalesce);
  // Claimed runs, in claim order, behind those already ready. `full`: the
  // claim took all it asked for, so more may be ready.
  void Claimed(std::vector<std::shared_ptr<Attempt>> attempts, bool full);
  // Waits up to `wait` for a poke. False once stopping.
  bool WaitForPoke(Millis wait);
  // Ready runs may be waiting: wakes the claimer.
  void Poke();
  // Whether the last claim came back short (nothing more was ready).
  bool caught_up() const { return caught_up_; }

  // --- the workers ---
  // The next ready attempt; blocks until there is one. Null once the
  // workers are told to exit (ReleaseWorkers).
  std::shared_ptr<Attempt> NextReady();
  // Frees the attempt's slot, or keeps it for the run's next step when the
  // attempt continues; `step_ms` (how long the step ran) feeds the average
  // that decides whether to claim ahead. With `take_next`, also takes the
  // next ready attempt, if any, for the calling worker (one lock for both).
  std::shared_ptr<Attempt> Finish(const Attempt& attempt, std::optional<double> step_ms,
                                  bool take_next);
  // Whether steps finish fast enough for next steps to stay here.
  bool steps_fast() const { return steps_fast_.load(std::memory_order_relaxed); }

  // --- the completer ---
  // `settled` continuing attempts were recorded; `stayed` are the next
  // steps the store kept here (each under its new lease). They go ahead of
  // runs claimed after them; while stopping they are released unstarted.
  void Settle(std::vector<std::shared_ptr<Attempt>> stayed, int settled);

  // --- the watchdog, and cancellation ---
  // Calls `fn` for every held attempt that is ready or running (under the
  // lock: `fn` must be quick).
  void ForEachRunning(const std::function<void(const std::shared_ptr<Attempt>&)>& fn) const;
  // The attempt held for `run_id`, or null.
  std::shared_ptr<Attempt> Find(const std::string& run_id) const;
  // Cancels the attempt held for `run_id`, if any, for `reason`.
  void Cancel(const std::string& run_id, CancelReason reason);

  // --- stopping ---
  // No more claims, and no next step stays here. Returns false if it was
  // stopping already.
  bool BeginStop();
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  // Waits up to `timeout` for every held run to finish. True if they did.
  bool Drain(Millis timeout);
  // Cancels every held attempt (running, and ready ones, which are then
  // released unstarted) for `reason`.
  void CancelAll(CancelReason reason);
  // Tells the workers to exit once the ready attempts are taken.
  void ReleaseWorkers();

  int Capacity() const;  // runs this dispatcher may hold claimed
  int Held() const;      // claimed here, or whose next step may stay
  int Running() const;   // ready or running here

 private:
  int CapacityLocked() const;
  int HeldLocked() const { return static_cast<int>(running_.size()) + continuing_; }
  int ClaimBatchThreshold(int capacity) const { return std::min(capacity / 2, claim_batch_); }
  void AddReadyLocked(std::vector<std::shared_ptr<Attempt>> attempts, bool front);

  const int workers_;
  const int claim_batch_;
  mutable std::mutex mu_;
  std::condition_variable claim_cv_;  // the claimer waits for pokes / free slots
  std::condition_variable work_cv_;   // workers wait for attempts
  std::condition_variable idle_cv_;   // Drain waits for nothing held
  bool poked_ = false;
  // Ready runs may be left that this dispatcher has not claimed (a full
  // claim, or a poke since the last claim): a slot that frees up should claim.
  bool more_ready_ = true;
  std::atomic<bool> caught_up_{false};
  std::atomic<bool> stopping_{false};
  bool workers_exit_ = false;
  std::deque<std::shared_ptr<Attempt>> ready_;
  std::map<std::string, std::shared_ptr<Attempt>> running_;  // by run id, ready or running
  int continuing_ = 0;
  double step_ewma_ms_ = 1000;  // moving average of step run time; starts "slow"
  std::atomic<bool> steps_fast_{false};
};

}  // namespace cueball::engine
