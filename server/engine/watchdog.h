// Watchdog: a dispatcher's thread that looks after the steps running there,
// every 50 ms: cancels a step past its timeout, writes the step_started of
// a step running longer than kStartWrittenAfter (a shorter one has it
// written with its outcome, migration 0010), and every lease/3 extends the
// leases of the attempts held (heartbeat), stopping any whose lease was lost
// (rescued elsewhere, or the run canceled).
#pragma once

#include <atomic>
#include <thread>

#include "server/engine/slots.h"
#include "server/store/dispatch_store.h"

namespace cueball::engine {

class Watchdog {
 public:
  static constexpr Millis kStartWrittenAfter{100};

  Watchdog(store::DispatchStore* store, Slots* slots, Millis lease)
      : store_(store), slots_(slots), lease_(lease) {}
  ~Watchdog() { Stop(); }

  void Start();
  void Stop();

 private:
  void Loop();
  // Writes the step_started of attempts whose steps run long.
  void WriteStarts(const std::vector<std::shared_ptr<Attempt>>& attempts);

  store::DispatchStore* const store_;
  Slots* const slots_;
  const Millis lease_;
  std::atomic<bool> exit_{false};
  std::thread thread_;
};

}  // namespace cueball::engine
