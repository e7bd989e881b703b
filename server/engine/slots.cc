#include "server/engine/slots.h"

#include <algorithm>

namespace cueball::engine {

Slots::Slots(int workers, int claim_batch) : workers_(workers), claim_batch_(claim_batch) {}

int Slots::CapacityLocked() const {
  // Claim ahead (up to kClaimAheadFactor - 1 more batches of `workers` runs
  // waiting for a thread) only while steps finish in a few milliseconds: then
  // the next claims' round trips overlap the current batches instead of
  // leaving the workers idle, and claims come in larger batches. With slower
  // steps, runs claimed ahead would only wait here while another daemon
  // might have run them, so they are handed back (Finish). (Measured:
  // docs/performance.md; two batches drained 12.5k no-op runs/s, four 16k,
  // sixteen 22.5-23.2k.)
  return steps_fast_ ? kClaimAheadFactor * workers_ : workers_;
}

int Slots::Capacity() const {
  std::lock_guard<std::mutex> lock(mu_);
  return CapacityLocked();
}

int Slots::Held() const {
  std::lock_guard<std::mutex> lock(mu_);
  return HeldLocked();
}

int Slots::Running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(running_.size());
}

std::optional<int> Slots::ToClaim(Millis coalesce) {
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return std::nullopt;
  int capacity = CapacityLocked();
  int free = capacity - HeldLocked();
  poked_ = false;
  if (free > 0 && free < ClaimBatchThreshold(capacity)) {
    claim_cv_.wait_for(lock, coalesce, [&] {
      return stopping_ || CapacityLocked() - HeldLocked() >= ClaimBatchThreshold(CapacityLocked());
    });
    if (stopping_) return std::nullopt;
    free = CapacityLocked() - HeldLocked();
    poked_ = false;
  }
  if (free <= 0) return 0;
  more_ready_ = false;  // a poke from now on sets it again
  return std::min(free, claim_batch_);
}

void Slots::Claimed(std::vector<std::shared_ptr<Attempt>> attempts, bool full) {
  std::lock_guard<std::mutex> lock(mu_);
  caught_up_ = !full;
  if (full) more_ready_ = true;
  AddReadyLocked(std::move(attempts), /*front=*/false);
}

bool Slots::WaitForPoke(Millis wait) {
  std::unique_lock<std::mutex> lock(mu_);
  claim_cv_.wait_for(lock, wait, [&] { return poked_ || stopping_; });
  return !stopping_;
}

void Slots::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  more_ready_ = true;
  claim_cv_.notify_one();
}

std::shared_ptr<Attempt> Slots::NextReady() {
  std::unique_lock<std::mutex> lock(mu_);
  work_cv_.wait(lock, [&] { return workers_exit_ || !ready_.empty(); });
  if (ready_.empty()) return nullptr;
  std::shared_ptr<Attempt> a = std::move(ready_.front());
  ready_.pop_front();
  return a;
}

std::shared_ptr<Attempt> Slots::Finish(const Attempt& attempt, std::optional<double> step_ms,
                                       bool take_next) {
  std::lock_guard<std::mutex> lock(mu_);
  if (step_ms) {
    step_ewma_ms_ += 0.05 * (*step_ms - step_ewma_ms_);
    steps_fast_.store(step_ewma_ms_ < kClaimAheadBelowMs, std::memory_order_relaxed);
  }
  // The run's next step may be here already (its record came first).
  auto it = running_.find(attempt.claimed.run.id);
  if (it != running_.end() && it->second.get() == &attempt) running_.erase(it);
  if (attempt.continues) ++continuing_;
  // Steps turned slow while runs were claimed ahead: the newest ones beyond
  // capacity go back to the queue unstarted (released, first in line for a
  // worker), so they wait for a worker here no longer than one slow step.
  // (The count of runs already handed back is needed only past capacity, so
  // a step finishing while steps are fast does not walk the ready queue.)
  int excess = HeldLocked() - CapacityLocked();
  if (excess > 0) {
    for (const auto& a : ready_) excess -= a->hand_back ? 1 : 0;
  }
  if (excess > 0) {
    for (auto r = ready_.rbegin(); r != ready_.rend() && excess > 0; ++r) {
      if ((*r)->hand_back) continue;
      (*r)->hand_back = true;
      --excess;
    }
    std::stable_partition(ready_.begin(), ready_.end(),
                          [](const std::shared_ptr<Attempt>& a) { return a->hand_back.load(); });
    work_cv_.notify_all();
  }
  // A freed slot claims only if ready runs may be waiting for one. The
  // claimer is woken when that first becomes true, or when enough slots are
  // free for the batch it may be waiting for (ToClaim): not once per
  // finished step, which woke it thousands of times a second for nothing.
  bool wake_claimer = false;
  if (more_ready_ && !poked_) {
    poked_ = true;
    wake_claimer = true;
  }
  const int capacity = CapacityLocked();
  if (capacity - HeldLocked() >= ClaimBatchThreshold(capacity)) wake_claimer = true;
  if (wake_claimer) claim_cv_.notify_one();
  if (HeldLocked() == 0) idle_cv_.notify_all();
  std::shared_ptr<Attempt> next;
  if (take_next && !ready_.empty()) {
    next = std::move(ready_.front());
    ready_.pop_front();
  }
  return next;
}

void Slots::AddReadyLocked(std::vector<std::shared_ptr<Attempt>> attempts, bool front) {
  for (auto& a : attempts) running_[a->claimed.run.id] = a;
  ready_.insert(front ? ready_.begin() : ready_.end(), attempts.begin(), attempts.end());
  // One idle worker per run (a worker that finishes a step takes the next
  // one itself); all of them for a batch as large.
  if (static_cast<int>(attempts.size()) >= workers_) {
    work_cv_.notify_all();
  } else {
    for (size_t i = 0; i < attempts.size(); ++i) work_cv_.notify_one();
  }
}

void Slots::Settle(std::vector<std::shared_ptr<Attempt>> stayed, int settled) {
  if (settled == 0 && stayed.empty()) return;
  std::lock_guard<std::mutex> lock(mu_);
  continuing_ -= settled;
  // Stopping: a next step that stayed here is released unstarted, for any
  // daemon to claim (a step whose outcome was decided before Stop).
  if (stopping_) {
    for (auto& a : stayed) a->cancel.Cancel(CancelReason::kShutdown);
  }
  // A run's next step goes ahead of runs claimed after it.
  AddReadyLocked(std::move(stayed), /*front=*/true);
  if (HeldLocked() == 0) idle_cv_.notify_all();
}

void Slots::ForEachRunning(const std::function<void(const std::shared_ptr<Attempt>&)>& fn) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, a] : running_) fn(a);
}

std::shared_ptr<Attempt> Slots::Find(const std::string& run_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(run_id);
  return it == running_.end() ? nullptr : it->second;
}

void Slots::Cancel(const std::string& run_id, CancelReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(run_id);
  if (it != running_.end()) it->second->cancel.Cancel(reason);
}

bool Slots::BeginStop() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  stopping_ = true;
  claim_cv_.notify_all();
  return true;
}

bool Slots::Drain(Millis timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [&] { return HeldLocked() == 0; });
}

void Slots::CancelAll(CancelReason reason) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, a] : running_) a->cancel.Cancel(reason);
  for (auto& a : ready_) a->cancel.Cancel(reason);
}

void Slots::ReleaseWorkers() {
  std::lock_guard<std::mutex> lock(mu_);
  workers_exit_ = true;
  work_cv_.notify_all();
}

}  // namespace cueball::engine
