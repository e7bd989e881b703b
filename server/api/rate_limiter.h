// RateLimiter: a token bucket shared by all RPCs of one daemon. Refills at
// `per_second` tokens a second up to a burst of one second's worth; a call
// that finds no token is answered RESOURCE_EXHAUSTED instead of queueing.
// A rate of 0 means unlimited. Thread-safe.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>

namespace cueball::api {

class RateLimiter {
 public:
  explicit RateLimiter(double per_second)
      : rate_(per_second), burst_(std::max(1.0, per_second)), tokens_(burst_) {}

  bool TryAcquire() {
    if (rate_ <= 0) return true;
    std::lock_guard<std::mutex> lock(mu_);
    auto now = std::chrono::steady_clock::now();
    tokens_ =
        std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
    last_ = now;
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }
  double rate() const { return rate_; }

 private:
  const double rate_;
  const double burst_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

}  // namespace cueball::api
