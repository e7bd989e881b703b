// WaitFor: polls a condition until it holds or a generous deadline passes.
// Tests wait on conditions, never on fixed sleeps.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace cueball::testing {

inline bool WaitFor(const std::function<bool()>& cond,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace cueball::testing
