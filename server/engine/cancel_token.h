// CancelToken: tells a running step handler to stop, and why. Handlers poll
// cancelled() or sleep with SleepFor(), which returns early on cancellation.
// The first Cancel() wins; later ones do not change the reason. Thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

#include "server/domain/run.h"

namespace cueball::engine {

enum class CancelReason { kNone, kRunCanceled, kTimeout, kShutdown, kLeaseLost };

class CancelToken {
 public:
  bool cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_ != CancelReason::kNone;
  }
  CancelReason reason() const {
    std::lock_guard<std::mutex> lock(mu_);
    return reason_;
  }
  void Cancel(CancelReason reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (reason_ == CancelReason::kNone) reason_ = reason;
    cv_.notify_all();
  }
  // Sleeps up to `d`. Returns true if the full time passed, false if cancelled.
  bool SleepFor(Millis d) const {
    std::unique_lock<std::mutex> lock(mu_);
    return !cv_.wait_for(lock, d, [&] { return reason_ != CancelReason::kNone; });
  }

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  CancelReason reason_ = CancelReason::kNone;
};

}  // namespace cueball::engine
