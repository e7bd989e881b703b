// Waker: ends the waits of suspended runs. Timers and wait timeouts are due
// at a time (the waker sleeps until the soonest one, as every daemon's does;
// SKIP LOCKED shares the work); a wait on runs ends when they finish (the
// waker looks at the waiters of the finished runs it hears of, after a cheap
// read that says whether they have any, and sweeps every such wait once a
// second in case a notification was missed). A woken
// run is enqueued again; the dispatcher that claims it sees why it woke.
// Signals wake their run themselves, in the Signal call's transaction.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/store/wait_store.h"

namespace cueball::engine {

class Waker {
 public:
  explicit Waker(store::WaitStore* store, Millis sweep_interval = Millis(1000));
  ~Waker();

  void Start();
  void Stop();

  // A run finished somewhere: wake whoever waits for it.
  void OnRunFinished(const std::string& run_id);
  // Look again now (a wait was just recorded, or notifications were missed).
  void Poke();

  int64_t woken() const;  // runs woken by this daemon since start

 private:
  void Loop();

  store::WaitStore* const store_;
  const Millis sweep_interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> finished_;
  bool poked_ = true;
  bool stop_ = false;
  int64_t woken_ = 0;
  std::thread thread_;
};

}  // namespace cueball::engine
