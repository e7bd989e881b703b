#include "server/engine/in_process_runner.h"

#include <set>

#include "server/engine/attempt_services.h"

namespace cueball::engine {
namespace {

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

std::optional<StepResult> WokenResult(const cueball::Run& run, const StepDef& step,
                                      std::string* woke) {
  const Json wait = WokenWait(run);
  *woke = wait.value("woke", "");
  // A timer that fired ends its step as the step said when it went to
  // sleep; a wait that timed out is a failed attempt. The handler does not
  // run for either.
  if (*woke == "timer") return StepResult::Next(wait.value("result", Json()));
  if (*woke == "timeout") {
    std::string what = wait.value("for", "") == "signal"
                           ? "signal '" + wait.value("signal", "") + "'"
                           : std::string("the runs it waits for");
    return StepResult::Retry("step '" + step.name + "' timed out waiting for " + what);
  }
  return std::nullopt;
}

std::optional<StepResult> CheckWaitRuns(const StepResult& result, const cueball::Run& run,
                                        store::RunStore* runs) {
  if (result.kind() != StepResult::Kind::kWaitRuns) return std::nullopt;
  // Waiting on runs that do not exist would never end: say which.
  for (const auto& id : result.runs()) {
    if (!RunId::Parse(id)) return StepResult::Fail("WaitForRuns: '" + id + "' is not a run id");
    if (id == run.id) return StepResult::Fail("WaitForRuns: a run cannot wait for itself");
  }
  auto found = runs->GetMany(result.runs());
  if (!found.ok()) return StepResult::Retry("WaitForRuns: " + found.status().message());
  std::set<std::string> have;
  for (const auto& r : *found) have.insert(r.id);
  for (const auto& id : result.runs()) {
    if (!have.count(id)) return StepResult::Fail("WaitForRuns: no run with id " + id);
  }
  return std::nullopt;
}

StepResult InProcessRunner::Run(const std::shared_ptr<Attempt>& a, const StepDef& step,
                                const Json& input, Json& state) {
  const cueball::Run& run = a->claimed.run;
  std::string woke;
  if (auto engine_result = WokenResult(run, step, &woke)) return *engine_result;
  AttemptServices services(services_, registry_, a->claimed, a->start_written);
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
  if (auto refused = CheckWaitRuns(result, run, services_.runs)) return *refused;
  return result;
}

}  // namespace cueball::engine
