#include "server/engine/dispatcher.h"

#include <spdlog/spdlog.h>

#include "server/engine/decide.h"
#include "server/engine/in_process_runner.h"
#include "server/logging/logging.h"

namespace cueball::engine {

using SteadyClock = std::chrono::steady_clock;

std::shared_ptr<spdlog::logger> DispatchLog() {
  auto l = spdlog::get("engine");
  return l ? l : spdlog::default_logger();
}

std::mt19937_64& DispatchRng() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  return rng;
}

Millis ErrorBackoff(int failures) {
  int64_t cap = std::min<int64_t>(5000, 50LL << std::min(failures, 10));
  return Millis(std::uniform_int_distribution<int64_t>(cap / 10, cap)(DispatchRng()));
}

std::shared_ptr<Attempt> NewAttempt(const Registry& registry, store::ClaimedRun claimed) {
  auto a = std::make_shared<Attempt>();
  const WorkflowType* t = registry.Find(claimed.run.workflow_type);
  Millis timeout = Millis(30000);
  if (t && claimed.run.step_index < static_cast<int>(t->steps.size())) {
    timeout = t->steps[claimed.run.step_index].timeout;
  }
  a->deadline = SteadyClock::now() + timeout;
  a->claimed = std::move(claimed);
  return a;
}

namespace {

std::unique_ptr<StepRunner> OwnRunner(const Dispatcher::Stores& stores, const Registry* registry,
                                      const DispatcherOptions& opts) {
  if (opts.runner) return nullptr;
  return std::make_unique<InProcessRunner>(
      registry, InProcessRunner::Services{stores.runs, stores.waits, stores.dispatch, opts.blobs,
                                          opts.max_blob_bytes});
}

}  // namespace

Dispatcher::Dispatcher(Stores stores, const Registry* registry, DispatcherOptions options)
    : registry_(registry),
      opts_(std::move(options)),
      slots_(opts_.workers, opts_.claim_batch),
      own_runner_(OwnRunner(stores, registry, opts_)),
      runner_(opts_.runner ? opts_.runner : own_runner_.get()),
      completer_(stores.dispatch, registry,
                 Completer::Options{
                     opts_.complete_batch, opts_.recorders, opts_.metrics, opts_.finished_runs,
                     opts_.on_waits_recorded, [this] { Poke(); },
                     [this](const std::vector<store::Outcome>& outcomes,
                            const std::vector<std::shared_ptr<Attempt>>& attempts, size_t count,
                            const std::vector<std::optional<store::NextAttempt>>& next) {
                       SettleContinuations(outcomes, attempts, count, next);
                     }}),
      watchdog_(stores.dispatch, &slots_, opts_.lease),
      claimer_(stores.dispatch, registry, &slots_,
               Claimer::Options{opts_.owner, opts_.queues, registry->InProcessClaims(), opts_.lease,
                                opts_.poll_interval, opts_.claim_coalesce}) {}

Dispatcher::~Dispatcher() { Stop(); }

void Dispatcher::Start() {
  for (int i = 0; i < opts_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  completer_.Start();
  watchdog_.Start();
  claimer_.Start();
}

void Dispatcher::WorkerLoop() {
  std::shared_ptr<Attempt> a;
  while (true) {
    if (!a) {
      a = slots_.NextReady();
      if (!a) return;
    }
    const auto step_ms = Execute(a);
    // Frees the slot and takes the next ready run under one lock, so a
    // worker going from one short step to the next takes the lock once.
    a = slots_.Finish(*a, step_ms, /*take_next=*/true);
  }
}

std::optional<double> Dispatcher::Execute(const std::shared_ptr<Attempt>& a) {
  const Run& run = a->claimed.run;
  const WorkflowType* type = registry_->Find(run.workflow_type);
  if (!type) {  // cannot happen: claims are filtered by registered type
    logging::Error(DispatchLog(), "claimed run of unknown type",
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
    result = runner_->Run(a, *step, input, state);
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
        logging::Info(DispatchLog(), "step stopped",
                      {{"run", run.id},
                       {"step", run.step_name},
                       {"reason", a->cancel.reason() == CancelReason::kLeaseLost ? "lease_lost"
                                                                                 : "run_ended"}});
        return std::nullopt;
    }
  }
  if (!result) result = StepResult::Fail("step index out of range");
  store::Outcome outcome =
      Decide(run, a->claimed.lease_id, *type, *result, state, Now(), DispatchRng());
  if (result->kind() == StepResult::Kind::kNext && outcome.status == RunStatus::kEnqueued &&
      slots_.steps_fast() && !slots_.stopping() &&
      outcome.step_index < static_cast<int>(type->steps.size()) &&
      !IsRemote(type->steps[outcome.step_index])) {
    // The next step is ready now and steps are fast: it stays here and runs
    // as soon as the record says so, without a claim of its own. (With slow
    // steps it goes through the queue, where runs of a higher priority go
    // first: a run that kept its slot for all its slow steps could hold one
    // up for as long as they take. With fast steps the daemon holds runs
    // claimed ahead anyway (Slots::Capacity()), and a run's next step would only
    // wait behind them.)
    outcome.continue_lease = opts_.lease;
    a->continues = true;
  }
  logging::Debug(DispatchLog(), "step finished",
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
  completer_.Push(std::move(outcome), a);
  // A released run's handler did not run: no step time to learn from.
  if (result->kind() == StepResult::Kind::kRelease) return std::nullopt;
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_started)
      .count();
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
    stayed.push_back(NewAttempt(*registry_, std::move(c)));
  }
  if (settled == 0) return;
  if (opts_.metrics && !stayed.empty())
    opts_.metrics->StepsContinued(static_cast<int>(stayed.size()));
  slots_.Settle(std::move(stayed), settled);
}

void Dispatcher::Stop() {
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  slots_.BeginStop();
  claimer_.Join();
  if (!slots_.Drain(opts_.drain_timeout)) {
    logging::Info(DispatchLog(), "drain timeout passed; releasing in-flight steps",
                  {{"count", slots_.Running()}});
    // Running steps are cancelled; claimed but not started ones are
    // released without running.
    slots_.CancelAll(CancelReason::kShutdown);
    if (!slots_.Drain(Millis(5000))) {
      logging::Error(DispatchLog(), "steps ignored cancellation; their leases will expire",
                     {{"count", slots_.Running()}});
    }
  }
  slots_.ReleaseWorkers();
  for (auto& w : workers_) {
    if (!w.joinable()) continue;
    if (slots_.Running() > 0) {
      w.detach();  // a handler that ignores cancellation must not hang shutdown
    } else {
      w.join();
    }
  }
  workers_.clear();
  watchdog_.Stop();
  completer_.Stop();
}

}  // namespace cueball::engine
