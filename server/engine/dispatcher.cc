#include "server/engine/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "server/engine/decide.h"
#include "server/logging/logging.h"

namespace cueball::engine {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Stores = Dispatcher::Stores;

std::shared_ptr<spdlog::logger> Log() {
  auto l = spdlog::get("engine");
  return l ? l : spdlog::default_logger();
}

std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

// Capped exponential backoff with full jitter for the dispatcher's own retries
// against the database, so that many daemons do not reconnect in lockstep.
Millis ErrorBackoff(int failures) {
  int64_t cap = std::min<int64_t>(5000, 50LL << std::min(failures, 10));
  return Millis(std::uniform_int_distribution<int64_t>(cap / 10, cap)(Rng()));
}

// The step services of one attempt: every call is fenced by its lease.
class AttemptServices final : public StepServices {
 public:
  AttemptServices(const Stores& stores, const Registry* registry, const DispatcherOptions& opts,
                  const store::ClaimedRun& claimed, std::atomic<bool>& start_written)
      : stores_(stores),
        registry_(registry),
        opts_(opts),
        claimed_(claimed),
        start_written_(start_written) {}

  std::optional<Signal> TakeSignal(const std::string& name) override {
    if (name.empty()) throw StepFailure("TakeSignal: the signal name is empty");
    auto got = stores_.waits->TakeSignal(claimed_.run.id, claimed_.lease_id,
                                         claimed_.run.step_index, name);
    if (!got.ok()) throw StepError("taking signal '" + name + "': " + got.status().message());
    if (!got->has_value()) return std::nullopt;
    const store::StoredSignal& s = **got;
    Json payload;
    try {
      payload = Json::parse(s.payload);
    } catch (const std::exception&) {
      payload = s.payload;
    }
    return Signal{s.seq, s.name, std::move(payload), s.created_at};
  }

  std::string EnqueueChild(const ChildSpec& child) override {
    const WorkflowType* type = registry_->Find(child.workflow_type);
    if (!type) {
      throw StepFailure("child '" + child.key + "': workflow type '" + child.workflow_type +
                        "' is not registered");
    }
    if (child.key.empty() || child.key.size() > 100) {
      throw StepFailure("child key must be 1..100 characters ('" + child.key + "')");
    }
    const Run& parent = claimed_.run;
    store::NewRun r;
    r.id = RunId::NewV7().str();
    r.workflow_type = type->name;
    r.first_step = type->steps.front().name;
    r.queue = child.queue.empty() ? parent.queue : child.queue;
    r.priority = child.priority;
    r.input = child.input.is_null() ? "{}" : child.input.dump();
    // The same key from the same step is the same child, however often the
    // step runs.
    r.idempotency_key = "child:" + parent.id + ":" + parent.step_name + ":" + child.key;
    if (r.idempotency_key->size() > 255) {
      throw StepFailure("child '" + child.key + "': step name and key are too long");
    }
    r.parent_id = parent.id;
    WriteStart();
    auto res = stores_.runs->Enqueue({r});
    if (!res.ok()) {
      if (res.status().code() == StatusCode::kUnavailable) {
        throw StepError("enqueueing child '" + child.key + "': " + res.status().message());
      }
      throw StepFailure("enqueueing child '" + child.key + "': " + res.status().message());
    }
    return (*res)[0].run.id;
  }

  std::vector<Run> GetRuns(const std::vector<std::string>& ids) override {
    auto res = stores_.runs->GetMany(ids);
    if (!res.ok()) throw StepError("reading runs: " + res.status().message());
    std::map<std::string, Run> by_id;
    for (auto& r : *res) by_id.emplace(r.id, std::move(r));
    std::vector<Run> out;
    for (const auto& id : ids) {
      auto it = by_id.find(id);
      if (it != by_id.end()) out.push_back(it->second);
    }
    return out;
  }

  void SaveBlob(const std::string& name, const std::string& data,
                const std::string& content_type) override {
    if (!opts_.blobs) throw StepFailure("blobs are not available in this daemon");
    std::string bad = BadBlobName(name);
    if (!bad.empty()) throw StepFailure(bad);
    if (static_cast<int64_t>(data.size()) > opts_.max_blob_bytes) {
      throw StepFailure("blob '" + name + "' is " + std::to_string(data.size()) +
                        " bytes; the limit is " + std::to_string(opts_.max_blob_bytes) +
                        " (--max-blob-bytes)");
    }
    if (content_type.empty() || content_type.size() > 255) {
      throw StepFailure("blob '" + name + "': content type must be 1..255 characters");
    }
    WriteStart();
    auto res = opts_.blobs->PutBlob(claimed_.run.id, claimed_.lease_id, name, content_type, data);
    if (!res.ok()) throw StepError("saving blob '" + name + "': " + res.status().message());
  }

  std::optional<Blob> LoadBlob(const std::string& name) override {
    if (!opts_.blobs) throw StepFailure("blobs are not available in this daemon");
    auto res = opts_.blobs->GetBlob(claimed_.run.id, name);
    if (!res.ok()) {
      if (res.status().code() == StatusCode::kNotFound) return std::nullopt;
      throw StepError("loading blob '" + name + "': " + res.status().message());
    }
    return Blob{res->info.name, res->info.content_type, std::move(res->data), res->info.updated_at};
  }

 private:
  // A step's own events (child_enqueued, blob_saved) come after its
  // step_started in the run's history, so a start not written yet is
  // written first (migration 0010).
  void WriteStart() {
    if (start_written_) return;
    Status st = stores_.dispatch->RecordStarts({{claimed_.run.id, claimed_.lease_id}});
    if (!st.ok()) throw StepError("writing the step's start: " + st.message());
    start_written_ = true;
  }

  const Stores& stores_;
  const Registry* registry_;
  const DispatcherOptions& opts_;
  const store::ClaimedRun& claimed_;
  std::atomic<bool>& start_written_;
};

// The wait a run woke from ({} when it did not wait).
Json WokenWait(const Run& run) {
  if (!run.wait) return Json::object();
  try {
    Json w = Json::parse(*run.wait);
    return w.is_object() ? w : Json::object();
  } catch (const std::exception&) {
    return Json::object();
  }
}

}  // namespace

Dispatcher::Dispatcher(Stores stores, const Registry* registry, DispatcherOptions options)
    : stores_(stores),
      store_(stores.dispatch),
      registry_(registry),
      opts_(std::move(options)),
      types_(registry->Names()) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  for (int i = 0; i < opts_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  for (int i = 0; i < std::max(1, opts_.recorders); ++i) {
    completers_.emplace_back([this] { CompleterLoop(); });
  }
  watchdog_ = std::thread([this] { WatchdogLoop(); });
  claimer_ = std::thread([this] { ClaimLoop(); });
}

void Dispatcher::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  more_ready_ = true;
  claim_cv_.notify_one();
}

void Dispatcher::OnRunFinished(const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = running_.find(run_id);
  if (it != running_.end()) it->second->cancel.Cancel(CancelReason::kRunCanceled);
}

int Dispatcher::in_flight() const {
  std::lock_guard<std::mutex> lock(mu_);
  return Held();
}

void Dispatcher::ClaimLoop() {
  int failures = 0;
  while (true) {
    int free = 0;
    int capacity = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      capacity = Capacity();
      free = capacity - Held();
      poked_ = false;
    }
    // While steps are running and only a few slots are free, wait briefly for
    // more to free up, so that claims come in batches rather than one run per
    // statement. With nothing running the claim goes out at once (latency).
    if (free > 0 && free < ClaimBatchThreshold(capacity)) {
      std::unique_lock<std::mutex> lock(mu_);
      claim_cv_.wait_for(lock, opts_.claim_coalesce, [&] {
        return stopping_ || Capacity() - Held() >= ClaimBatchThreshold(Capacity());
      });
      if (stopping_) return;
      free = Capacity() - Held();
      poked_ = false;
    }
    Millis wait = opts_.poll_interval;
    if (free > 0) {
      const int want = std::min(free, opts_.claim_batch);
      {
        std::lock_guard<std::mutex> lock(mu_);
        more_ready_ = false;  // a poke from now on sets it again
      }
      std::optional<Millis> next_due;  // set when the claim comes back short
      auto claimed = store_->Claim(opts_.owner, opts_.queues, types_, want, opts_.lease, &next_due);
      if (!claimed.ok()) {
        ++failures;
        wait = ErrorBackoff(failures);
        logging::Warn(Log(), "claim failed",
                      {{"error", claimed.status().message()}, {"retry_in_ms", wait.count()}});
      } else {
        if (failures > 0) logging::Info(Log(), "claim recovered");
        failures = 0;
        const bool full = static_cast<int>(claimed->size()) == want;
        caught_up_ = !full;
        std::vector<std::shared_ptr<Attempt>> attempts;
        attempts.reserve(claimed->size());
        for (auto& c : *claimed) attempts.push_back(NewAttempt(std::move(c)));
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (full) more_ready_ = true;
          AddReady(std::move(attempts), /*front=*/false);
        }
        if (full) continue;  // there may be more
        // The claim took every run that was ready. New ones announce
        // themselves (a notification, or a poke from this daemon's
        // completions); runs due later wake this loop when they are due.
        // Finished steps do not claim again on their own (an empty claim per
        // run when runs trickle in). The claim said when the next run is due
        // (a separate probe walked the claimed runs' dead index entries
        // again: docs/performance.md, "The claim says when to look again").
        if (next_due) {
          // At least 5 ms, so that a run due "now" that another daemon holds
          // locked does not make this loop spin.
          wait = std::clamp(*next_due, Millis(5), opts_.poll_interval);
        }
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    claim_cv_.wait_for(lock, wait, [&] { return poked_ || stopping_; });
  }
}

void Dispatcher::WorkerLoop() {
  std::shared_ptr<Attempt> a;
  while (true) {
    if (!a) {
      std::unique_lock<std::mutex> lock(mu_);
      work_cv_.wait(lock, [&] { return workers_exit_ || !ready_.empty(); });
      if (ready_.empty()) return;
      a = std::move(ready_.front());
      ready_.pop_front();
    }
    const auto step_ms = Execute(a);
    // Frees the slot and takes the next ready run under one lock, so a
    // worker going from one short step to the next takes the lock once.
    a = Finish(*a, step_ms, /*take_next=*/true);
  }
}

std::optional<double> Dispatcher::Execute(const std::shared_ptr<Attempt>& a) {
  const Run& run = a->claimed.run;
  const WorkflowType* type = registry_->Find(run.workflow_type);
  if (!type) {  // cannot happen: claims are filtered by registered type
    logging::Error(Log(), "claimed run of unknown type",
                   {{"run", run.id}, {"type", run.workflow_type}});
    return std::nullopt;
  }
  Json input, state;
  std::optional<StepResult> result;
  try {
    input = Json::parse(run.input);
    state = Json::parse(run.state);
  } catch (const std::exception& e) {
    result = StepResult::Fail(std::string("stored input or state is not valid JSON: ") + e.what());
  }
  const StepDef* step = run.step_index < static_cast<int>(type->steps.size())
                            ? &type->steps[run.step_index]
                            : nullptr;
  const auto step_started = std::chrono::steady_clock::now();
  a->began_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(step_started.time_since_epoch()).count();
  if (!result && a->cancel.reason() == CancelReason::kShutdown) {
    // Claimed but not started before the daemon stopped: release it without
    // running the handler.
    result = StepResult::Release("daemon shutting down");
  } else if (!result && a->hand_back) {
    result = StepResult::Release("claimed ahead while steps were fast; handed back unstarted");
  }
  if (!result && step) {
    result = RunStep(a, *step, input, state);
    switch (a->cancel.reason()) {
      case CancelReason::kNone:
        break;
      case CancelReason::kTimeout:
        result = StepResult::Retry("step '" + step->name + "' timed out after " +
                                   std::to_string(step->timeout.count()) + " ms");
        break;
      case CancelReason::kShutdown:
        result = StepResult::Release("daemon shutting down");
        break;
      case CancelReason::kRunCanceled:
      case CancelReason::kLeaseLost:
        // The run is terminal or belongs to another attempt now; the store
        // would refuse any outcome from this one.
        logging::Info(Log(), "step stopped",
                      {{"run", run.id},
                       {"step", run.step_name},
                       {"reason", a->cancel.reason() == CancelReason::kLeaseLost ? "lease_lost"
                                                                                 : "run_ended"}});
        return std::nullopt;
    }
  }
  if (!result) result = StepResult::Fail("step index out of range");
  store::Outcome outcome = Decide(run, a->claimed.lease_id, *type, *result, state, Now(), Rng());
  if (result->kind() == StepResult::Kind::kNext && outcome.status == RunStatus::kEnqueued &&
      steps_fast_.load(std::memory_order_relaxed) && !stopping_.load(std::memory_order_relaxed)) {
    // The next step is ready now and steps are fast: it stays here and runs
    // as soon as the record says so, without a claim of its own. (With slow
    // steps it goes through the queue, where runs of a higher priority go
    // first: a run that kept its slot for all its slow steps could hold one
    // up for as long as they take. With fast steps the daemon holds runs
    // claimed ahead anyway (Capacity()), and a run's next step would only
    // wait behind them.)
    outcome.continue_lease = opts_.lease;
    a->continues = true;
  }
  logging::Debug(Log(), "step finished",
                 {{"run", run.id},
                  {"type", run.workflow_type},
                  {"step", run.step_name},
                  {"attempt", run.attempt},
                  {"outcome", result->kind_name()},
                  {"run_status", RunStatusName(outcome.status)}});
  if (opts_.metrics) {
    opts_.metrics->StepFinished(
        run.workflow_type, run.step_name, result->kind_name(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started).count());
    if (result->kind() == StepResult::Kind::kRetry && outcome.status == RunStatus::kEnqueued) {
      opts_.metrics->StepRetried(run.workflow_type, run.step_name);
    }
  }
  PushOutcome(std::move(outcome), a);
  // A released run's handler did not run: no step time to learn from.
  if (result->kind() == StepResult::Kind::kRelease) return std::nullopt;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_started)
      .count();
}

StepResult Dispatcher::RunStep(const std::shared_ptr<Attempt>& a, const StepDef& step,
                               const Json& input, Json& state) {
  const Run& run = a->claimed.run;
  const Json wait = WokenWait(run);
  const std::string woke = wait.value("woke", "");
  // A timer that fired ends its step as the step said when it went to
  // sleep; a wait that timed out is a failed attempt. The handler does not
  // run for either.
  if (woke == "timer") return StepResult::Next(wait.value("result", Json()));
  if (woke == "timeout") {
    std::string what = wait.value("for", "") == "signal"
                           ? "signal '" + wait.value("signal", "") + "'"
                           : std::string("the runs it waits for");
    return StepResult::Retry("step '" + step.name + "' timed out waiting for " + what);
  }
  AttemptServices services(stores_, registry_, opts_, a->claimed, a->start_written);
  StepContext ctx{run.id, run.workflow_type, run.step_name, run.attempt, input,
                  state,  a->cancel,         &services,     woke,        &run.queue};
  StepResult result = StepResult::Fail("unreachable");
  try {
    result = step.handler(ctx);
  } catch (const StepFailure& e) {
    return StepResult::Fail(e.what());
  } catch (const std::exception& e) {
    return StepResult::Retry(std::string("step threw: ") + e.what());
  } catch (...) {
    return StepResult::Retry("step threw a non-standard exception");
  }
  if (result.kind() == StepResult::Kind::kWaitRuns) {
    // Waiting on runs that do not exist would never end: say which.
    for (const auto& id : result.runs()) {
      if (!RunId::Parse(id)) return StepResult::Fail("WaitForRuns: '" + id + "' is not a run id");
      if (id == run.id) return StepResult::Fail("WaitForRuns: a run cannot wait for itself");
    }
    auto found = stores_.runs->GetMany(result.runs());
    if (!found.ok()) return StepResult::Retry("WaitForRuns: " + found.status().message());
    std::set<std::string> have;
    for (const auto& r : *found) have.insert(r.id);
    for (const auto& id : result.runs()) {
      if (!have.count(id)) return StepResult::Fail("WaitForRuns: no run with id " + id);
    }
  }
  return result;
}

int Dispatcher::Capacity() const {
  // Claim ahead (up to kClaimAheadFactor - 1 more batches of `workers` runs
  // waiting for a thread) only while steps finish in a few milliseconds: then
  // the next claims' round trips overlap the current batches instead of
  // leaving the workers idle, and claims come in larger batches. With slower
  // steps, runs claimed ahead would only wait here while another daemon
  // might have run them, so they are handed back (Finish). (Measured:
  // docs/performance.md; two batches drained 12.5k no-op runs/s, four 16k,
  // sixteen 22.5-23.2k.)
  return steps_fast_ ? kClaimAheadFactor * opts_.workers : opts_.workers;
}

std::shared_ptr<Dispatcher::Attempt> Dispatcher::Finish(const Attempt& attempt,
                                                        std::optional<double> step_ms,
                                                        bool take_next) {
  std::lock_guard<std::mutex> lock(mu_);
  if (step_ms) {
    step_ewma_ms_ += 0.05 * (*step_ms - step_ewma_ms_);
    steps_fast_.store(step_ewma_ms_ < kClaimAheadBelowMs, std::memory_order_relaxed);
  }
  // The run's next step may be here already (its record came first).
  auto it = running_.find(attempt.claimed.run.id);
  if (it != running_.end() && it->second.get() == &attempt) running_.erase(it);
  if (attempt.continues) ++continuing_;
  // Steps turned slow while runs were claimed ahead: the newest ones beyond
  // capacity go back to the queue unstarted (released, first in line for a
  // worker), so they wait for a worker here no longer than one slow step.
  // (The count of runs already handed back is needed only past capacity, so
  // a step finishing while steps are fast does not walk the ready queue.)
  int excess = Held() - Capacity();
  if (excess > 0) {
    for (const auto& a : ready_) excess -= a->hand_back ? 1 : 0;
  }
  if (excess > 0) {
    for (auto it = ready_.rbegin(); it != ready_.rend() && excess > 0; ++it) {
      if ((*it)->hand_back) continue;
      (*it)->hand_back = true;
      --excess;
    }
    std::stable_partition(ready_.begin(), ready_.end(),
                          [](const std::shared_ptr<Attempt>& a) { return a->hand_back.load(); });
    work_cv_.notify_all();
  }
  // A freed slot claims only if ready runs may be waiting for one. The claim
  // loop is woken when that first becomes true, or when enough slots are
  // free for the batch it may be waiting for (ClaimLoop): not once per
  // finished step, which woke it thousands of times a second for nothing.
  bool wake_claimer = false;
  if (more_ready_ && !poked_) {
    poked_ = true;
    wake_claimer = true;
  }
  const int capacity = Capacity();
  if (capacity - Held() >= ClaimBatchThreshold(capacity)) wake_claimer = true;
  if (wake_claimer) claim_cv_.notify_one();
  if (Held() == 0) idle_cv_.notify_all();
  std::shared_ptr<Attempt> next;
  if (take_next && !ready_.empty()) {
    next = std::move(ready_.front());
    ready_.pop_front();
  }
  return next;
}

std::shared_ptr<Dispatcher::Attempt> Dispatcher::NewAttempt(store::ClaimedRun claimed) const {
  auto a = std::make_shared<Attempt>();
  const WorkflowType* t = registry_->Find(claimed.run.workflow_type);
  Millis timeout = Millis(30000);
  if (t && claimed.run.step_index < static_cast<int>(t->steps.size())) {
    timeout = t->steps[claimed.run.step_index].timeout;
  }
  a->deadline = SteadyClock::now() + timeout;
  a->claimed = std::move(claimed);
  return a;
}

void Dispatcher::AddReady(std::vector<std::shared_ptr<Attempt>> attempts, bool front) {
  for (auto& a : attempts) running_[a->claimed.run.id] = a;
  ready_.insert(front ? ready_.begin() : ready_.end(), attempts.begin(), attempts.end());
  // One idle worker per run (a worker that finishes a step takes the next
  // one itself); all of them for a batch as large.
  if (attempts.size() >= workers_.size()) {
    work_cv_.notify_all();
  } else {
    for (size_t i = 0; i < attempts.size(); ++i) work_cv_.notify_one();
  }
}

void Dispatcher::SettleContinuations(const std::vector<store::Outcome>& outcomes,
                                     const std::vector<std::shared_ptr<Attempt>>& attempts,
                                     size_t count,
                                     const std::vector<std::optional<store::NextAttempt>>& next) {
  std::vector<std::shared_ptr<Attempt>> stayed;
  int settled = 0;
  for (size_t i = 0; i < count; ++i) {
    if (!attempts[i]->continues) continue;
    ++settled;
    if (i >= next.size() || !next[i]) continue;  // went through the queue, or refused
    const store::Outcome& o = outcomes[i];
    const store::NextAttempt& n = *next[i];
    store::ClaimedRun c;
    c.run = attempts[i]->claimed.run;
    c.run.status = RunStatus::kRunning;
    c.run.step_index = o.step_index;
    c.run.step_name = o.step_name;
    c.run.attempt = o.attempt + 1;
    if (o.state) c.run.state = *o.state;
    c.run.run_at = n.claimed_at;
    c.run.updated_at = n.claimed_at;
    c.run.wait.reset();
    c.lease_id = n.lease_id;
    c.lease_expires_at = n.lease_expires_at;
    c.lease_owner = attempts[i]->claimed.lease_owner;
    stayed.push_back(NewAttempt(std::move(c)));
  }
  if (settled == 0) return;
  if (opts_.metrics && !stayed.empty())
    opts_.metrics->StepsContinued(static_cast<int>(stayed.size()));
  std::lock_guard<std::mutex> lock(mu_);
  continuing_ -= settled;
  // The daemon is stopping: a next step that stayed here is released
  // unstarted, for any daemon to claim (a step whose outcome was decided
  // before Stop).
  if (stopping_) {
    for (auto& a : stayed) a->cancel.Cancel(CancelReason::kShutdown);
  }
  // A run's next step goes ahead of runs claimed after it.
  AddReady(std::move(stayed), /*front=*/true);
  if (Held() == 0) idle_cv_.notify_all();
}

void Dispatcher::PushOutcome(store::Outcome outcome, std::shared_ptr<Attempt> attempt) {
  WithStart(outcome, *attempt);
  std::lock_guard<std::mutex> lock(out_mu_);
  outcomes_.push_back(std::move(outcome));
  outcome_attempts_.push_back(std::move(attempt));
  ++unrecorded_;
  out_cv_.notify_one();
}

void Dispatcher::WithStart(store::Outcome& outcome, const Attempt& attempt) {
  // The store writes it only if it was not written while the step ran; the
  // flag only spares the parameter.
  if (!attempt.start_written) outcome.start = attempt.claimed.start();
}

namespace {

// Errors that say nothing about the outcomes themselves: the same batch is
// tried again as it is.
bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kAborted ||
         s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

Status Dispatcher::RecordOneByOne(std::vector<store::Outcome>& batch,
                                  const std::vector<std::shared_ptr<Attempt>>& attempts,
                                  std::vector<bool>* accepted) {
  accepted->clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    auto one = store_->RecordOutcomes({batch[i]});
    if (!one.ok() && !Transient(one.status())) {
      // The database refuses this outcome itself (a value past one of its
      // limits, say). Retrying cannot help, and a run whose outcome can
      // never be recorded would be rescued and refused again forever: the
      // run fails, saying why.
      const Run& run = attempts[i]->claimed.run;
      std::string why = one.status().message();
      if (why.size() > 1000) why.resize(1000);
      logging::Error(Log(), "outcome refused by the database; the run fails",
                     {{"run", run.id}, {"step", run.step_name}, {"error", why}});
      const WorkflowType* type = registry_->Find(run.workflow_type);
      if (!type) return one.status();  // cannot happen: claims are filtered by registered type
      batch[i] = Decide(run, attempts[i]->claimed.lease_id, *type,
                        StepResult::Fail("the step's outcome could not be recorded: " + why),
                        Json::object(), Now(), Rng());
      WithStart(batch[i], *attempts[i]);
      one = store_->RecordOutcomes({batch[i]});
    }
    if (!one.ok()) return one.status();
    accepted->push_back((*one)[0]);
  }
  return Status::Ok();
}

void Dispatcher::CompleterLoop() {
  int failures = 0;
  while (true) {
    std::vector<store::Outcome> batch;
    std::vector<std::shared_ptr<Attempt>> attempts;
    {
      std::unique_lock<std::mutex> lock(out_mu_);
      out_cv_.wait(lock, [&] { return completer_exit_ || !outcomes_.empty(); });
      if (outcomes_.empty()) return;
      while (!outcomes_.empty() && static_cast<int>(batch.size()) < opts_.complete_batch) {
        batch.push_back(std::move(outcomes_.front()));
        outcomes_.pop_front();
        attempts.push_back(std::move(outcome_attempts_.front()));
        outcome_attempts_.pop_front();
      }
    }
    const size_t taken = batch.size();
    const bool any_waiting = std::any_of(batch.begin(), batch.end(), [](const store::Outcome& o) {
      return o.status == RunStatus::kWaiting;
    });
    // Runs with a next step to claim (not one that stays here).
    bool any_ready = false;
    while (!batch.empty()) {
      std::vector<bool> accepted;
      store::Recorded recorded;
      const auto& next = recorded.next;
      Status st;
      // Runs finishing now that are waited on here come back from the record.
      std::vector<std::string> wanted;
      if (opts_.finished_runs) {
        std::vector<std::string_view> finishing;  // no copies: most have no waiter
        for (const auto& o : batch) {
          if (IsTerminal(o.status)) finishing.push_back(o.run_id);
        }
        if (!finishing.empty()) {
          std::vector<bool> want = opts_.finished_runs->Want(finishing);
          for (size_t i = 0, k = 0; i < batch.size(); ++i) {
            if (!IsTerminal(batch[i].status)) continue;
            batch[i].return_run = want[k++];
            if (batch[i].return_run) wanted.push_back(batch[i].run_id);
          }
        }
      }
      auto all = store_->RecordOutcomes(batch, &recorded);
      if (!wanted.empty()) opts_.finished_runs->Delivered(wanted, std::move(recorded.runs));
      if (all.ok()) {
        accepted = std::move(*all);
      } else if (Transient(all.status())) {
        st = all.status();
      } else {
        // Something in the batch is refused, and would be on every retry of
        // the whole batch, holding up every other outcome behind it: record
        // them one by one.
        logging::Warn(Log(), "record outcomes refused, recording them one by one",
                      {{"count", batch.size()}, {"error", all.status().message()}});
        st = RecordOneByOne(batch, attempts, &accepted);
      }
      // The first accepted.size() outcomes are recorded (or refused as late).
      // One metrics update per type and status, not per run (each looks its
      // labels up under the family's lock).
      std::map<std::pair<std::string, RunStatus>, int> finished;
      for (size_t i = 0; i < accepted.size(); ++i) {
        if (accepted[i]) {
          if (!IsTerminal(batch[i].status) && (i >= next.size() || !next[i])) any_ready = true;
          if (opts_.metrics && IsTerminal(batch[i].status)) {
            ++finished[{attempts[i]->claimed.run.workflow_type, batch[i].status}];
          }
          continue;
        }
        logging::Warn(Log(), "late completion refused",
                      {{"run", batch[i].run_id},
                       {"step", batch[i].step_name},
                       {"attempt", batch[i].attempt},
                       {"lease", batch[i].lease_id}});
      }
      for (const auto& [key, n] : finished) {
        opts_.metrics->RunFinished(key.first, RunStatusName(key.second), n);
      }
      SettleContinuations(batch, attempts, accepted.size(), next);
      batch.erase(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(accepted.size()));
      attempts.erase(attempts.begin(), attempts.begin() + static_cast<ptrdiff_t>(accepted.size()));
      if (st.ok()) {
        failures = 0;
        continue;  // all recorded: batch is empty
      }
      ++failures;
      bool exiting;
      {
        std::lock_guard<std::mutex> lock(out_mu_);
        exiting = completer_exit_;
      }
      if (exiting && failures >= 5) {
        logging::Error(Log(),
                       "giving up recording outcomes; their leases will expire and the runs "
                       "will be rescued",
                       {{"count", batch.size()}, {"error", st.message()}});
        SettleContinuations(batch, attempts, batch.size(), {});
        break;
      }
      Millis wait = ErrorBackoff(failures);
      logging::Warn(Log(), "record outcomes failed",
                    {{"error", st.message()}, {"retry_in_ms", wait.count()}});
      std::this_thread::sleep_for(wait);
    }
    {
      std::lock_guard<std::mutex> lock(out_mu_);
      unrecorded_ -= static_cast<int>(taken);
    }
    if (opts_.on_waits_recorded && any_waiting) opts_.on_waits_recorded();
    // Next steps and retries just became ready (or due later: the claim
    // loop then learns when). Only finished runs: nothing new to claim.
    if (any_ready) Poke();
  }
}

void Dispatcher::WriteStarts(const std::vector<std::shared_ptr<Attempt>>& attempts) {
  if (attempts.empty()) return;
  std::vector<store::AttemptRef> refs;
  refs.reserve(attempts.size());
  for (const auto& a : attempts) refs.push_back({a->claimed.run.id, a->claimed.lease_id});
  Status st = store_->RecordStarts(refs);
  if (!st.ok()) {  // tried again on the next tick; the outcome brings it otherwise
    logging::Warn(Log(), "writing step starts failed",
                  {{"count", refs.size()}, {"error", st.message()}});
    return;
  }
  for (const auto& a : attempts) a->start_written = true;
}

void Dispatcher::WatchdogLoop() {
  const Millis heartbeat_every = std::max(Millis(100), opts_.lease / 3);
  auto next_heartbeat = SteadyClock::now() + heartbeat_every;
  while (!watchdog_exit_) {
    std::this_thread::sleep_for(Millis(50));
    auto now = SteadyClock::now();
    std::vector<store::AttemptRef> leases;
    std::vector<std::shared_ptr<Attempt>> long_steps;  // whose start to write now
    const int64_t began_by = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 (now - kStartWrittenAfter).time_since_epoch())
                                 .count();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, a] : running_) {
        if (now >= a->deadline && !a->cancel.cancelled()) a->cancel.Cancel(CancelReason::kTimeout);
        if (now >= next_heartbeat) leases.push_back({id, a->claimed.lease_id});
        const int64_t began = a->began_ns;
        if (began != 0 && began <= began_by && !a->start_written) long_steps.push_back(a);
      }
    }
    WriteStarts(long_steps);
    if (now < next_heartbeat) continue;
    next_heartbeat = now + heartbeat_every;
    if (leases.empty()) continue;
    // Heartbeat: keep the leases of steps still running here, so a long step
    // is never rescued while its daemon is alive.
    auto lost = store_->ExtendLeases(leases, opts_.lease);
    if (!lost.ok()) {
      logging::Warn(Log(), "lease heartbeat failed",
                    {{"count", leases.size()}, {"error", lost.status().message()}});
      continue;
    }
    if (lost->empty()) continue;
    std::map<std::string, std::string> sent;  // run id -> the lease it was extended under
    for (auto& l : leases) sent.emplace(std::move(l.run_id), std::move(l.lease_id));
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : *lost) {
      auto it = running_.find(id);
      // Only the attempt whose lease was lost (the run's next step may be
      // here by now, under a lease of its own).
      if (it == running_.end() || it->second->claimed.lease_id != sent[id]) continue;
      logging::Warn(Log(), "lease lost, stopping the step",
                    {{"run", id}, {"step", it->second->claimed.run.step_name}});
      it->second->cancel.Cancel(CancelReason::kLeaseLost);
    }
  }
}

void Dispatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !claimer_.joinable()) return;
    stopping_ = true;
    claim_cv_.notify_all();
  }
  if (claimer_.joinable()) claimer_.join();
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!idle_cv_.wait_for(lock, opts_.drain_timeout, [&] { return Held() == 0; })) {
      logging::Info(Log(), "drain timeout passed; releasing in-flight steps",
                    {{"count", running_.size()}});
      for (auto& [id, a] : running_) a->cancel.Cancel(CancelReason::kShutdown);
      // Claimed but not started: release without running.
      for (auto& a : ready_) a->cancel.Cancel(CancelReason::kShutdown);
      if (!idle_cv_.wait_for(lock, Millis(5000), [&] { return Held() == 0; })) {
        logging::Error(Log(), "steps ignored cancellation; their leases will expire",
                       {{"count", running_.size()}});
      }
    }
    workers_exit_ = true;
    work_cv_.notify_all();
  }
  for (auto& w : workers_) {
    if (!w.joinable()) continue;
    bool stuck;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stuck = !running_.empty();
    }
    if (stuck) {
      w.detach();  // a handler that ignores cancellation must not hang shutdown
    } else {
      w.join();
    }
  }
  workers_.clear();
  watchdog_exit_ = true;
  if (watchdog_.joinable()) watchdog_.join();
  {
    std::lock_guard<std::mutex> lock(out_mu_);
    completer_exit_ = true;
    out_cv_.notify_all();
  }
  for (auto& c : completers_) {
    if (c.joinable()) c.join();
  }
}

}  // namespace cueball::engine
