#include "workers/builtin.h"

#include <fstream>
#include <stdexcept>

namespace cueball::workers {
namespace {

using engine::Json;
using engine::RetryPolicy;
using engine::StepContext;
using engine::StepResult;

// Reads an integer field of the input, or `def` if absent. Non-integers are
// a permanent failure of the step: retrying cannot fix the input.
bool IntField(const Json& input, const char* name, int64_t def, int64_t* out, std::string* err) {
  if (!input.is_object() || !input.contains(name)) {
    *out = def;
    return true;
  }
  const Json& v = input.at(name);
  if (!v.is_number_integer()) {
    *err = std::string("input.") + name + " must be an integer";
    return false;
  }
  *out = v.get<int64_t>();
  return true;
}

StepResult Noop(StepContext&) { return StepResult::Next(Json::object()); }

StepResult Sleep(StepContext& ctx) {
  int64_t ms = 0;
  std::string err;
  if (!IntField(ctx.input, "ms", 1000, &ms, &err)) return StepResult::Fail(err);
  if (ms < 0 || ms > 3600 * 1000) return StepResult::Fail("input.ms must be within 0..3600000");
  // Optional execution log: one line per execution, so tests (and people) can
  // count how often a step really ran under at-least-once delivery.
  if (ctx.input.is_object() && ctx.input.contains("log")) {
    if (!ctx.input["log"].is_string()) return StepResult::Fail("input.log must be a path");
    std::ofstream log(ctx.input["log"].get<std::string>(), std::ios::app);
    if (!log) return StepResult::Retry("cannot open input.log");
    log << ctx.run_id + " " + std::to_string(ctx.attempt) + "\n" << std::flush;
  }
  if (!ctx.cancel.SleepFor(Millis(ms))) return StepResult::Retry("sleep interrupted");
  return StepResult::Next({{"slept_ms", ms}});
}

StepResult Flaky(StepContext& ctx) {
  int64_t succeed_on = 0;
  std::string err;
  if (!IntField(ctx.input, "succeed_on", 3, &succeed_on, &err)) return StepResult::Fail(err);
  if (ctx.input.is_object() && ctx.input.value("permanent", false)) {
    return StepResult::Fail("demo.flaky: permanent failure requested by input");
  }
  if (ctx.attempt < succeed_on) {
    std::string msg = "demo.flaky: attempt " + std::to_string(ctx.attempt) +
                      " fails (succeeds on " + std::to_string(succeed_on) + ")";
    if (ctx.input.is_object() && ctx.input.value("throw", false)) throw std::runtime_error(msg);
    return StepResult::Retry(msg);
  }
  return StepResult::Next({{"succeeded_on_attempt", ctx.attempt}});
}

StepResult Defer(StepContext& ctx) {
  int64_t ms = 0;
  std::string err;
  if (!IntField(ctx.input, "ms", 500, &ms, &err)) return StepResult::Fail(err);
  if (!ctx.state.is_object()) ctx.state = Json::object();
  if (!ctx.state.value("deferred", false)) {
    ctx.state["deferred"] = true;
    return StepResult::Defer(Now() + std::chrono::milliseconds(ms));
  }
  return StepResult::Next({{"deferred_ms", ms}});
}

void Trace(StepContext& ctx) {
  if (!ctx.state.is_object()) ctx.state = Json::object();
  ctx.state["steps"].push_back(ctx.step);
}

StepResult Extract(StepContext& ctx) {
  int64_t n = 0;
  std::string err;
  if (!IntField(ctx.input, "n", 1, &n, &err)) return StepResult::Fail(err);
  Trace(ctx);
  ctx.state["n"] = n;
  return StepResult::Next();
}

StepResult Transform(StepContext& ctx) {
  Trace(ctx);
  ctx.state["n"] = ctx.state.value("n", int64_t{0}) * 10;
  return StepResult::Next();
}

StepResult Load(StepContext& ctx) {
  Trace(ctx);
  return StepResult::Next({{"n", ctx.state.value("n", int64_t{0})}, {"steps", ctx.state["steps"]}});
}

// A durable timer: the run waits in the database for input.ms (default
// 1000), holding no worker, then the second step reports when it woke.
StepResult TimerSleep(StepContext& ctx) {
  int64_t ms = 0;
  std::string err;
  if (!IntField(ctx.input, "ms", 1000, &ms, &err)) return StepResult::Fail(err);
  if (ms < 0 || ms > int64_t{366} * 24 * 3600 * 1000) {
    return StepResult::Fail("input.ms must be within 0..31622400000 (a year)");
  }
  return StepResult::SleepFor(Millis(ms), {{"slept_ms", ms}});
}

StepResult TimerDone(StepContext&) { return StepResult::Next({{"woke_at", FormatTime(Now())}}); }

// Waits for the signal input.signal (default "go"), optionally for at most
// input.timeout_ms, and finishes with its payload.
StepResult AwaitSignal(StepContext& ctx) {
  std::string name = "go";
  if (ctx.input.is_object() && ctx.input.contains("signal")) {
    if (!ctx.input["signal"].is_string()) return StepResult::Fail("input.signal must be a string");
    name = ctx.input["signal"].get<std::string>();
  }
  int64_t timeout_ms = 0;
  std::string err;
  if (!IntField(ctx.input, "timeout_ms", 0, &timeout_ms, &err)) return StepResult::Fail(err);
  auto sig = ctx.TakeSignal(name);
  if (!sig) {
    std::optional<Millis> timeout;
    if (timeout_ms > 0) timeout = Millis(timeout_ms);
    return StepResult::WaitForSignal(name, timeout);
  }
  return StepResult::Next({{"signal", sig->name}, {"seq", sig->seq}, {"payload", sig->payload}});
}

// Enqueues input.children (default 3) noop-like children (type input.type,
// default "noop") and waits for all of them (input.any: any one), then
// reports their statuses.
StepResult FanOut(StepContext& ctx) {
  int64_t n = 0;
  std::string err;
  if (!IntField(ctx.input, "children", 3, &n, &err)) return StepResult::Fail(err);
  if (n < 1 || n > 100) return StepResult::Fail("input.children must be within 1..100");
  std::string type = ctx.input.is_object() ? ctx.input.value("type", "noop") : "noop";
  Json child_input =
      ctx.input.is_object() ? ctx.input.value("child_input", Json::object()) : Json::object();
  bool any = ctx.input.is_object() && ctx.input.value("any", false);
  std::vector<std::string> ids;
  for (int64_t i = 0; i < n; ++i) {
    engine::ChildSpec child;
    child.key = "child-" + std::to_string(i);
    child.workflow_type = type;
    child.input = child_input;
    ids.push_back(ctx.EnqueueChild(child));
  }
  if (ctx.woke.empty()) return StepResult::WaitForRuns(ids, any);
  Json statuses = Json::object();
  for (const auto& r : ctx.GetRuns(ids)) statuses[r.id] = RunStatusName(r.status);
  return StepResult::Next({{"children", statuses}});
}

}  // namespace

Status RegisterBuiltins(engine::Registry& registry) {
  const auto quick = RetryPolicy::Exponential(3, Millis(200), Millis(5000));
  std::vector<engine::WorkflowType> types = {
      {"noop", "One step that succeeds at once.", {{"noop", Noop, quick, Millis(10000)}}},
      {"demo.sleep",
       "Sleeps input.ms milliseconds (default 1000); stops early when canceled. "
       "With input.log, appends one line per execution to that file.",
       {{"sleep", Sleep, RetryPolicy::Exponential(3, Millis(500), Millis(5000)), Millis(3700000)}}},
      {"demo.flaky",
       "Fails its step until attempt input.succeed_on (default 3), then succeeds; "
       "input.throw makes it throw, input.permanent fails it for good.",
       {{"flaky", Flaky, RetryPolicy::Exponential(5, Millis(100), Millis(2000)), Millis(10000)}}},
      {"demo.defer",
       "Defers its step once by input.ms milliseconds (default 500), then succeeds.",
       {{"defer", Defer, quick, Millis(10000)}}},
      {"demo.pipeline",
       "extract -> transform -> load: n = input.n, then n * 10, carried in state.",
       {{"extract", Extract, quick, Millis(10000)},
        {"transform", Transform, quick, Millis(10000)},
        {"load", Load, quick, Millis(10000)}}},
      {"demo.timer",
       "sleep (a durable timer of input.ms, default 1000, holding no worker) -> done.",
       {{"sleep",
         TimerSleep,
         quick,
         Millis(10000),
         {"code", "durable timer of input.ms", {}, true, false, false}},
        {"done", TimerDone, quick, Millis(10000)}}},
      {"demo.signal",
       "Waits for the signal input.signal (default \"go\"), at most input.timeout_ms if "
       "given, and finishes with its payload.",
       {{"await",
         AwaitSignal,
         RetryPolicy::Fixed(1, Millis(0)),
         Millis(10000),
         {"code", "waits for signal input.signal", {"go"}, false, false, false}}}},
      {"demo.fanout",
       "Enqueues input.children child runs (type input.type, default noop) and waits for "
       "all of them (input.any: any one), then reports their statuses.",
       {{"fanout",
         FanOut,
         quick,
         Millis(10000),
         {"code", "child runs, then wait for them", {}, false, true, true}}}},
  };
  for (auto& t : types) {
    Status st = registry.Register(std::move(t));
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace cueball::workers
