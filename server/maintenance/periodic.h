// Periodic: calls a function every interval on its own thread until Stopped.
// The one loop behind the maintenance services (rescuer, node heartbeat,
// retention). Stop wakes the thread at once and joins it.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "server/domain/run.h"

namespace cueball::maintenance {

class Periodic {
 public:
  Periodic() = default;
  ~Periodic() { Stop(); }
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  // First call after `interval`, then every `interval`.
  void Start(Millis interval, std::function<void()> tick) {
    thread_ = std::thread([this, interval, tick = std::move(tick)] {
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mu_);
          if (cv_.wait_for(lock, interval, [&] { return stop_; })) return;
        }
        tick();
      }
    });
  }

  // Joins the thread. True on the first call only (later calls do nothing).
  bool Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return false;
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    return true;
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace cueball::maintenance
