// Decide(): what the engine records for each kind of step result.
#include "server/engine/decide.h"

#include <catch2/catch.hpp>

using namespace cueball;
using namespace cueball::engine;

namespace {

WorkflowType ThreeSteps() {
  auto ok = [](StepContext&) { return StepResult::Next(); };
  auto policy = RetryPolicy::Exponential(3, Millis(1000), Millis(10000));
  return {"t",
          "",
          {{"a", ok, policy, Millis(1000)},
           {"b", ok, policy, Millis(1000)},
           {"c", ok, policy, Millis(1000)}}};
}

Run Claimed(int step_index, const std::string& step, int attempt) {
  Run r;
  r.id = "01a20501-79f8-7ffe-8c6e-f14d984ac55c";
  r.workflow_type = "t";
  r.status = RunStatus::kRunning;
  r.step_index = step_index;
  r.step_name = step;
  r.attempt = attempt;
  return r;
}

std::vector<std::string> Kinds(const store::Outcome& o) {
  std::vector<std::string> k;
  for (const auto& e : o.events) k.push_back(e.kind);
  return k;
}

}  // namespace

TEST_CASE("a successful middle step moves to the next step with a fresh attempt count") {
  std::mt19937_64 rng(1);
  auto type = ThreeSteps();
  auto now = Now();
  auto o = Decide(Claimed(0, "a", 2), "lease", type, StepResult::Next({{"x", 1}}), Json{{"k", "v"}},
                  now, rng);
  CHECK(o.status == RunStatus::kEnqueued);
  CHECK(o.step_index == 1);
  CHECK(o.step_name == "b");
  CHECK(o.attempt == 0);
  CHECK(o.state == std::optional<std::string>(R"({"k":"v"})"));
  CHECK(o.run_at == std::optional<TimePoint>(now));
  CHECK(o.lease_id == "lease");
  CHECK(Kinds(o) == std::vector<std::string>{"step_succeeded"});
}

TEST_CASE("the last step's result becomes the run's result") {
  std::mt19937_64 rng(1);
  auto o = Decide(Claimed(2, "c", 1), "l", ThreeSteps(), StepResult::Next({{"n", 40}}),
                  Json::object(), Now(), rng);
  CHECK(o.status == RunStatus::kSucceeded);
  CHECK(o.result == std::optional<std::string>(R"({"n":40})"));
  CHECK(Kinds(o) == std::vector<std::string>{"step_succeeded", "run_succeeded"});
}

TEST_CASE("Complete finishes the run early") {
  std::mt19937_64 rng(1);
  auto o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Complete(1), Json::object(),
                  Now(), rng);
  CHECK(o.status == RunStatus::kSucceeded);
  CHECK(o.step_index == 0);
}

TEST_CASE("a retryable error with attempts left is re-enqueued after a jittered backoff") {
  std::mt19937_64 rng(7);
  auto now = Now();
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto o = Decide(Claimed(1, "b", attempt), "l", ThreeSteps(), StepResult::Retry("boom"),
                    Json::object(), now, rng);
    CHECK(o.status == RunStatus::kEnqueued);
    CHECK(o.step_index == 1);
    CHECK(o.attempt == attempt);  // the used attempt stays counted
    CHECK(o.error == std::optional<std::string>("boom"));
    REQUIRE(o.run_at);
    CHECK(*o.run_at >= now);
    CHECK(*o.run_at <= now + std::chrono::milliseconds(1000 << (attempt - 1)));
    CHECK_FALSE(o.state);  // a failed attempt does not save state
    CHECK(Kinds(o) == std::vector<std::string>{"step_failed", "retry_scheduled"});
  }
}

TEST_CASE("an explicit retry delay overrides the policy") {
  std::mt19937_64 rng(7);
  auto now = Now();
  auto o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Retry("x", Millis(5000)),
                  Json::object(), now, rng);
  CHECK(*o.run_at == now + std::chrono::milliseconds(5000));
}

TEST_CASE("the last allowed attempt failing fails the run") {
  std::mt19937_64 rng(7);
  auto o = Decide(Claimed(1, "b", 3), "l", ThreeSteps(), StepResult::Retry("still boom"),
                  Json::object(), Now(), rng);
  CHECK(o.status == RunStatus::kFailed);
  CHECK(o.error == std::optional<std::string>("still boom"));
  CHECK(Kinds(o) == std::vector<std::string>{"step_failed", "run_failed"});
}

TEST_CASE("a permanent error fails at once, whatever attempts remain") {
  std::mt19937_64 rng(7);
  auto o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Fail("bad input"),
                  Json::object(), Now(), rng);
  CHECK(o.status == RunStatus::kFailed);
  CHECK(Kinds(o) == std::vector<std::string>{"step_failed", "run_failed"});
}

TEST_CASE("defer re-runs the step later and gives the attempt back") {
  std::mt19937_64 rng(7);
  auto now = Now();
  auto later = now + std::chrono::seconds(30);
  auto o = Decide(Claimed(1, "b", 2), "l", ThreeSteps(), StepResult::Defer(later),
                  Json{{"polls", 1}}, now, rng);
  CHECK(o.status == RunStatus::kEnqueued);
  CHECK(o.step_index == 1);
  CHECK(o.attempt == 1);
  CHECK(*o.run_at == later);
  CHECK(o.state == std::optional<std::string>(R"({"polls":1})"));
  CHECK(Kinds(o) == std::vector<std::string>{"step_deferred"});
}

TEST_CASE("release gives the run back at once without using an attempt") {
  std::mt19937_64 rng(7);
  auto now = Now();
  auto o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Release("shutdown"),
                  Json::object(), now, rng);
  CHECK(o.status == RunStatus::kEnqueued);
  CHECK(o.attempt == 0);
  CHECK(*o.run_at == now);
  CHECK(Kinds(o) == std::vector<std::string>{"step_released"});
}

TEST_CASE("waiting suspends the run at the same step, saves state and uses no attempt") {
  std::mt19937_64 rng(1);
  auto type = ThreeSteps();
  auto now = Now();
  auto sig = Decide(Claimed(1, "b", 2), "l", type, StepResult::WaitForSignal("ok", Millis(5000)),
                    Json{{"asked", true}}, now, rng);
  CHECK(sig.status == RunStatus::kWaiting);
  CHECK(sig.step_index == 1);
  CHECK(sig.attempt == 1);
  CHECK(sig.state == std::optional<std::string>(R"({"asked":true})"));
  REQUIRE(sig.wait);
  CHECK(sig.wait->kind == "signal");
  CHECK(sig.wait->signal == "ok");
  CHECK(sig.wait->deadline == std::optional<TimePoint>(now + std::chrono::milliseconds(5000)));
  CHECK(Kinds(sig) == std::vector<std::string>{"step_waiting"});
  CHECK(Json::parse(sig.events[0].data)["timeout_ms"] == 5000);

  auto runs = Decide(Claimed(1, "b", 1), "l", type, StepResult::WaitForRuns({"x", "y"}, true),
                     Json::object(), now, rng);
  REQUIRE(runs.wait);
  CHECK(runs.wait->kind == "runs");
  CHECK(runs.wait->any);
  CHECK(runs.wait->runs == std::vector<std::string>{"x", "y"});
  CHECK_FALSE(runs.wait->deadline);  // no timeout: waits as long as it takes
  CHECK(Json::parse(runs.events[0].data)["mode"] == "any");

  auto timer = Decide(Claimed(0, "a", 1), "l", type,
                      StepResult::SleepUntil(now + std::chrono::seconds(60), {{"r", 1}}),
                      Json::object(), now, rng);
  REQUIRE(timer.wait);
  CHECK(timer.wait->kind == "timer");
  CHECK(timer.wait->deadline == std::optional<TimePoint>(now + std::chrono::seconds(60)));
  CHECK(Json::parse(timer.wait->result) == Json{{"r", 1}});
  CHECK(timer.status == RunStatus::kWaiting);
}

TEST_CASE("a wait with nothing to wait for fails the run") {
  std::mt19937_64 rng(1);
  auto o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::WaitForRuns({}),
                  Json::object(), Now(), rng);
  CHECK(o.status == RunStatus::kFailed);
  CHECK(o.error == std::optional<std::string>("WaitForRuns: no runs to wait for"));
  o = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::WaitForSignal(""), Json::object(),
             Now(), rng);
  CHECK(o.status == RunStatus::kFailed);
}

TEST_CASE(
    "a handler's text that is not UTF-8 is recorded with U+FFFD instead of ending the daemon") {
  // A command's output cut mid-character, or a message in Latin-1: dumping
  // it as JSON used to throw (the daemon ended), and PostgreSQL refuses it.
  std::mt19937_64 rng(1);
  const std::string bad = "caf\xE9 \xE2\x82";
  const std::string fixed = "caf\xEF\xBF\xBD \xEF\xBF\xBD";
  auto failed = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Fail(bad), Json::object(),
                       Now(), rng);
  CHECK(failed.error == std::optional<std::string>(fixed));
  for (const auto& e : failed.events) {
    CHECK(Json::parse(e.data)["error"] == fixed);
  }
  auto retried = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Retry(bad),
                        Json{{"note", bad}}, Now(), rng);
  CHECK(retried.status == RunStatus::kEnqueued);
  CHECK(retried.error == std::optional<std::string>(fixed));
  CHECK(Json::parse(retried.events.at(0).data)["error"] == fixed);
  auto done = Decide(Claimed(2, "c", 1), "l", ThreeSteps(), StepResult::Next({{"out", bad}}),
                     Json{{"note", bad}}, Now(), rng);
  CHECK(done.status == RunStatus::kSucceeded);
  CHECK(Json::parse(*done.result)["out"] == fixed);
  CHECK(Json::parse(*done.state)["note"] == fixed);
  for (const auto& e : done.events) CHECK(Json::parse(e.data)["result"]["out"] == fixed);
  auto waiting = Decide(Claimed(1, "b", 1), "l", ThreeSteps(), StepResult::WaitForSignal(bad),
                        Json::object(), Now(), rng);
  REQUIRE(waiting.wait);
  CHECK(waiting.wait->signal == fixed);
}

TEST_CASE("a handler's NUL characters are recorded as U+FFFD (PostgreSQL cannot store U+0000)") {
  std::mt19937_64 rng(1);
  const std::string nul("x\0y", 3);
  const std::string fixed = "x\xEF\xBF\xBDy";
  auto done = Decide(Claimed(2, "c", 1), "l", ThreeSteps(), StepResult::Next({{"out", nul}}),
                     Json{{nul, nul}}, Now(), rng);
  CHECK(Json::parse(*done.result)["out"] == fixed);
  CHECK(Json::parse(*done.state)[fixed] == fixed);
  for (const auto& e : done.events) CHECK(e.data.find("\\u0000") == std::string::npos);
  auto failed = Decide(Claimed(0, "a", 1), "l", ThreeSteps(), StepResult::Fail(nul), Json::object(),
                       Now(), rng);
  CHECK(failed.error == std::optional<std::string>(fixed));
}
