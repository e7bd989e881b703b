// WaitHub: serves Wait inside the daemon. Waiters register the run ids they
// wait on; finish notifications (LISTEN/NOTIFY, from any daemon) wake them.
// One hub thread batches all database reads: one read for newly registered
// waiters, one for waiters that are done, and a periodic re-check of all
// pending ids as a fallback (read in slices, so that it never holds up
// wake-ups), so many waiters never each poll the database.
// Every waiter's callback runs exactly once, on the hub thread.
// Runs finished by steps on this daemon come from the dispatcher's record
// (FinishedRunSink) as committed: their waiters are answered without a
// notification or a read.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"
#include "server/engine/finished_run_sink.h"
#include "server/store/run_store.h"

namespace cueball::engine {

struct WaitResult {
  std::vector<Run> runs;  // in the order of the requested ids
  bool satisfied = false;
};

class WaitHub final : public FinishedRunSink {
 public:
  using Done = std::function<void(StatusOr<WaitResult>)>;

  WaitHub(store::RunStore* store, Millis recheck_interval = Millis(5000));
  ~WaitHub();

  void Start();
  // Finishes every pending waiter (UNAVAILABLE: shutting down) and joins.
  void Stop();

  // Waits for all (or any) of `ids` to reach a terminal state, or `timeout`.
  // `done` is called exactly once: with the runs, or NOT_FOUND naming an id
  // that does not exist, or the store's error. Returns a handle for Abort.
  uint64_t Wait(std::vector<std::string> ids, bool any, Millis timeout, Done done);
  // Ends a waiter early (its caller went away): `done` gets CANCELLED.
  void Abort(uint64_t handle);

  void NotifyFinished(const std::string& run_id);
  // FinishedRunSink: the runs waited on here, and those the record finished.
  std::vector<bool> Want(const std::vector<std::string_view>& run_ids) override;
  void Delivered(const std::vector<std::string>& wanted, std::vector<Run> runs) override;
  void Resync();  // notifications may have been lost: re-check every waiter

  size_t waiting() const;

 private:
  struct Waiter {
    uint64_t handle = 0;
    std::vector<std::string> ids;     // as requested (deduplicated, order kept)
    std::set<std::string> remaining;  // not yet seen terminal
    bool any = false;
    std::chrono::steady_clock::time_point deadline;
    Done done;
    bool registered = false;  // initial check done
    bool aborted = false;
    Status error;  // set when the wait must end with an error
  };

  void Loop();
  bool Satisfied(const Waiter& w) const {
    return w.any ? w.remaining.size() < w.ids.size() : w.remaining.empty();
  }
  void MarkFinished(const std::string& id);  // under mu_

  store::RunStore* const store_;
  const Millis recheck_interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool resync_ = false;
  uint64_t next_handle_ = 1;
  std::map<uint64_t, std::shared_ptr<Waiter>> waiters_;
  std::map<std::string, std::set<uint64_t>, std::less<>> by_run_;  // found by string_view too
  std::vector<uint64_t> fresh_;  // registered, initial check pending
  std::set<uint64_t> ready_;     // satisfied, timed out or aborted: finish them
  // Runs being recorded here whose rows will come (Want, until Delivered;
  // a count: a late outcome of a run may be recorded beside its current
  // one), and those among them whose finish was notified meanwhile.
  std::map<std::string, int> coming_;
  std::set<std::string> notified_coming_;
  // Delivered runs not yet used for a reply; each pass takes them.
  std::map<std::string, Run> delivered_;
  // Waiters left to re-check in this round, read a slice (about
  // kRecheckSlice run ids) per pass.
  std::deque<uint64_t> recheck_;
  static constexpr size_t kRecheckSlice = 200;
  std::thread thread_;
};

}  // namespace cueball::engine
