#include "server/engine/decide.h"

#include <algorithm>

#include "server/domain/utf8.h"

namespace cueball::engine {
namespace {

// What a handler returns may hold text PostgreSQL cannot store: bytes that
// are not UTF-8 (a command's output cut mid-character, an exception's
// message), on which nlohmann's default dump also throws (that ended the
// daemon), or NUL characters (a command's binary output), which neither
// text nor jsonb strings can hold (that failed every retry of the outcome's
// batch, so nothing more was recorded). So every JSON text recorded here is
// dumped with invalid bytes replaced by U+FFFD and NUL escapes turned into
// U+FFFD, and every plain text from the handler goes through StorableText.
std::string Data(const Json& j) {
  return StorableJson(j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace

store::Outcome Decide(const Run& run, const std::string& lease_id, const WorkflowType& type,
                      const StepResult& result, const Json& new_state, TimePoint now,
                      std::mt19937_64& rng) {
  store::Outcome o;
  o.run_id = run.id;
  o.lease_id = lease_id;
  o.step_index = run.step_index;
  o.step_name = run.step_name;
  o.attempt = run.attempt;
  const int step_count = static_cast<int>(type.steps.size());
  const StepDef* step =
      (run.step_index >= 0 && run.step_index < step_count) ? &type.steps[run.step_index] : nullptr;

  auto fail = [&](const std::string& handler_error, bool permanent) {
    const std::string error = StorableText(handler_error);
    o.status = RunStatus::kFailed;
    o.error = error;
    o.events.push_back({event_kind::kStepFailed, run.step_name, run.attempt,
                        Data({{"error", error}, {"permanent", permanent}})});
    o.events.push_back(
        {event_kind::kRunFailed, run.step_name, run.attempt, Data({{"error", error}})});
  };

  if (!step) {
    fail("step index " + std::to_string(run.step_index) + " is out of range for workflow type '" +
             type.name + "'",
         true);
    return o;
  }

  switch (result.kind()) {
    case StepResult::Kind::kNext:
    case StepResult::Kind::kComplete: {
      o.state = Data(new_state);
      const bool last = run.step_index + 1 >= step_count;
      // The run's success carries the same data as its last step's (the
      // store writes the two as one row, migration 0009): dumped once.
      const std::string step_data = Data({{"result", result.result()}});
      o.events.push_back({event_kind::kStepSucceeded, run.step_name, run.attempt, step_data});
      if (last || result.kind() == StepResult::Kind::kComplete) {
        o.status = RunStatus::kSucceeded;
        o.result = Data(result.result());
        o.events.push_back({event_kind::kRunSucceeded, run.step_name, run.attempt, step_data});
      } else {
        o.status = RunStatus::kEnqueued;
        o.step_index = run.step_index + 1;
        o.step_name = type.steps[o.step_index].name;
        o.attempt = 0;
        o.run_at = now;
      }
      return o;
    }
    case StepResult::Kind::kRetry: {
      if (!HasAttemptsLeft(step->retry, run.attempt)) {
        fail(result.error(), false);
        o.events.back().data = Data({{"error", result.error()},
                                     {"attempts", run.attempt},
                                     {"reason", "attempts exhausted"}});
        return o;
      }
      Millis delay = result.delay() ? *result.delay() : BackoffDelay(step->retry, run.attempt, rng);
      if (delay.count() < 0) delay = Millis(0);
      o.status = RunStatus::kEnqueued;
      o.error = StorableText(result.error());
      o.run_at = now + std::chrono::duration_cast<std::chrono::microseconds>(delay);
      o.events.push_back({event_kind::kStepFailed, run.step_name, run.attempt,
                          Data({{"error", result.error()}, {"permanent", false}})});
      o.events.push_back({event_kind::kRetryScheduled, run.step_name, run.attempt,
                          Data({{"delay_ms", delay.count()},
                                {"run_at", FormatTime(*o.run_at)},
                                {"next_attempt", run.attempt + 1},
                                {"max_attempts", step->retry.max_attempts}})});
      return o;
    }
    case StepResult::Kind::kFail:
      fail(result.error(), true);
      return o;
    case StepResult::Kind::kDefer: {
      o.status = RunStatus::kEnqueued;
      o.state = Data(new_state);
      o.attempt = run.attempt > 0 ? run.attempt - 1 : 0;  // a deferral uses no attempt
      o.run_at = result.until() < now ? now : result.until();
      o.events.push_back({event_kind::kStepDeferred, run.step_name, run.attempt,
                          Data({{"until", FormatTime(*o.run_at)}})});
      return o;
    }
    case StepResult::Kind::kSleep:
    case StepResult::Kind::kWaitSignal:
    case StepResult::Kind::kWaitRuns: {
      store::WaitSpec w;
      Json data;
      if (result.kind() == StepResult::Kind::kSleep) {
        w.kind = "timer";
        w.deadline = result.until() < now ? now : result.until();
        w.result = Data(result.result());
        data = {{"for", "timer"}, {"until", FormatTime(*w.deadline)}};
      } else if (result.kind() == StepResult::Kind::kWaitSignal) {
        if (result.signal().empty()) {
          fail("WaitForSignal: the signal name is empty", true);
          return o;
        }
        w.kind = "signal";
        w.signal = StorableText(result.signal());
        data = {{"for", "signal"}, {"signal", w.signal}};
      } else {
        if (result.runs().empty()) {
          fail("WaitForRuns: no runs to wait for", true);
          return o;
        }
        w.kind = "runs";
        w.runs = result.runs();
        w.any = result.any();
        data = {{"for", "runs"}, {"runs", w.runs}, {"mode", w.any ? "any" : "all"}};
      }
      if (w.kind != "timer" && result.delay()) {
        Millis timeout = std::max(Millis(0), *result.delay());
        w.deadline = now + std::chrono::duration_cast<std::chrono::microseconds>(timeout);
        data["timeout_ms"] = timeout.count();
        data["deadline"] = FormatTime(*w.deadline);
      }
      o.status = RunStatus::kWaiting;
      o.state = Data(new_state);
      o.attempt = run.attempt > 0 ? run.attempt - 1 : 0;  // waiting uses no attempt
      o.events.push_back({event_kind::kStepWaiting, run.step_name, run.attempt, Data(data)});
      o.wait = std::move(w);
      return o;
    }
    case StepResult::Kind::kRelease: {
      o.status = RunStatus::kEnqueued;
      o.attempt = run.attempt > 0 ? run.attempt - 1 : 0;
      o.run_at = now;
      o.events.push_back({event_kind::kStepReleased, run.step_name, run.attempt,
                          Data({{"reason", result.error()}})});
      return o;
    }
  }
  fail("unknown step result", true);
  return o;
}

}  // namespace cueball::engine
