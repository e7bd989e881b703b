#include "server/engine/waker.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/logging/logging.h"

namespace cueball::engine {
namespace {

constexpr int kBatch = 500;

std::shared_ptr<spdlog::logger> Log() {
  auto l = spdlog::get("engine");
  return l ? l : spdlog::default_logger();
}

}  // namespace

Waker::Waker(store::WaitStore* store, Millis sweep_interval)
    : store_(store), sweep_interval_(sweep_interval) {}

Waker::~Waker() { Stop(); }

void Waker::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  stop_ = false;
  if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
}

void Waker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void Waker::OnRunFinished(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: past a batch, a full pass covers them all.
  if (finished_.size() < kBatch) {
    finished_.push_back(run_id);
  } else {
    poked_ = true;
  }
  cv_.notify_one();
}

void Waker::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  cv_.notify_one();
}

int64_t Waker::woken() const {
  std::lock_guard<std::mutex> lock(mu_);
  return woken_;
}

void Waker::Loop() {
  using Clock = std::chrono::steady_clock;
  auto next_sweep = Clock::now();
  // When the soonest timer or timeout is due, as of the last pass (nullopt:
  // none); a pass that was skipped leaves it as it was.
  std::optional<Clock::time_point> next_due_at;
  int failures = 0;
  while (true) {
    std::vector<std::string> finished;
    bool full = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      finished.swap(finished_);
      full = poked_ || Clock::now() >= next_sweep;
      poked_ = false;
    }
    if (full) next_sweep = Clock::now() + sweep_interval_;
    const bool due = next_due_at && Clock::now() >= *next_due_at;
    // Most finished runs have no waiters: then there is nothing to look at
    // until a deadline or the sweep (a cheap read instead of a pass).
    bool pass = full || due;
    if (!pass && !finished.empty()) {
      auto waited = store_->HasWaiters(finished);
      pass = !waited.ok() || *waited;
    }
    Millis backoff = sweep_interval_;
    // A full pass looks at every wait on runs; otherwise only at the waiters
    // of the runs that just finished. Both wake every due timer and timeout.
    std::optional<std::vector<std::string>> only;
    if (!full) only = std::move(finished);
    while (pass) {
      auto res = store_->WakeDue(only, kBatch);
      if (!res.ok()) {
        ++failures;
        backoff = std::min(Millis(5000), Millis(100LL << std::min(failures, 6)));
        logging::Warn(Log(), "waking waits failed",
                      {{"error", res.status().message()}, {"retry_in_ms", backoff.count()}});
        break;
      }
      failures = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        woken_ += res->woken;
      }
      if (res->woken > 0) {
        logging::Debug(Log(), "woke waiting runs", {{"count", res->woken}});
      }
      next_due_at.reset();
      if (res->next_due) next_due_at = Clock::now() + std::max(Millis(1), *res->next_due);
      if (res->woken < kBatch) break;  // else more may be due
    }
    auto now = Clock::now();
    Millis wait = std::min(backoff, std::chrono::duration_cast<Millis>(next_sweep - now));
    if (next_due_at) wait = std::min(wait, std::chrono::duration_cast<Millis>(*next_due_at - now));
    wait = std::max(Millis(1), wait);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return stop_ || poked_ || !finished_.empty(); });
  }
}

}  // namespace cueball::engine
