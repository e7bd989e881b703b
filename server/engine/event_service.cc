#include "server/engine/event_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <random>
#include <regex>

#include "server/logging/logging.h"

namespace cueball::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxKinds = 32;

Status ValidateFilters(const WatchSpec& spec, store::EventFilter* filter) {
  if (!spec.run_id.empty()) {
    auto id = RunId::Parse(spec.run_id);
    if (!id) {
      return InvalidArgument("run_id: '" + spec.run_id.substr(0, 64) + "' is not a run id (UUID)");
    }
    filter->run_id = id->str();
  }
  if (!spec.workflow_type.empty()) {
    if (spec.workflow_type.size() > 128) {
      return InvalidArgument("workflow_type: must be at most 128 characters");
    }
    filter->workflow_type = spec.workflow_type;
  }
  if (spec.kinds.size() > kMaxKinds) return InvalidArgument("kinds: at most 32 kinds");
  const auto& known = event_kind::All();
  for (size_t i = 0; i < spec.kinds.size(); ++i) {
    const std::string& k = spec.kinds[i];
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (const auto& n : known) list += (list.empty() ? "" : ", ") + n;
      return InvalidArgument("kinds[" + std::to_string(i) + "]: unknown event kind '" +
                             k.substr(0, 64) + "' (known: " + list + ")");
    }
    filter->kinds.push_back(k);
  }
  return Status::Ok();
}

}  // namespace

Status ValidateSubscriptionName(const std::string& name, const std::string& field) {
  static const std::regex kName(R"([A-Za-z0-9_.:-]{1,200})");
  if (name.empty()) return InvalidArgument(field + ": required");
  if (!std::regex_match(name, kName)) {
    return InvalidArgument(field + ": must be 1-200 characters of A-Z a-z 0-9 _ . : -");
  }
  return Status::Ok();
}

EventService::EventService(store::EventStore* store, EventLimits limits)
    : store_(store), limits_(limits) {}

EventService::~EventService() { Stop(); }

void EventService::Start() {
  sequencer_ = std::thread([this] { SequencerLoop(); });
}

void EventService::CloseStreams() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
  }
  head_cv_.notify_all();
}

void EventService::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    stop_ = true;
  }
  seq_cv_.notify_all();
  head_cv_.notify_all();
  if (sequencer_.joinable()) sequencer_.join();
}

void EventService::Kick() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    kicked_ = true;
  }
  seq_cv_.notify_one();
}

void EventService::OnHead(int64_t head) { Advance(head); }

void EventService::Resync() {
  // The periodic check catches up with the head; a kick makes it happen now.
  Kick();
}

void EventService::Advance(int64_t head) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (head <= head_) return;
    head_ = head;
  }
  head_cv_.notify_all();
}

void EventService::SequencerLoop() {
  auto log = spdlog::get("engine");
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  while (true) {
    bool final_pass = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      Millis wait = limits_.sequence_check;
      if (failures > 0) {
        // Capped exponential backoff with full jitter while the store fails.
        int64_t cap = std::min<int64_t>(5000, 50LL << std::min(failures, 7));
        wait = Millis(std::uniform_int_distribution<int64_t>(cap / 2, cap)(rng));
      }
      if (!stop_) {
        seq_cv_.wait_for(lock, wait, [&] { return stop_ || (kicked_ && failures == 0); });
      }
      // On stop, one last pass numbers what this daemon wrote while draining.
      final_pass = stop_;
      kicked_ = false;
    }
    // Keep numbering while full batches come back.
    while (true) {
      auto r = store_->Sequence(limits_.sequence_batch);
      if (!r.ok()) {
        if (failures++ == 0 && log) {
          logging::Warn(log, "sequencing events failed", {{"error", r.status().message()}});
        }
        break;
      }
      if (failures > 0 && log) logging::Info(log, "sequencing events recovered");
      failures = 0;
      Advance(r->head);
      if (r->sequenced < limits_.sequence_batch) break;
    }
    if (final_pass) return;
  }
}

bool EventService::WaitBeyond(int64_t after, SteadyClock::time_point deadline,
                              const std::function<bool()>& cancelled) {
  std::unique_lock<std::mutex> lock(mu_);
  while (!closing_ && head_ <= after) {
    if (cancelled && cancelled()) return false;
    auto now = SteadyClock::now();
    if (now >= deadline) return false;
    // Short slices so that a client that went away is noticed promptly.
    head_cv_.wait_until(lock, std::min(deadline, now + Millis(250)));
  }
  return !closing_ && head_ > after;
}

Status EventService::Watch(const WatchSpec& spec,
                           const std::function<bool(const WatchBatch&)>& send,
                           const std::function<bool()>& cancelled) {
  store::EventFilter filter;
  Status st = ValidateFilters(spec, &filter);
  if (!st.ok()) return st;
  if (spec.from == WatchSpec::From::kPosition && spec.after < 0) {
    return InvalidArgument("after_position: must not be negative");
  }
  if (spec.from == WatchSpec::From::kSubscription) {
    st = ValidateSubscriptionName(spec.subscription, "subscription");
    if (!st.ok()) return st;
  }
  if (watchers_.fetch_add(1) >= limits_.max_watchers) {
    watchers_.fetch_sub(1);
    return ResourceExhausted("this daemon already serves " + std::to_string(limits_.max_watchers) +
                             " event streams (--max-watchers); retry later or use another daemon");
  }
  struct Release {
    std::atomic<int>* n;
    ~Release() { n->fetch_sub(1); }
  } release{&watchers_};

  auto head = store_->Head();
  if (!head.ok()) return head.status();
  Advance(*head);
  int64_t cursor = 0;
  switch (spec.from) {
    case WatchSpec::From::kBeginning:
      cursor = 0;
      break;
    case WatchSpec::From::kNow:
      cursor = *head;
      break;
    case WatchSpec::From::kPosition:
      if (spec.after > *head) {
        return InvalidArgument("after_position: " + std::to_string(spec.after) +
                               " is beyond the head of the event log (" + std::to_string(*head) +
                               ")");
      }
      cursor = spec.after;
      break;
    case WatchSpec::From::kSubscription: {
      int64_t start = spec.new_subscription_start == WatchSpec::From::kNow ? -1 : 0;
      auto sub = store_->OpenSubscription(spec.subscription, start);
      if (!sub.ok()) return sub.status();
      cursor = sub->position;
      break;
    }
  }

  auto last_sent = SteadyClock::now();
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) {
        return Unavailable("the daemon is shutting down; resume after position " +
                           std::to_string(cursor));
      }
    }
    if (cancelled && cancelled()) return Status::Ok();
    auto page = store_->Read(cursor, filter, limits_.page_size);
    if (!page.ok()) return page.status();
    Advance(page->head);
    bool full = static_cast<int>(page->events.size()) >= limits_.page_size;
    WatchBatch batch;
    batch.through = page->through;
    batch.head = page->head;
    batch.pruned_through = page->pruned_through;
    batch.events = std::move(page->events);
    auto now = SteadyClock::now();
    if (!batch.events.empty() || now - last_sent >= limits_.heartbeat) {
      if (!send(batch)) return Status::Ok();
      last_sent = now;
    }
    cursor = batch.through;
    if (full) continue;
    WaitBeyond(cursor, last_sent + limits_.heartbeat, cancelled);
  }
}

StatusOr<store::Subscription> EventService::Ack(const std::string& name, int64_t position) {
  Status st = ValidateSubscriptionName(name, "subscription");
  if (!st.ok()) return st;
  if (position < 0) return InvalidArgument("position: must not be negative");
  return store_->Ack(name, position);
}

StatusOr<std::vector<store::Subscription>> EventService::ListSubscriptions() {
  return store_->ListSubscriptions();
}

Status EventService::DeleteSubscription(const std::string& name) {
  Status st = ValidateSubscriptionName(name, "name");
  if (!st.ok()) return st;
  return store_->DeleteSubscription(name);
}

StatusOr<int64_t> EventService::Head() {
  auto head = store_->Head();
  if (head.ok()) Advance(*head);
  return head;
}

}  // namespace cueball::engine
