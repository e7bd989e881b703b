// The engine on real PostgreSQL, in one process: dispatcher, worker pool,
// wait hub and LISTEN/NOTIFY wired as in cueballd. Covers each demo type's
// lifecycle, retries, defer, throwing and hung steps, Wait all/any/timeout,
// cancel, and every bad-input case (which must write nothing).
#include <atomic>
#include <catch2/catch.hpp>
#include <future>

#include "server/engine/change_router.h"
#include "server/engine/run_service.h"
#include "server/maintenance/rescuer.h"
#include "server/store/postgres/pg_listener.h"
#include "server/store/postgres/pg_run_store.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"
#include "workers/builtin.h"

using namespace cueball;
using namespace cueball::engine;
using cueball::testing::TestDatabase;
using cueball::testing::WaitFor;

namespace {

std::atomic<int> g_hang_started{0};
std::atomic<int> g_once_calls{0};
std::atomic<int> g_slow_first_calls{0};

void RegisterTestTypes(Registry& r) {
  REQUIRE(
      r.Register({"test.throw",
                  "",
                  {{"boom", [](StepContext&) -> StepResult { throw std::runtime_error("kaboom"); },
                    RetryPolicy::Fixed(2, Millis(10)), Millis(5000)}}})
          .ok());
  // Fails permanently on its first execution ever, succeeds afterwards: a
  // failed run that a retry can fix. Step "b" comes after a step that always
  // succeeds, so a retry must resume at "b", not start over.
  REQUIRE(r.Register({"test.once",
                      "",
                      {{"a",
                        [](StepContext& ctx) {
                          ctx.state["a_runs"] = ctx.state.value("a_runs", 0) + 1;
                          return StepResult::Next();
                        },
                        RetryPolicy::None(), Millis(5000)},
                       {"b",
                        [](StepContext&) {
                          return g_once_calls++ == 0 ? StepResult::Fail("first time fails")
                                                     : StepResult::Next("fixed");
                        },
                        RetryPolicy::None(), Millis(5000)}}})
              .ok());
  // A quick step, then one that waits to be canceled.
  REQUIRE(r.Register({"test.then_hang",
                      "",
                      {{"quick", [](StepContext&) { return StepResult::Next(); },
                        RetryPolicy::None(), Millis(5000)},
                       {"hang",
                        [](StepContext& ctx) {
                          ctx.cancel.SleepFor(Millis(60000));
                          return StepResult::Next();
                        },
                        RetryPolicy::None(), Millis(120000)}}})
              .ok());
  // The first execution is slow, every other one instant.
  REQUIRE(r.Register({"test.slow_first",
                      "",
                      {{"step",
                        [](StepContext& ctx) {
                          if (g_slow_first_calls++ == 0) ctx.cancel.SleepFor(Millis(400));
                          return StepResult::Next();
                        },
                        RetryPolicy::None(), Millis(5000)}}})
              .ok());
  // Succeeds with NUL characters in its result, state and next step's input.
  REQUIRE(r.Register({"test.nul",
                      "",
                      {{"nul",
                        [](StepContext& ctx) {
                          ctx.state[std::string("k\0", 2)] = std::string("s\0", 2);
                          return StepResult::Next(Json{{"v", std::string("a\0b", 3)}});
                        },
                        RetryPolicy::None(), Millis(5000)}}})
              .ok());
  // Succeeds with its input as the result.
  REQUIRE(r.Register({"test.echo",
                      "",
                      {{"echo", [](StepContext& ctx) { return StepResult::Next(ctx.input); },
                        RetryPolicy::None(), Millis(5000)}}})
              .ok());
  REQUIRE(r.Register({"test.hang",
                      "",
                      {{"hang",
                        [](StepContext& ctx) {
                          ++g_hang_started;
                          ctx.cancel.SleepFor(Millis(60000));
                          return StepResult::Next();
                        },
                        RetryPolicy::Fixed(2, Millis(10)), Millis(200)}}})
              .ok());
}

// One daemon's engine, in-process.
struct Engine {
  explicit Engine(const TestDatabase& db, int workers = 4, Millis lease = Millis(30000))
      : store(db.url(), 8), hub(&store, Millis(2000)) {
    REQUIRE(workers::RegisterBuiltins(registry).ok());
    RegisterTestTypes(registry);
    DispatcherOptions o;
    o.owner = "test-node";
    o.workers = workers;
    o.poll_interval = Millis(500);
    o.drain_timeout = Millis(2000);
    o.lease = lease;
    o.metrics = &metrics;
    o.finished_runs = &hub;
    dispatcher =
        std::make_unique<Dispatcher>(Dispatcher::Stores{&store, &store, &store}, &registry, o);
    service =
        std::make_unique<RunService>(&store, &store, &registry, &hub, dispatcher.get(), Limits{});
    router = std::make_unique<ChangeRouter>(dispatcher.get(), &hub);
    listener = std::make_unique<store::pg::PgListener>(db.url(), router.get());
    hub.Start();
    listener->Start();
    REQUIRE(WaitFor([&] { return listener->listening(); }));
    dispatcher->Start();
  }
  ~Engine() {
    hub.Stop();
    dispatcher->Stop();
    listener->Stop();
  }

  std::string Enqueue(const std::string& type, const std::string& input = "{}") {
    EnqueueSpec s;
    s.workflow_type = type;
    s.input = input;
    auto r = service->Enqueue({s}, false);
    REQUIRE(r.ok());
    return (*r)[0].run.id;
  }

  StatusOr<WaitResult> Wait(std::vector<std::string> ids, bool any, Millis timeout) {
    std::promise<StatusOr<WaitResult>> p;
    auto f = p.get_future();
    service->Wait(ids, any, timeout, [&](StatusOr<WaitResult> r) { p.set_value(std::move(r)); });
    return f.get();
  }

  // Steps count as slow until a hundred-odd quick ones have run: runs 150
  // no-op runs to the end, after which next steps stay and runs are
  // claimed ahead.
  void RunQuickSteps() {
    EnqueueSpec spec;
    spec.workflow_type = "noop";
    auto noops = service->Enqueue(std::vector<EnqueueSpec>(150, spec), false);
    REQUIRE(noops.ok());
    for (const auto& x : *noops) REQUIRE(WaitDone(x.run.id).status == RunStatus::kSucceeded);
  }

  Run WaitDone(const std::string& id) {
    auto r = Wait({id}, false, Millis(30000));
    REQUIRE(r.ok());
    REQUIRE(r->satisfied);
    auto run = service->Get(id, true);
    REQUIRE(run.ok());
    return *run;
  }

  metrics::Metrics metrics;
  Registry registry;
  store::pg::PgRunStore store;
  WaitHub hub;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<RunService> service;
  std::unique_ptr<ChangeRouter> router;
  std::unique_ptr<store::pg::PgListener> listener;
};

std::vector<std::string> Kinds(const Run& r) {
  std::vector<std::string> k;
  for (const auto& e : r.history) k.push_back(e.kind);
  return k;
}

Json Parse(const std::optional<std::string>& s) { return Json::parse(s.value_or("null")); }

// The value of an unlabelled counter in a scrape (-1: not there).
double Counter(const metrics::Metrics& m, const std::string& name) {
  const std::string text = m.Scrape();
  const auto at = text.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("noop runs to SUCCEEDED with a gap-free history") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("noop", R"({"n":1})"));
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.attempt == 1);
  CHECK(r.started_at.has_value());
  CHECK(r.finished_at.has_value());
  CHECK(Kinds(r) ==
        std::vector<std::string>{"enqueued", "step_started", "step_succeeded", "run_succeeded"});
  for (size_t i = 1; i < r.history.size(); ++i) CHECK(r.history[i].seq > r.history[i - 1].seq);
}

TEST_CASE("demo.pipeline carries state across its three steps") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("demo.pipeline", R"({"n":4})"));
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.step_name == "load");
  CHECK(Parse(r.result)["n"] == 40);
  CHECK(Json::parse(r.state)["steps"] == Json::array({"extract", "transform", "load"}));
  int started = 0;
  for (const auto& ev : r.history) started += ev.kind == "step_started";
  CHECK(started == 3);
}

TEST_CASE("demo.flaky retries with backoff until it succeeds") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("demo.flaky", R"({"succeed_on":3})"));
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.attempt == 3);
  CHECK(Parse(r.result)["succeeded_on_attempt"] == 3);
  int retries = 0;
  for (const auto& ev : r.history) {
    if (ev.kind != "retry_scheduled") continue;
    ++retries;
    auto d = Json::parse(ev.data);
    // demo.flaky: exponential from 100 ms, full jitter: delay in [0, 100 * 2^(n-1)].
    CHECK(d["delay_ms"].get<int64_t>() >= 0);
    CHECK(d["delay_ms"].get<int64_t>() <= 100 << (ev.attempt - 1));
  }
  CHECK(retries == 2);
}

TEST_CASE("demo.flaky fails the run once attempts are exhausted") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("demo.flaky", R"({"succeed_on":99})"));
  CHECK(r.status == RunStatus::kFailed);
  CHECK(r.attempt == 5);
  CHECK_THAT(r.error.value_or(""), Catch::Contains("attempt 5 fails"));
  CHECK(Kinds(r).back() == "run_failed");
}

TEST_CASE("a permanent error fails at once") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("demo.flaky", R"({"permanent":true})"));
  CHECK(r.status == RunStatus::kFailed);
  CHECK(r.attempt == 1);
}

TEST_CASE("a step that throws is a failed attempt, and the daemon goes on") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("test.throw"));
  CHECK(r.status == RunStatus::kFailed);
  CHECK(r.attempt == 2);
  CHECK_THAT(r.error.value_or(""), Catch::Contains("kaboom"));
  CHECK(e.WaitDone(e.Enqueue("noop")).status == RunStatus::kSucceeded);
}

TEST_CASE("a step that outlives its timeout is cancelled and counted as a failed attempt") {
  TestDatabase db;
  Engine e(db);
  g_hang_started = 0;
  Run r = e.WaitDone(e.Enqueue("test.hang"));
  CHECK(r.status == RunStatus::kFailed);
  CHECK(g_hang_started == 2);
  CHECK_THAT(r.error.value_or(""), Catch::Contains("timed out"));
}

TEST_CASE("defer re-runs the step later without using an attempt") {
  TestDatabase db;
  Engine e(db);
  Run r = e.WaitDone(e.Enqueue("demo.defer", R"({"ms":300})"));
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.attempt == 1);  // two executions, one attempt
  auto kinds = Kinds(r);
  CHECK(std::count(kinds.begin(), kinds.end(), "step_deferred") == 1);
  CHECK(std::count(kinds.begin(), kinds.end(), "step_started") == 2);
  // The second execution started no earlier than the deferral asked: the
  // handler asked for now + 300 ms after the first claim, so the second claim
  // is at least 300 ms after the first.
  std::vector<TimePoint> starts;
  for (const auto& ev : r.history) {
    if (ev.kind == "step_started") starts.push_back(ev.created_at);
  }
  REQUIRE(starts.size() == 2);
  CHECK(starts[1] - starts[0] >= std::chrono::milliseconds(290));
}

TEST_CASE("a delayed run does not start before its time") {
  TestDatabase db;
  Engine e(db);
  EnqueueSpec s;
  s.workflow_type = "noop";
  s.delay = Millis(700);
  auto res = e.service->Enqueue({s}, false);
  REQUIRE(res.ok());
  Run r = e.WaitDone((*res)[0].run.id);
  // run_at is now + 700 ms when validated; created_at is the insert's own
  // clock, a little later under load, so allow for that.
  CHECK(*r.started_at - r.created_at >= std::chrono::milliseconds(500));
}

TEST_CASE("wait all, wait any and wait timeout") {
  TestDatabase db;
  Engine e(db);
  auto quick = e.Enqueue("noop");
  auto slow = e.Enqueue("demo.sleep", R"({"ms":60000})");

  auto any = e.Wait({quick, slow}, true, Millis(20000));
  REQUIRE(any.ok());
  CHECK(any->satisfied);
  REQUIRE(any->runs.size() == 2);
  CHECK(any->runs[0].id == quick);  // request order
  CHECK(any->runs[0].status == RunStatus::kSucceeded);

  auto all = e.Wait({quick, slow}, false, Millis(300));
  REQUIRE(all.ok());
  CHECK_FALSE(all->satisfied);
  CHECK(all->runs[1].status != RunStatus::kSucceeded);

  auto zero = e.Wait({slow}, false, Millis(0));
  REQUIRE(zero.ok());
  CHECK_FALSE(zero->satisfied);

  REQUIRE(e.service->Cancel(slow, "test").ok());
  auto after = e.Wait({quick, slow}, false, Millis(20000));
  REQUIRE(after.ok());
  CHECK(after->satisfied);
  CHECK(after->runs[1].status == RunStatus::kCanceled);
}

TEST_CASE("many concurrent waiters are all woken") {
  TestDatabase db;
  Engine e(db, 8);
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(e.Enqueue("demo.sleep", R"({"ms":100})"));
  std::vector<std::promise<StatusOr<WaitResult>>> ps(200);
  std::vector<std::future<StatusOr<WaitResult>>> fs;
  for (size_t i = 0; i < ps.size(); ++i) {
    fs.push_back(ps[i].get_future());
    e.service->Wait({ids[i % ids.size()]}, false, Millis(30000),
                    [&ps, i](StatusOr<WaitResult> r) { ps[i].set_value(std::move(r)); });
  }
  for (auto& f : fs) {
    auto r = f.get();
    REQUIRE(r.ok());
    CHECK(r->satisfied);
  }
}

TEST_CASE("without notifications, the periodic re-check answers every waiter, slice by slice") {
  // No listener: the hub never hears of finished runs and must find them
  // with its re-check, which reads a slice of the waiters per pass. 500
  // waiters (more than one slice) on runs finished behind its back.
  TestDatabase db;
  store::pg::PgRunStore store(db.url(), 4);
  WaitHub hub(&store, Millis(300));
  hub.Start();
  std::vector<store::NewRun> runs(500);
  for (auto& r : runs) {
    r.id = RunId::NewV7().str();
    r.workflow_type = "noop";
    r.first_step = "noop";
  }
  REQUIRE(store.Enqueue(runs).ok());
  std::vector<std::promise<StatusOr<WaitResult>>> ps(runs.size());
  std::vector<std::future<StatusOr<WaitResult>>> fs;
  for (size_t i = 0; i < runs.size(); ++i) {
    fs.push_back(ps[i].get_future());
    hub.Wait({runs[i].id}, false, Millis(60000),
             [&ps, i](StatusOr<WaitResult> r) { ps[i].set_value(std::move(r)); });
  }
  REQUIRE(WaitFor([&] { return hub.waiting() == runs.size(); }));
  for (const auto& r : runs) REQUIRE(store.Cancel(r.id, "finished elsewhere").ok());
  for (size_t i = 0; i < fs.size(); ++i) {
    REQUIRE(fs[i].wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    auto r = fs[i].get();
    REQUIRE(r.ok());
    CHECK(r->satisfied);
    REQUIRE(r->runs.size() == 1);
    CHECK(r->runs[0].status == RunStatus::kCanceled);
  }
  hub.Stop();
}

TEST_CASE("a Wait on a run whose step finishes here needs no notification and no re-check") {
  // No listener, and a re-check far beyond the Wait's timeout: only the
  // record that finishes the run can answer the waiter.
  TestDatabase db;
  Registry registry;
  REQUIRE(workers::RegisterBuiltins(registry).ok());
  store::pg::PgRunStore store(db.url(), 8);
  WaitHub hub(&store, Millis(600000));
  DispatcherOptions o;
  o.owner = "test-node";
  o.poll_interval = Millis(200);
  o.finished_runs = &hub;
  Dispatcher dispatcher({&store, &store, &store}, &registry, o);
  RunService service(&store, &store, &registry, &hub, &dispatcher, Limits{});
  hub.Start();
  dispatcher.Start();
  EnqueueSpec spec;
  spec.workflow_type = "demo.sleep";
  spec.input = R"({"ms":300})";
  auto runs = service.Enqueue({spec, spec}, false);
  REQUIRE(runs.ok());
  std::promise<StatusOr<WaitResult>> p;
  auto f = p.get_future();
  service.Wait({(*runs)[0].run.id, (*runs)[1].run.id}, false, Millis(30000),
               [&](StatusOr<WaitResult> r) { p.set_value(std::move(r)); });
  REQUIRE(f.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  auto r = f.get();
  REQUIRE(r.ok());
  CHECK(r->satisfied);
  REQUIRE(r->runs.size() == 2);
  for (const auto& run : r->runs) {
    CHECK(run.status == RunStatus::kSucceeded);
    CHECK(run.finished_at.has_value());
  }
  dispatcher.Stop();
  hub.Stop();
}

TEST_CASE("a finish notified while its row is on its way from the record waits for the row") {
  TestDatabase db;
  store::pg::PgRunStore store(db.url(), 4);
  WaitHub hub(&store, Millis(600000));
  hub.Start();
  std::vector<store::NewRun> runs(2);
  for (auto& r : runs) {
    r.id = RunId::NewV7().str();
    r.workflow_type = "noop";
    r.first_step = "noop";
  }
  REQUIRE(store.Enqueue(runs).ok());
  auto claimed = store.Claim("node-a", {"default"}, {"noop"}, 2, Millis(60000));
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  std::map<std::string, std::promise<StatusOr<WaitResult>>> ps;
  std::map<std::string, std::future<StatusOr<WaitResult>>> fs;
  for (const auto& r : runs) {
    fs[r.id] = ps[r.id].get_future();
    hub.Wait({r.id}, false, Millis(60000),
             [&ps, id = r.id](StatusOr<WaitResult> w) { ps[id].set_value(std::move(w)); });
  }
  REQUIRE(WaitFor([&] { return hub.waiting() == 2; }));
  const std::string a = runs[0].id, b = runs[1].id;
  REQUIRE(hub.Want({a, b, "not-waited-on"}) == std::vector<bool>{true, true, false});

  // a: finished by the record, which returns it; its notification comes
  // first (as it can: the listener hears of the commit before the recorder).
  const store::ClaimedRun& ca = (*claimed)[0].run.id == a ? (*claimed)[0] : (*claimed)[1];
  store::Outcome done;
  done.run_id = a;
  done.lease_id = ca.lease_id;
  done.status = RunStatus::kSucceeded;
  done.step_name = "noop";
  done.attempt = 1;
  done.result = R"({"from":"record"})";
  done.events = {{"run_succeeded", "noop", 1, "{}"}};
  done.return_run = true;
  store::Recorded recorded;
  REQUIRE(store.RecordOutcomes({done}, &recorded).ok());
  REQUIRE(recorded.runs.size() == 1);
  hub.NotifyFinished(a);
  // b: its record failed, and it was canceled elsewhere meanwhile.
  REQUIRE(store.Cancel(b, "elsewhere").ok());
  hub.NotifyFinished(b);
  // Until the rows are handed over, the notifications answer nobody.
  CHECK(fs[a].wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  CHECK(fs[b].wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);

  hub.Delivered({a, b}, std::move(recorded.runs));
  for (const auto& id : {a, b}) {
    REQUIRE(fs[id].wait_for(std::chrono::seconds(20)) == std::future_status::ready);
  }
  auto wa = fs[a].get();
  REQUIRE(wa.ok());
  CHECK(wa->satisfied);
  CHECK(wa->runs.at(0).result == std::optional<std::string>(R"({"from": "record"})"));
  auto wb = fs[b].get();  // read, as for any notified run
  REQUIRE(wb.ok());
  CHECK(wb->satisfied);
  CHECK(wb->runs.at(0).status == RunStatus::kCanceled);
  hub.Stop();
}

TEST_CASE("canceling a running step stops its handler and the run stays CANCELED") {
  TestDatabase db;
  Engine e(db);
  auto id = e.Enqueue("demo.sleep", R"({"ms":60000})");
  REQUIRE(WaitFor([&] { return e.service->Get(id, false)->status == RunStatus::kRunning; }));
  REQUIRE(e.service->Cancel(id, "stop").ok());
  REQUIRE(WaitFor([&] { return e.dispatcher->in_flight() == 0; }, Millis(10000)));
  Run r = *e.service->Get(id, true);
  CHECK(r.status == RunStatus::kCanceled);
  CHECK(Kinds(r) == std::vector<std::string>{"enqueued", "step_started", "run_canceled"});
}

TEST_CASE("a long step's start is in its history while it runs, and written once") {
  TestDatabase db;
  Engine e(db);
  auto id = e.Enqueue("demo.sleep", R"({"ms":2000})");
  // Written by the daemon once the step has run a moment, not at its end.
  REQUIRE(WaitFor(
      [&] {
        auto r = e.service->Get(id, true);
        return r->status == RunStatus::kRunning && Kinds(*r).size() == 2;
      },
      Millis(10000)));
  CHECK(Kinds(*e.service->Get(id, true)) == std::vector<std::string>{"enqueued", "step_started"});
  Run r = e.WaitDone(id);
  CHECK(Kinds(r) ==
        std::vector<std::string>{"enqueued", "step_started", "step_succeeded", "run_succeeded"});
  CHECK(r.history[1].created_at == r.started_at);
}

TEST_CASE("while steps are fast, a run's next step runs on its daemon without a claim") {
  TestDatabase db;
  Engine e(db);
  e.RunQuickSteps();
  CHECK(Counter(e.metrics, "cueball_steps_continued_total") == 0);

  Run r = e.WaitDone(e.Enqueue("demo.pipeline", R"({"n":4})"));
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(Parse(r.result)["n"] == 40);
  // Its second and third steps stayed: the same history as through the
  // queue, each step started once, as attempt 1, by this daemon.
  CHECK(Counter(e.metrics, "cueball_steps_continued_total") == 2);
  std::vector<std::string> got;
  for (const auto& ev : r.history) {
    got.push_back(ev.kind + " " + ev.step + " " + std::to_string(ev.attempt));
    if (ev.kind == "step_started") CHECK_THAT(ev.data, Catch::Contains("test-node"));
  }
  CHECK(got == std::vector<std::string>{"enqueued extract 0", "step_started extract 1",
                                        "step_succeeded extract 1", "step_started transform 1",
                                        "step_succeeded transform 1", "step_started load 1",
                                        "step_succeeded load 1", "run_succeeded load 1"});
}

TEST_CASE("a daemon that stops while next steps stay on it leaves no run running") {
  TestDatabase db;
  std::vector<std::string> ids;
  {
    Engine e(db);
    e.RunQuickSteps();
    EnqueueSpec spec;
    spec.workflow_type = "demo.pipeline";
    auto runs = e.service->Enqueue(std::vector<EnqueueSpec>(1000, spec), false);
    REQUIRE(runs.ok());
    for (const auto& x : *runs) ids.push_back(x.run.id);
    REQUIRE(WaitFor([&] { return Counter(e.metrics, "cueball_steps_continued_total") > 0; }));
  }  // stops with pipelines in flight, some of them between two steps
  store::pg::PgRunStore s(db.url(), 2);
  // Every run finished, or is back in the queue for any daemon; none is
  // left RUNNING under a lease nobody holds.
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs WHERE status = 'running'") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs WHERE workflow_type = 'demo.pipeline' "
                  "AND status IN ('succeeded', 'enqueued')") == "1000");
  // A daemon started afterwards finishes the rest.
  Engine again(db);
  for (const auto& id : ids) CHECK(again.WaitDone(id).status == RunStatus::kSucceeded);
}

TEST_CASE("a daemon that stops in the middle of a run's steps releases it at that step") {
  TestDatabase db;
  std::string id;
  {
    Engine a(db);
    id = a.Enqueue("test.then_hang");
    REQUIRE(WaitFor([&] {
      auto r = a.service->Get(id, false);
      return r->status == RunStatus::kRunning && r->step_name == "hang";
    }));
  }  // stops: the hung step is canceled after the drain timeout and released
  store::pg::PgRunStore s(db.url(), 2);
  auto r = s.Get(id, true);
  REQUIRE(r.ok());
  // Back in the queue at the step it was in, with the attempt given back,
  // for any daemon to pick up.
  CHECK(r->status == RunStatus::kEnqueued);
  CHECK(r->step_name == "hang");
  CHECK(r->attempt == 0);
  CHECK(Kinds(*r) == std::vector<std::string>{"enqueued", "step_started", "step_succeeded",
                                              "step_started", "step_released"});
}

TEST_CASE("runs claimed ahead are handed back unstarted when steps turn slow") {
  // Fast steps let the one worker hold many claimed runs; the first slow
  // step shows it is behind, and the runs still waiting for it go back to
  // the queue (released, the handler never run) instead of waiting here.
  TestDatabase db;
  Engine e(db, /*workers=*/1);
  auto enqueue_many = [&](const std::string& type, int n) {
    EnqueueSpec spec;
    spec.workflow_type = type;
    auto r = e.service->Enqueue(std::vector<EnqueueSpec>(n, spec), false);
    REQUIRE(r.ok());
    std::vector<std::string> ids;
    for (const auto& x : *r) ids.push_back(x.run.id);
    return ids;
  };
  for (const auto& id : enqueue_many("noop", 150)) {  // steps are fast: claim ahead
    REQUIRE(e.WaitDone(id).status == RunStatus::kSucceeded);
  }
  g_slow_first_calls = 0;
  auto ids = enqueue_many("test.slow_first", 20);
  int released = 0;
  for (const auto& id : ids) {
    Run r = e.WaitDone(id);
    CHECK(r.status == RunStatus::kSucceeded);
    for (const auto& ev : r.history) {
      if (ev.kind != "step_released") continue;
      ++released;
      CHECK_THAT(ev.data, Catch::Contains("handed back unstarted"));
    }
  }
  CHECK(released > 0);
  CHECK(g_slow_first_calls == 20);  // each handler ran once: none before it was handed back
}

TEST_CASE("an outcome the database refuses fails its run and holds up no other outcome") {
  // The database refuses this one outcome for good (here a constraint the
  // test adds; in life a value past one of its limits). Retrying the whole
  // batch would refuse it forever, and nothing recorded after it would be:
  // the completer records the batch's outcomes one by one instead, and the
  // refused run fails, saying why.
  TestDatabase db;
  db.Exec(
      "ALTER TABLE cueball_runs ADD CONSTRAINT test_refuses_poison "
      "CHECK (result IS NULL OR position('poison' in result::text) = 0)");
  Engine e(db, /*workers=*/4);
  std::vector<EnqueueSpec> specs;
  for (int i = 0; i < 40; ++i) {
    EnqueueSpec s;
    s.workflow_type = "test.echo";
    s.input = Json{{"v", i == 17 ? std::string("poison") : "fine " + std::to_string(i)}}.dump();
    specs.push_back(s);
  }
  auto r = e.service->Enqueue(specs, false);
  REQUIRE(r.ok());
  for (size_t i = 0; i < r->size(); ++i) {
    Run run = e.WaitDone((*r)[i].run.id);
    if (i == 17) {
      CHECK(run.status == RunStatus::kFailed);
      REQUIRE(run.error);
      CHECK_THAT(*run.error, Catch::Contains("the step's outcome could not be recorded") &&
                                 Catch::Contains("test_refuses_poison"));
      CHECK(Kinds(run) ==
            std::vector<std::string>{"enqueued", "step_started", "step_failed", "run_failed"});
    } else {
      CHECK(run.status == RunStatus::kSucceeded);
      CHECK(Parse(run.result)["v"] == "fine " + std::to_string(i));
    }
  }
  // And the daemon goes on recording.
  CHECK(e.WaitDone(e.Enqueue("noop")).status == RunStatus::kSucceeded);
}

TEST_CASE("a step's text with NUL characters is recorded with U+FFFD") {
  // PostgreSQL's text and jsonb cannot hold U+0000; such an outcome used to
  // fail every retry of its batch, and nothing more was recorded.
  TestDatabase db;
  Engine e(db);
  Run run = e.WaitDone(e.Enqueue("test.nul"));
  CHECK(run.status == RunStatus::kSucceeded);
  CHECK(Parse(run.result)["v"] ==
        "a\xEF\xBF\xBD"
        "b");
  CHECK(Parse(run.state)["k\xEF\xBF\xBD"] == "s\xEF\xBF\xBD");
  CHECK(e.WaitDone(e.Enqueue("noop")).status == RunStatus::kSucceeded);
}

TEST_CASE("bad input gets a clear error naming the field and writes nothing") {
  TestDatabase db;
  Engine e(db);
  auto count = [&] { return db.Scalar("SELECT count(*) FROM cueball_runs"); };
  auto enqueue = [&](EnqueueSpec s) { return e.service->Enqueue({s}, false).status(); };
  EnqueueSpec ok;
  ok.workflow_type = "noop";

  struct Case {
    const char* name;
    std::function<void(EnqueueSpec&)> mutate;
    StatusCode code;
    const char* field;
  };
  std::vector<Case> cases = {
      {"missing type", [](EnqueueSpec& s) { s.workflow_type = ""; }, StatusCode::kInvalidArgument,
       "workflow_type"},
      {"unknown type", [](EnqueueSpec& s) { s.workflow_type = "nope"; }, StatusCode::kNotFound,
       "workflow_type"},
      {"malformed JSON", [](EnqueueSpec& s) { s.input = "{bad"; }, StatusCode::kInvalidArgument,
       "input"},
      {"payload over the cap",
       [](EnqueueSpec& s) { s.input = "\"" + std::string(2 << 20, 'x') + "\""; },
       StatusCode::kResourceExhausted, "input"},
      {"bad queue", [](EnqueueSpec& s) { s.queue = "no spaces allowed"; },
       StatusCode::kInvalidArgument, "queue"},
      {"priority out of range", [](EnqueueSpec& s) { s.priority = 5000; },
       StatusCode::kInvalidArgument, "priority"},
      {"negative delay", [](EnqueueSpec& s) { s.delay = Millis(-1); }, StatusCode::kInvalidArgument,
       "delay"},
      {"absurd delay", [](EnqueueSpec& s) { s.delay = Millis(int64_t{400} * 86400000); },
       StatusCode::kInvalidArgument, "delay"},
      {"run_at and delay",
       [](EnqueueSpec& s) {
         s.delay = Millis(1);
         s.run_at = Now();
       },
       StatusCode::kInvalidArgument, "delay"},
      {"long key", [](EnqueueSpec& s) { s.idempotency_key = std::string(300, 'k'); },
       StatusCode::kInvalidArgument, "idempotency_key"},
      // PostgreSQL cannot store U+0000 in text or jsonb.
      {"NUL in the input's JSON", [](EnqueueSpec& s) { s.input = R"({"a":["x\u0000y"]})"; },
       StatusCode::kInvalidArgument, "input"},
      {"NUL in the key", [](EnqueueSpec& s) { s.idempotency_key = std::string("k\0k", 3); },
       StatusCode::kInvalidArgument, "idempotency_key"},
      // Deep nesting: the database's parser stops at its stack limit, and a
      // recursive dump ended the daemon.
      {"JSON nested too deep",
       [](EnqueueSpec& s) { s.input = std::string(100000, '[') + std::string(100000, ']'); },
       StatusCode::kInvalidArgument, "input"},
      {"deep JSON with an escaped NUL",
       [](EnqueueSpec& s) {
         s.input = std::string(5000, '[') + R"("\u0000")" + std::string(5000, ']');
       },
       StatusCode::kInvalidArgument, "input"},
  };
  for (auto& c : cases) {
    INFO(c.name);
    EnqueueSpec s = ok;
    c.mutate(s);
    Status st = enqueue(s);
    CHECK(st.code() == c.code);
    CHECK_THAT(st.message(), Catch::StartsWith(c.field));
  }
  CHECK(count() == "0");

  // Batches: empty, oversized, and one bad item among good ones.
  CHECK(e.service->Enqueue({}, true).status().code() == StatusCode::kInvalidArgument);
  std::vector<EnqueueSpec> big(1001, ok);
  CHECK(e.service->Enqueue(big, true).status().code() == StatusCode::kInvalidArgument);
  std::vector<EnqueueSpec> mixed(3, ok);
  mixed[2].input = "[1,";
  auto m = e.service->Enqueue(mixed, true);
  CHECK(m.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(m.status().message(), Catch::StartsWith("runs[2].input"));
  CHECK(count() == "0");

  // Reads and cancel.
  CHECK(e.service->Get("not-a-uuid", false).status().code() == StatusCode::kInvalidArgument);
  CHECK(e.service->Get(RunId::NewV7().str(), false).status().code() == StatusCode::kNotFound);
  CHECK(e.service->Cancel("", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.service->Cancel(RunId::NewV7().str(), "").status().code() == StatusCode::kNotFound);
  auto nul_reason = e.service->Cancel(RunId::NewV7().str(), std::string("a\0b", 3));
  CHECK(nul_reason.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(nul_reason.status().message(), Catch::StartsWith("reason"));
  // The escaped backslash before "u0000" is six plain characters, and
  // brackets inside strings do not nest: accepted.
  EnqueueSpec literal = ok;
  literal.input = R"({"a":"\\u0000"})";
  auto accepted = e.service->Enqueue({literal}, false);
  REQUIRE(accepted.ok());
  EnqueueSpec brackets = ok;
  brackets.input = Json{{"a", std::string(1000, '[')}, {"b", "\"]"}}.dump();
  CHECK(e.service->Enqueue({brackets}, false).ok());
  // A signal's payload is held to the same rules.
  const std::string target = (*accepted)[0].run.id;
  auto deep_signal =
      e.service->Signal(target, "go", std::string(200, '[') + std::string(200, ']'), "");
  CHECK(deep_signal.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(deep_signal.status().message(), Catch::StartsWith("payload"));
  auto nul_signal = e.service->Signal(target, "go", R"({"x":"\u0000"})", "");
  CHECK(nul_signal.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(nul_signal.status().message(), Catch::StartsWith("payload"));
  ListSpec l;
  l.page_size = 1001;
  CHECK_THAT(e.service->List(l).status().message(), Catch::StartsWith("page_size"));
  l.page_size = -1;
  CHECK(e.service->List(l).status().code() == StatusCode::kInvalidArgument);
  l.page_size = 10;
  l.page_token = "garbage";
  CHECK_THAT(e.service->List(l).status().message(), Catch::StartsWith("page_token"));

  // Wait.
  auto wait_error = [&](std::vector<std::string> ids, std::optional<Millis> t) {
    std::promise<Status> p;
    e.service->Wait(ids, false, t, [&](StatusOr<WaitResult> r) { p.set_value(r.status()); });
    return p.get_future().get();
  };
  CHECK_THAT(wait_error({}, Millis(1)).message(), Catch::StartsWith("ids"));
  CHECK_THAT(wait_error({"x"}, Millis(1)).message(), Catch::StartsWith("ids[0]"));
  CHECK(wait_error({RunId::NewV7().str()}, Millis(1000)).code() == StatusCode::kNotFound);
  std::string real = e.Enqueue("noop");
  CHECK_THAT(wait_error({real}, Millis(-1)).message(), Catch::StartsWith("timeout"));
  CHECK_THAT(wait_error({real}, Millis(int64_t{7200} * 1000)).message(),
             Catch::StartsWith("timeout"));
  std::vector<std::string> many(1001, real);
  CHECK(wait_error(many, Millis(1)).code() == StatusCode::kInvalidArgument);
}

TEST_CASE("list pages through runs with filters") {
  TestDatabase db;
  Engine e(db);
  std::vector<std::string> failed;
  for (int i = 0; i < 5; ++i) failed.push_back(e.Enqueue("demo.flaky", R"({"permanent":true})"));
  for (int i = 0; i < 3; ++i) e.Enqueue("noop");
  for (auto& id : failed) e.WaitDone(id);
  ListSpec spec;
  spec.statuses = {RunStatus::kFailed};
  spec.workflow_type = "demo.flaky";
  spec.page_size = 2;
  std::vector<std::string> seen;
  while (true) {
    auto page = e.service->List(spec);
    REQUIRE(page.ok());
    for (auto& r : page->runs) {
      CHECK(r.status == RunStatus::kFailed);
      seen.push_back(r.id);
    }
    if (page->next_page_token.empty()) break;
    spec.page_token = page->next_page_token;
  }
  std::sort(failed.begin(), failed.end());
  std::sort(seen.begin(), seen.end());
  CHECK(seen == failed);
}

TEST_CASE("idempotent enqueue through the engine returns the same run") {
  TestDatabase db;
  Engine e(db);
  EnqueueSpec s;
  s.workflow_type = "noop";
  s.idempotency_key = "payment-7";
  auto a = e.service->Enqueue({s}, false);
  auto b = e.service->Enqueue({s}, false);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK((*a)[0].created);
  CHECK_FALSE((*b)[0].created);
  CHECK((*a)[0].run.id == (*b)[0].run.id);
}

TEST_CASE("retry re-enqueues a failed run from its failed step, recorded as an event") {
  TestDatabase db;
  Engine e(db);
  g_once_calls = 0;
  auto id = e.Enqueue("test.once");
  Run failed = e.WaitDone(id);
  REQUIRE(failed.status == RunStatus::kFailed);
  CHECK(failed.step_name == "b");

  auto retried = e.service->Retry(id, "dependency fixed");
  REQUIRE(retried.ok());
  CHECK(retried->status == RunStatus::kEnqueued);
  CHECK(retried->step_name == "b");
  CHECK(retried->attempt == 0);
  Run done = e.WaitDone(id);
  CHECK(done.status == RunStatus::kSucceeded);
  CHECK(Parse(done.result) == "fixed");
  CHECK(Json::parse(done.state)["a_runs"] == 1);  // step "a" did not run again
  auto kinds = Kinds(done);
  CHECK(std::count(kinds.begin(), kinds.end(), "run_retried") == 1);

  auto again = e.service->Retry(id, "");
  CHECK(again.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(again.status().message(), Catch::Contains("only failed runs"));
  CHECK(e.service->Retry("bad", "").status().code() == StatusCode::kInvalidArgument);
  CHECK(e.service->Retry(RunId::NewV7().str(), "").status().code() == StatusCode::kNotFound);
}

TEST_CASE("heartbeats keep a step that outlives its lease from being rescued") {
  TestDatabase db;
  Engine e(db, 4, Millis(1000));
  maintenance::Rescuer rescuer(&e.store, &e.store, &e.registry, Millis(100));
  rescuer.Start();
  Run r = e.WaitDone(e.Enqueue("demo.sleep", R"({"ms":3000})"));
  rescuer.Stop();
  CHECK(r.status == RunStatus::kSucceeded);
  CHECK(r.attempt == 1);
  auto kinds = Kinds(r);
  CHECK(std::count(kinds.begin(), kinds.end(), "run_rescued") == 0);
}

TEST_CASE("a step whose lease is lost is stopped") {
  TestDatabase db;
  Engine e(db, 4, Millis(1000));
  auto id = e.Enqueue("demo.sleep", R"({"ms":60000})");
  REQUIRE(WaitFor([&] { return e.dispatcher->in_flight() == 1; }));
  // Another daemon rescued the run meanwhile (simulated): the lease is gone.
  db.Exec(
      "UPDATE cueball_runs SET status = 'enqueued', lease_id = NULL, lease_owner = NULL, "
      "lease_expires_at = NULL, run_at = now() + interval '1 hour'");
  CHECK(WaitFor([&] { return e.dispatcher->in_flight() == 0; }, Millis(10000)));
  CHECK(e.service->Get(id, false)->status == RunStatus::kEnqueued);
}
