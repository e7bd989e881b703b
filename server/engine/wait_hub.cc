#include "server/engine/wait_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/logging/logging.h"

namespace cueball::engine {
namespace {
using SteadyClock = std::chrono::steady_clock;
}  // namespace

WaitHub::WaitHub(store::RunStore* store, Millis recheck_interval)
    : store_(store), recheck_interval_(recheck_interval) {}

WaitHub::~WaitHub() { Stop(); }

void WaitHub::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void WaitHub::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

size_t WaitHub::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiters_.size();
}

uint64_t WaitHub::Wait(std::vector<std::string> ids, bool any, Millis timeout, Done done) {
  auto w = std::make_shared<Waiter>();
  std::set<std::string> seen;
  for (auto& id : ids) {
    if (seen.insert(id).second) w->ids.push_back(id);
  }
  w->remaining = seen;
  w->any = any;
  w->deadline = SteadyClock::now() + timeout;
  w->done = std::move(done);
  std::unique_lock<std::mutex> lock(mu_);
  if (stop_) {
    lock.unlock();
    w->done(Unavailable("daemon is shutting down"));
    return 0;
  }
  w->handle = next_handle_++;
  waiters_[w->handle] = w;
  // Indexed before the first read, so a finish between that read and now is not missed.
  for (const auto& id : w->ids) by_run_[id].insert(w->handle);
  fresh_.push_back(w->handle);
  cv_.notify_all();
  return w->handle;
}

void WaitHub::Abort(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = waiters_.find(handle);
  if (it == waiters_.end()) return;
  it->second->aborted = true;
  ready_.insert(handle);
  cv_.notify_all();
}

void WaitHub::MarkFinished(const std::string& id) {
  auto it = by_run_.find(id);
  if (it == by_run_.end()) return;
  for (uint64_t h : it->second) {
    auto w = waiters_.find(h);
    if (w == waiters_.end()) continue;
    w->second->remaining.erase(id);
    if (w->second->registered && Satisfied(*w->second)) ready_.insert(h);
  }
}

void WaitHub::NotifyFinished(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!by_run_.count(run_id)) return;
  if (coming_.count(run_id)) {
    // Its row is on its way from the record (committed, so notified, before
    // the recorder has it back): taken from there, not read.
    notified_coming_.insert(run_id);
    return;
  }
  MarkFinished(run_id);
  if (!ready_.empty()) cv_.notify_all();
}

std::vector<bool> WaitHub::Want(const std::vector<std::string_view>& run_ids) {
  std::vector<bool> want(run_ids.size(), false);
  std::lock_guard<std::mutex> lock(mu_);
  if (by_run_.empty() || stop_) return want;
  for (size_t i = 0; i < run_ids.size(); ++i) {
    if (by_run_.find(run_ids[i]) == by_run_.end()) continue;
    want[i] = true;
    ++coming_[std::string(run_ids[i])];
  }
  return want;
}

void WaitHub::Delivered(const std::vector<std::string>& wanted, std::vector<Run> runs) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& r : runs) {
    // (A run whose waiters have all gone meanwhile is not kept.)
    if (!IsTerminal(r.status) || !by_run_.count(r.id)) continue;
    const std::string id = r.id;
    delivered_.insert_or_assign(id, std::move(r));
    MarkFinished(id);
  }
  for (const auto& id : wanted) {
    auto it = coming_.find(id);
    if (it == coming_.end() || --it->second > 0) continue;
    coming_.erase(it);
    // Not delivered (the record failed, or refused a late outcome) but
    // finished elsewhere: read as any notified run.
    if (notified_coming_.erase(id)) MarkFinished(id);
  }
  if (!ready_.empty()) cv_.notify_all();
}

void WaitHub::Resync() {
  std::lock_guard<std::mutex> lock(mu_);
  resync_ = true;
  cv_.notify_all();
}

void WaitHub::Loop() {
  auto log = spdlog::get("engine");
  auto next_recheck = SteadyClock::now() + recheck_interval_;
  while (true) {
    std::vector<std::shared_ptr<Waiter>> fresh, finishing;
    std::vector<std::shared_ptr<Waiter>> pending_all;  // this pass's slice of the re-check
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = next_recheck;
      for (const auto& [h, w] : waiters_) wake = std::min(wake, w->deadline);
      cv_.wait_until(lock, wake, [&] {
        return stop_ || resync_ || !fresh_.empty() || !ready_.empty() || !recheck_.empty() ||
               SteadyClock::now() >= wake;
      });
      if (stop_) {
        auto left = std::move(waiters_);
        waiters_.clear();
        by_run_.clear();
        lock.unlock();
        for (auto& [h, w] : left) w->done(Unavailable("daemon is shutting down"));
        return;
      }
      auto now = SteadyClock::now();
      for (auto& [h, w] : waiters_) {
        if (w->registered && now >= w->deadline) ready_.insert(h);
      }
      for (uint64_t h : fresh_) {
        auto it = waiters_.find(h);
        if (it != waiters_.end() && !ready_.count(h)) fresh.push_back(it->second);
      }
      fresh_.clear();
      if (resync_ || now >= next_recheck) {
        resync_ = false;
        next_recheck = now + recheck_interval_;
        recheck_.clear();
        for (auto& [h, w] : waiters_) {
          if (w->registered) recheck_.push_back(h);
        }
      }
      // The re-check reads a slice of the waiters per pass, so that with
      // thousands pending it never holds up the wake-ups of runs finishing
      // meanwhile for one long read (each pass also answers the waiters
      // that are done).
      size_t ids = 0;
      while (!recheck_.empty() && ids < kRecheckSlice) {
        auto it = waiters_.find(recheck_.front());
        recheck_.pop_front();
        if (it == waiters_.end() || ready_.count(it->first)) continue;
        ids += it->second->ids.size();
        pending_all.push_back(it->second);
      }
    }

    // Finished runs read in this pass: a waiter that ends now answers from
    // them. (Unfinished ones may finish before the reply: those are read again.)
    std::map<std::string, Run> by_id;
    // One read for the initial check of new waiters and the periodic re-check.
    std::vector<std::shared_ptr<Waiter>> to_check = fresh;
    to_check.insert(to_check.end(), pending_all.begin(), pending_all.end());
    if (!to_check.empty()) {
      std::set<std::string> ids;
      for (auto& w : to_check) ids.insert(w->ids.begin(), w->ids.end());
      auto runs = store_->GetMany(std::vector<std::string>(ids.begin(), ids.end()));
      std::lock_guard<std::mutex> lock(mu_);
      if (!runs.ok()) {
        // Fresh waiters cannot be answered; pending ones keep waiting for the next check.
        for (auto& w : fresh) {
          w->error = runs.status();
          ready_.insert(w->handle);
        }
        if (log) logging::Warn(log, "wait check failed", {{"error", runs.status().message()}});
      } else {
        std::set<std::string> found;
        for (auto& r : *runs) {
          found.insert(r.id);
          if (!IsTerminal(r.status)) continue;
          MarkFinished(r.id);
          by_id.emplace(r.id, std::move(r));  // finished: the reply can use it
        }
        for (auto& w : fresh) {
          w->registered = true;
          for (const auto& id : w->ids) {
            if (!found.count(id)) {
              w->error = NotFound("ids: no run with id " + id);
              break;
            }
          }
          if (!w->error.ok() || Satisfied(*w) || SteadyClock::now() >= w->deadline) {
            ready_.insert(w->handle);
          }
        }
      }
    }

    {
      std::lock_guard<std::mutex> lock(mu_);
      // Runs delivered by the record answer from the rows it returned (a
      // run read in this pass is as current).
      for (auto& [id, r] : delivered_) by_id.emplace(id, std::move(r));
      delivered_.clear();
      for (uint64_t h : ready_) {
        auto it = waiters_.find(h);
        if (it == waiters_.end()) continue;
        finishing.push_back(it->second);
        for (const auto& id : it->second->ids) {
          auto b = by_run_.find(id);
          if (b == by_run_.end()) continue;
          b->second.erase(h);
          if (b->second.empty()) by_run_.erase(b);
        }
        waiters_.erase(it);
      }
      ready_.clear();
    }
    if (finishing.empty()) continue;

    // One read for every waiter that ends now, so each reply shows current
    // runs; runs just read for the check above are not read again (a Wait
    // on finished runs costs one read).
    std::set<std::string> ids;
    for (auto& w : finishing) {
      if (w->aborted || !w->error.ok()) continue;
      for (const auto& id : w->ids) {
        if (!by_id.count(id)) ids.insert(id);
      }
    }
    Status read_status;
    if (!ids.empty()) {
      auto runs = store_->GetMany(std::vector<std::string>(ids.begin(), ids.end()));
      if (runs.ok()) {
        for (auto& r : *runs) by_id.emplace(r.id, std::move(r));
      } else {
        read_status = runs.status();
      }
    }
    for (auto& w : finishing) {
      if (!w->error.ok()) {
        w->done(w->error);
        continue;
      }
      if (w->aborted) {
        w->done(Status(StatusCode::kCancelled, "wait abandoned by the caller"));
        continue;
      }
      if (!read_status.ok()) {
        w->done(read_status);
        continue;
      }
      WaitResult result;
      int terminal = 0;
      for (const auto& id : w->ids) {
        auto it = by_id.find(id);
        if (it == by_id.end()) continue;
        if (IsTerminal(it->second.status)) ++terminal;
        result.runs.push_back(it->second);
      }
      result.satisfied = w->any ? terminal > 0 : terminal == static_cast<int>(w->ids.size());
      w->done(std::move(result));
    }
  }
}

}  // namespace cueball::engine
