#include "server/engine/completer.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <thread>

#include "server/engine/decide.h"
#include "server/logging/logging.h"

namespace cueball::engine {
namespace {

// Errors that say nothing about the outcomes themselves: the same batch is
// tried again as it is.
bool Transient(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kAborted ||
         s.code() == StatusCode::kDeadlineExceeded;
}

}  // namespace

Completer::Completer(store::DispatchStore* store, const Registry* registry, Options options)
    : store_(store), registry_(registry), opts_(std::move(options)) {}

Completer::~Completer() { Stop(); }

void Completer::Start() {
  for (int i = 0; i < std::max(1, opts_.recorders); ++i) threads_.emplace_back([this] { Loop(); });
}

void Completer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    exit_ = true;
    cv_.notify_all();
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Completer::Push(store::Outcome outcome, std::shared_ptr<Attempt> attempt) {
  WithStart(outcome, *attempt);
  std::lock_guard<std::mutex> lock(mu_);
  outcomes_.push_back(std::move(outcome));
  attempts_.push_back(std::move(attempt));
  cv_.notify_one();
}

Status Completer::RecordOneByOne(std::vector<store::Outcome>& batch,
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
      logging::Error(DispatchLog(), "outcome refused by the database; the run fails",
                     {{"run", run.id}, {"step", run.step_name}, {"error", why}});
      const WorkflowType* type = registry_->Find(run.workflow_type);
      if (!type) return one.status();  // cannot happen: claims are filtered by registered type
      batch[i] = Decide(run, attempts[i]->claimed.lease_id, *type,
                        StepResult::Fail("the step's outcome could not be recorded: " + why),
                        Json::object(), Now(), DispatchRng());
      WithStart(batch[i], *attempts[i]);
      one = store_->RecordOutcomes({batch[i]});
    }
    if (!one.ok()) return one.status();
    accepted->push_back((*one)[0]);
  }
  return Status::Ok();
}

void Completer::Loop() {
  int failures = 0;
  while (true) {
    std::vector<store::Outcome> batch;
    std::vector<std::shared_ptr<Attempt>> attempts;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return exit_ || !outcomes_.empty(); });
      if (outcomes_.empty()) return;
      while (!outcomes_.empty() && static_cast<int>(batch.size()) < opts_.batch) {
        batch.push_back(std::move(outcomes_.front()));
        outcomes_.pop_front();
        attempts.push_back(std::move(attempts_.front()));
        attempts_.pop_front();
      }
    }
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
        logging::Warn(DispatchLog(), "record outcomes refused, recording them one by one",
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
        logging::Warn(DispatchLog(), "late completion refused",
                      {{"run", batch[i].run_id},
                       {"step", batch[i].step_name},
                       {"attempt", batch[i].attempt},
                       {"lease", batch[i].lease_id}});
      }
      for (const auto& [key, n] : finished) {
        opts_.metrics->RunFinished(key.first, RunStatusName(key.second), n);
      }
      opts_.on_recorded(batch, attempts, accepted.size(), next);
      batch.erase(batch.begin(), batch.begin() + static_cast<ptrdiff_t>(accepted.size()));
      attempts.erase(attempts.begin(), attempts.begin() + static_cast<ptrdiff_t>(accepted.size()));
      if (st.ok()) {
        failures = 0;
        continue;  // all recorded: batch is empty
      }
      ++failures;
      bool exiting;
      {
        std::lock_guard<std::mutex> lock(mu_);
        exiting = exit_;
      }
      if (exiting && failures >= 5) {
        logging::Error(DispatchLog(),
                       "giving up recording outcomes; their leases will expire and the runs "
                       "will be rescued",
                       {{"count", batch.size()}, {"error", st.message()}});
        opts_.on_recorded(batch, attempts, batch.size(), {});
        break;
      }
      Millis wait = ErrorBackoff(failures);
      logging::Warn(DispatchLog(), "record outcomes failed",
                    {{"error", st.message()}, {"retry_in_ms", wait.count()}});
      std::this_thread::sleep_for(wait);
    }
    if (opts_.on_waits_recorded && any_waiting) opts_.on_waits_recorded();
    // Next steps and retries just became ready (or due later: the claim
    // loop then learns when). Only finished runs: nothing new to claim.
    if (any_ready && opts_.on_ready) opts_.on_ready();
  }
}

}  // namespace cueball::engine
