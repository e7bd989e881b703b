// Flow control end to end, against real daemons and PostgreSQL: tags and
// the List filters by tag and idempotency key; bulk Cancel and Retry by
// filter (batched, dry run, --all); paused queues across two daemons. Each
// with its bad input, which changes nothing.
#include <google/protobuf/util/time_util.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "client/client.h"
#include "tests/e2e/enqueue_many.h"
#include "tests/support/daemon.h"
#include "tests/support/runs.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;
using nlohmann::json;

namespace {

std::string Tagged(client::Client& c, const std::string& type, const std::string& input,
                   const std::map<std::string, std::string>& tags, const std::string& key = "",
                   grpc::Status* status = nullptr) {
  v1::EnqueueRequest req;
  req.set_workflow_type(type);
  req.set_input(input);
  req.set_idempotency_key(key);
  req.mutable_tags()->insert(tags.begin(), tags.end());
  v1::EnqueueResponse resp;
  auto s = c.Enqueue(req, &resp);
  if (status) {
    *status = s;
    return resp.run().id();
  }
  INFO(s.error_message());
  REQUIRE(s.ok());
  return resp.run().id();
}

// Every run a List request matches, across pages.
std::vector<v1::Run> ListAll(client::Client& c, v1::ListRequest req) {
  std::vector<v1::Run> out;
  req.set_page_size(req.page_size() ? req.page_size() : 1000);
  while (true) {
    v1::ListResponse resp;
    auto s = c.List(req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    out.insert(out.end(), resp.runs().begin(), resp.runs().end());
    if (resp.next_page_token().empty()) return out;
    req.set_page_token(resp.next_page_token());
  }
}

v1::ListRequest ByTags(const std::map<std::string, std::string>& tags) {
  v1::ListRequest req;
  req.mutable_tags()->insert(tags.begin(), tags.end());
  return req;
}

// How many runs a bulk action would change (a dry run); 0 when none.
template <class Req, class Resp>
int64_t DryRun(grpc::Status (client::Client::*call)(const Req&, Resp*, Millis), client::Client& c,
               Req req) {
  req.set_dry_run(true);
  Resp resp;
  auto s = (c.*call)(req, &resp, Millis(0));
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) return 0;
  INFO(s.error_message());
  REQUIRE(s.ok());
  CHECK(resp.dry_run());
  return resp.count();
}

int64_t RetryDryRun(client::Client& c, const v1::RetryRunsRequest& req) {
  return DryRun(&client::Client::RetryRuns, c, req);
}

int64_t CancelDryRun(client::Client& c, const v1::CancelRunsRequest& req) {
  return DryRun(&client::Client::CancelRuns, c, req);
}

int CountEvents(const v1::Run& r, const std::string& kind) {
  int n = 0;
  for (const auto& e : r.history()) n += e.kind() == kind;
  return n;
}

}  // namespace

TEST_CASE("tags are kept with a run, and List finds runs by tag and by idempotency key") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());

  std::vector<std::string> prod;
  for (int i = 0; i < 3; ++i) {
    prod.push_back(Tagged(c, "noop", "{}", {{"customer", "42"}, {"env", "prod"}}));
  }
  const std::string seven = Tagged(c, "noop", "{}", {{"customer", "7"}}, "order-7");
  const std::string plain = Enqueue(c, "noop");
  REQUIRE(WaitFor([&] { return StatusIs(c, plain, v1::RUN_STATUS_SUCCEEDED); }));

  auto run = GetRun(c, prod[0], false);
  CHECK(run.tags().size() == 2);
  CHECK(run.tags().at("customer") == "42");
  CHECK(GetRun(c, plain, false).tags().empty());

  CHECK(ListAll(c, ByTags({{"customer", "42"}})).size() == 3);
  CHECK(ListAll(c, ByTags({{"customer", "42"}, {"env", "prod"}})).size() == 3);
  CHECK(ListAll(c, ByTags({{"customer", "42"}, {"env", "dev"}})).empty());
  auto sevens = ListAll(c, ByTags({{"customer", "7"}}));
  REQUIRE(sevens.size() == 1);
  CHECK(sevens[0].id() == seven);
  {
    // Pages of a tag filter, newest first, with a status and type too.
    v1::ListRequest req = ByTags({{"customer", "42"}});
    req.set_page_size(2);
    req.set_workflow_type("noop");
    REQUIRE(WaitFor([&] {
      for (const auto& id : prod) {
        if (!StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED)) return false;
      }
      return true;
    }));
    req.add_statuses(v1::RUN_STATUS_SUCCEEDED);
    v1::ListResponse page;
    REQUIRE(c.List(req, &page).ok());
    REQUIRE(page.runs_size() == 2);
    CHECK(page.runs(0).id() == prod[2]);
    CHECK(page.runs(1).id() == prod[1]);
    REQUIRE(!page.next_page_token().empty());
    req.set_page_token(page.next_page_token());
    REQUIRE(c.List(req, &page).ok());
    REQUIRE(page.runs_size() == 1);
    CHECK(page.runs(0).id() == prod[0]);
  }
  {
    v1::ListRequest req;
    req.set_idempotency_key("order-7");
    auto found = ListAll(c, req);
    REQUIRE(found.size() == 1);
    CHECK(found[0].id() == seven);
    req.set_idempotency_key("order-8");
    CHECK(ListAll(c, req).empty());
  }

  // The CLI: enqueue --tag, list --tag / --filter tag.K=V / --key.
  auto out = d.Cli({"enqueue", "noop", "--tag", "customer=42", "--tag", "env=cli"});
  REQUIRE(out.exit_code == 0);
  auto listed = d.Cli({"--json", "list", "--filter", "tag.env=cli"});
  REQUIRE(listed.exit_code == 0);
  auto doc = json::parse(listed.out);
  REQUIRE(doc["runs"].size() == 1);
  CHECK(doc["runs"][0]["tags"]["customer"] == "42");
  CHECK(json::parse(d.Cli({"--json", "list", "--tag", "customer=42"}).out)["runs"].size() == 4);
  CHECK(json::parse(d.Cli({"--json", "list", "--key", "order-7"}).out)["runs"].size() == 1);
  CHECK(d.Cli({"list", "--tag", "novalue"}).exit_code == 2);
  CHECK(d.Cli({"list", "--filter", "colour=red"}).exit_code == 2);

  // Bad tags: refused with the field named, nothing enqueued.
  const size_t before = ListAll(c, v1::ListRequest()).size();
  grpc::Status st;
  std::map<std::string, std::string> many;
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = "v";
  Tagged(c, "noop", "{}", many, "", &st);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(st.error_message(), Catch::StartsWith("tags: 17 tags exceeds the limit of 16"));
  Tagged(c, "noop", "{}", {{"a b", "x"}}, "", &st);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(st.error_message(), Catch::StartsWith("tags: key 'a b'"));
  Tagged(c, "noop", "{}", {{std::string(65, 'k'), "x"}}, "", &st);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  Tagged(c, "noop", "{}", {{"big", std::string(257, 'v')}}, "", &st);
  CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(st.error_message(), Catch::StartsWith("tags[big]: value of 257 bytes"));
  {
    v1::EnqueueBatchRequest req;
    req.add_runs()->set_workflow_type("noop");
    auto* bad = req.add_runs();
    bad->set_workflow_type("noop");
    (*bad->mutable_tags())["bad/key"] = "x";
    v1::EnqueueBatchResponse resp;
    st = c.EnqueueBatch(req, &resp);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(st.error_message(), Catch::StartsWith("runs[1].tags: key 'bad/key'"));
  }
  CHECK(ListAll(c, v1::ListRequest()).size() == before);
  {
    v1::ListRequest req = ByTags({{"no spaces", "x"}});
    v1::ListResponse resp;
    st = c.List(req, &resp);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(st.error_message(), Catch::StartsWith("tags: key"));
    req = v1::ListRequest();
    req.set_idempotency_key(std::string(256, 'k'));
    st = c.List(req, &resp);
    CHECK(st.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(st.error_message(), Catch::StartsWith("idempotency_key:"));
  }
}

TEST_CASE("bulk retry and cancel change every run a filter matches, in batches, and count them") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "8", "--queues", "default,slow"});
  client::Client c(d.address());

  // 1,200 runs that fail for good (three batches of the bulk action), and
  // 5 more of another tag that must not be touched.
  const std::string fail = R"({"permanent": true})";
  auto a = EnqueueMany(c, 1200, "demo.flaky", fail, "", {{"batch", "a"}});
  auto b = EnqueueMany(c, 5, "demo.flaky", fail, "", {{"batch", "b"}});
  v1::RetryRunsRequest retry_a;
  (*retry_a.mutable_filter()->mutable_tags())["batch"] = "a";
  REQUIRE(WaitFor([&] { return RetryDryRun(c, retry_a) == 1200; }, std::chrono::seconds(120)));
  v1::RetryRunsRequest retry_b;
  (*retry_b.mutable_filter()->mutable_tags())["batch"] = "b";
  REQUIRE(WaitFor([&] { return RetryDryRun(c, retry_b) == 5; }));

  retry_a.set_reason("fix deployed");
  v1::RetryRunsResponse retried;
  auto st = c.RetryRuns(retry_a, &retried);
  INFO(st.error_message());
  REQUIRE(st.ok());
  CHECK(retried.count() == 1200);
  CHECK_FALSE(retried.dry_run());
  // Each was retried once, with the reason in its history; batch b was not.
  for (const std::string& id : {a.front(), a[600], a.back()}) {
    REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_FAILED); }));
    auto run = GetRun(c, id);
    CHECK(CountEvents(run, "run_retried") == 1);
    CHECK(CountEvents(run, "step_started") == 2);
    for (const auto& e : run.history()) {
      if (e.kind() == "run_retried") CHECK(json::parse(e.data())["reason"] == "fix deployed");
    }
  }
  for (const auto& id : b) CHECK(CountEvents(GetRun(c, id), "run_retried") == 0);

  // The CLI: a dry run counts, then retry by --filter.
  auto dry = d.Cli({"retry", "--filter", "tag.batch=b", "--dry-run"});
  CHECK(dry.exit_code == 0);
  CHECK(dry.out == "5 runs would be retried (dry run)\n");
  auto done = d.Cli({"retry", "--filter", "tag.batch=b", "--filter", "status=failed"});
  CHECK(done.exit_code == 0);
  CHECK(done.out == "5 runs retried\n");

  // Cancel: 600 long sleeps on queue "slow", some running, most enqueued.
  auto slow = EnqueueMany(c, 600, "demo.sleep", R"({"ms": 600000})", "slow");
  v1::CancelRunsRequest cancel_slow;
  cancel_slow.mutable_filter()->set_queue("slow");
  REQUIRE(WaitFor([&] {
    v1::CancelRunsRequest running = cancel_slow;
    running.mutable_filter()->add_statuses(v1::RUN_STATUS_RUNNING);
    return CancelDryRun(c, running) >= 4;
  }));
  CHECK(CancelDryRun(c, cancel_slow) == 600);
  cancel_slow.set_reason("queue drained by ops");
  v1::CancelRunsResponse canceled;
  st = c.CancelRuns(cancel_slow, &canceled);
  INFO(st.error_message());
  REQUIRE(st.ok());
  CHECK(canceled.count() == 600);
  for (const auto& id : slow) {
    auto run = GetRun(c, id, false);
    CHECK(run.status() == v1::RUN_STATUS_CANCELED);
    CHECK(run.error() == "queue drained by ops");
  }
  // A run canceled while its step ran has that attempt's start and the cancel.
  REQUIRE(WaitFor([&] {
    for (const auto& id : slow) {
      if (CountEvents(GetRun(c, id), "step_started") == 1) return true;
    }
    return false;
  }));

  // Bad input: each refused with the field named, nothing changed.
  const int64_t failed_before = RetryDryRun(c, retry_a);
  auto expect = [&](const grpc::Status& s, grpc::StatusCode code, const std::string& prefix) {
    INFO(s.error_message());
    CHECK(s.error_code() == code);
    CHECK_THAT(s.error_message(), Catch::StartsWith(prefix));
  };
  {
    v1::RetryRunsRequest req;  // no filter, no all
    v1::RetryRunsResponse resp;
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "filter: empty");
    req.set_all(true);
    req.set_dry_run(true);
    REQUIRE(c.RetryRuns(req, &resp).ok());
    CHECK(resp.count() >= 1200);
    v1::CancelRunsRequest creq;
    creq.mutable_filter()->add_statuses(v1::RUN_STATUS_SUCCEEDED);
    v1::CancelRunsResponse cresp;
    expect(c.CancelRuns(creq, &cresp), grpc::StatusCode::INVALID_ARGUMENT,
           "filter.statuses: succeeded runs cannot be canceled");
    creq = v1::CancelRunsRequest();
    creq.mutable_filter()->set_queue("slow");
    expect(c.CancelRuns(creq, &cresp), grpc::StatusCode::NOT_FOUND, "filter: no ");
    creq.mutable_filter()->set_queue("bad queue");
    expect(c.CancelRuns(creq, &cresp), grpc::StatusCode::INVALID_ARGUMENT, "filter.queue:");
    req = retry_a;
    (*req.mutable_filter()->mutable_tags())["x y"] = "1";
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "filter.tags: key");
    req = retry_a;
    *req.mutable_filter()->mutable_created_after() =
        google::protobuf::util::TimeUtil::GetCurrentTime();
    req.mutable_filter()->mutable_created_before()->set_seconds(1);
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
           "filter.created_before: must be later");
    req = retry_a;
    req.mutable_filter()->add_statuses(v1::RUN_STATUS_RUNNING);
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT,
           "filter.statuses: running runs cannot be retried");
    req = retry_a;
    req.set_reason(std::string(1001, 'r'));
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "reason:");
    req = retry_a;
    req.mutable_filter()->add_statuses(static_cast<v1::RunStatus>(99));
    expect(c.RetryRuns(req, &resp), grpc::StatusCode::INVALID_ARGUMENT, "filter.statuses[0]");
  }
  CHECK(RetryDryRun(c, retry_a) == failed_before);
  CHECK(d.Cli({"cancel"}).exit_code == 2);
  CHECK(d.Cli({"cancel", a.front(), "--queue", "slow"}).exit_code == 2);
  auto none = d.Cli({"cancel", "--queue", "slow"});
  CHECK(none.exit_code == 1);
  CHECK_THAT(none.err, Catch::Contains("NOT_FOUND"));
}

TEST_CASE("a paused queue starts nothing on any daemon, lets running steps finish, and resumes") {
  TestDatabase db(false);
  TempDir dir, work;
  // Step one runs until the test creates the gate file; step two is quick.
  dir.Write("gated.yaml", R"(name: gated
steps:
  - name: hold
    kind: exec
    timeout: 2m
    argv: [sh, -c, 'while [ ! -f "$0" ]; do sleep 0.05; done', "${input.gate}"]
  - name: finish
    kind: exec
    argv: ["true"]
)");
  const std::vector<std::string> flags = {"--workers",       "2",     "--queues", "default,q1",
                                          "--workflows-dir", dir.path};
  Daemon d1(db, flags), d2(db, flags);
  client::Client c1(d1.address()), c2(d2.address());
  const std::string gate = work / "gate";

  v1::EnqueueRequest req;
  req.set_workflow_type("gated");
  req.set_queue("q1");
  req.set_input(json({{"gate", gate}}).dump());
  v1::EnqueueResponse resp;
  REQUIRE(c1.Enqueue(req, &resp).ok());
  const std::string held = resp.run().id();
  REQUIRE(WaitFor([&] { return StatusIs(c1, held, v1::RUN_STATUS_RUNNING); }));

  v1::PauseQueueRequest pause;
  pause.set_queue("q1");
  pause.set_reason("deploy in progress");
  v1::PauseQueueResponse paused;
  REQUIRE(c2.PauseQueue(pause, &paused).ok());
  CHECK(paused.queue().paused());
  CHECK(paused.queue().pause_reason() == "deploy in progress");
  CHECK(paused.queue().running() == 1);

  // Enqueue still accepts runs; no daemon starts them.
  std::vector<std::string> waiting;
  for (int i = 0; i < 4; ++i) {
    req.set_workflow_type("noop");
    req.set_input("{}");
    REQUIRE(c2.Enqueue(req, &resp).ok());
    waiting.push_back(resp.run().id());
  }
  // The running step finishes; its next step waits for the queue.
  std::ofstream(gate) << "go";
  REQUIRE(WaitFor([&] {
    auto r = GetRun(c1, held, false);
    return r.status() == v1::RUN_STATUS_ENQUEUED && r.step_index() == 1;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(GetRun(c1, held, false).step_index() == 1);
  CHECK(StatusIs(c1, held, v1::RUN_STATUS_ENQUEUED));
  for (const auto& id : waiting) CHECK(StatusIs(c1, id, v1::RUN_STATUS_ENQUEUED));

  v1::ListQueuesResponse queues;
  REQUIRE(c1.ListQueues(&queues).ok());
  bool seen = false;
  for (const auto& q : queues.queues()) {
    if (q.name() != "q1") continue;
    seen = true;
    CHECK(q.paused());
    CHECK(q.ready() == 5);
    CHECK(q.nodes() == 2);
    CHECK(q.has_paused_at());
  }
  CHECK(seen);
  auto listed = d1.Cli({"queue", "list"});
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.out, Catch::Contains("deploy in progress"));

  // Resumed (through the other daemon and the CLI): everything runs.
  auto resumed = d1.Cli({"queue", "resume", "q1"});
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Catch::Contains("q1 resumed"));
  REQUIRE(WaitFor([&] { return StatusIs(c1, held, v1::RUN_STATUS_SUCCEEDED); }));
  for (const auto& id : waiting) {
    REQUIRE(WaitFor([&] { return StatusIs(c1, id, v1::RUN_STATUS_SUCCEEDED); }));
  }
  // The pause cost the run no attempt and no event of its own.
  auto run = GetRun(c1, held);
  CHECK(CountEvents(run, "step_started") == 2);
  CHECK(run.attempt() == 1);

  // Bad input.
  auto expect = [&](const v1::PauseQueueRequest& r, grpc::StatusCode code,
                    const std::string& prefix) {
    v1::PauseQueueResponse out;
    auto s = c1.PauseQueue(r, &out);
    INFO(s.error_message());
    CHECK(s.error_code() == code);
    CHECK_THAT(s.error_message(), Catch::StartsWith(prefix));
  };
  v1::PauseQueueRequest bad;
  expect(bad, grpc::StatusCode::INVALID_ARGUMENT, "queue: required");
  bad.set_queue("no such queue");
  expect(bad, grpc::StatusCode::INVALID_ARGUMENT, "queue: must be");
  bad.set_queue("nosuch");
  expect(bad, grpc::StatusCode::NOT_FOUND, "queue: no queue named 'nosuch'");
  bad.set_queue("q1");
  bad.set_reason(std::string(1001, 'r'));
  expect(bad, grpc::StatusCode::INVALID_ARGUMENT, "reason:");
  REQUIRE(c1.ListQueues(&queues).ok());
  for (const auto& q : queues.queues()) {
    CHECK(q.name() != "nosuch");
    CHECK_FALSE(q.paused());
  }
  auto unknown = d2.Cli({"queue", "pause", "nosuch"});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("NOT_FOUND"));
}

namespace {

v1::Schedule MakeSchedule(const std::string& name, const std::string& cron,
                          const std::string& catch_up = "") {
  v1::Schedule s;
  s.set_name(name);
  s.set_cron(cron);
  s.set_timezone("Europe/Berlin");
  s.set_workflow_type("noop");
  s.set_input(R"({"from": "schedule"})");
  (*s.mutable_tags())["team"] = "ops";
  s.set_catch_up(catch_up);
  return s;
}

// The runs a schedule enqueued (they carry the tag schedule=NAME).
std::vector<v1::Run> ScheduleRuns(client::Client& c, const std::string& name) {
  return ListAll(c, ByTags({{"schedule", name}}));
}

}  // namespace

TEST_CASE("each tick of a cron schedule enqueues exactly one run, however many daemons see it") {
  TestDatabase db(false);
  Daemon d1(db, {"--workers", "2"}), d2(db, {"--workers", "2"}), d3(db, {"--workers", "2"});
  client::Client c(d1.address());

  // A yearly schedule: its real ticks are far away, so the test makes ticks
  // come due by moving next_at to now, as time would.
  v1::Schedule created;
  auto st = c.CreateSchedule(MakeSchedule("ticks", "0 0 1 1 *"), &created);
  INFO(st.error_message());
  REQUIRE(st.ok());
  CHECK(created.timezone() == "Europe/Berlin");
  CHECK(created.catch_up() == "one");
  CHECK_FALSE(created.paused());
  const std::string first_next = google::protobuf::util::TimeUtil::ToString(created.next_at());
  CHECK(first_next.substr(4) == "-12-31T23:00:00Z");  // 1 January 00:00 in Berlin (CET)

  const auto fired = [&] {
    return db.Scalar("SELECT next_at > now() FROM cueball_schedules WHERE name = 'ticks'") == "t";
  };
  for (int i = 1; i <= 5; ++i) {
    db.Exec(
        "UPDATE cueball_schedules SET next_at = date_trunc('second', now()) "
        "WHERE name = 'ticks'");
    REQUIRE(WaitFor(fired));
    REQUIRE(WaitFor([&] { return static_cast<int>(ScheduleRuns(c, "ticks").size()) == i; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // a distinct tick each time
  }
  auto runs = ScheduleRuns(c, "ticks");
  REQUIRE(runs.size() == 5);
  std::set<std::string> keys;
  for (const auto& r : runs) {
    keys.insert(r.idempotency_key());
    CHECK_THAT(r.idempotency_key(), Catch::StartsWith("schedule:ticks:"));
    CHECK(r.tags().at("team") == "ops");
    CHECK(json::parse(r.input()) == json({{"from", "schedule"}}));
  }
  CHECK(keys.size() == 5);
  v1::ListSchedulesResponse list;
  REQUIRE(c.ListSchedules(&list).ok());
  REQUIRE(list.schedules_size() == 1);
  CHECK(list.schedules(0).last_run_id() == runs.front().id());  // the newest

  // Ticks missed while no daemon ran: 'one' enqueues one run for them,
  // 'skip' none; both go on from the next tick.
  REQUIRE(c.CreateSchedule(MakeSchedule("catch-up", "0 0 1 1 *", "one"), &created).ok());
  REQUIRE(c.CreateSchedule(MakeSchedule("skipper", "0 0 1 1 *", "skip"), &created).ok());
  db.Exec(
      "UPDATE cueball_schedules SET next_at = timestamptz '2020-12-31T23:00:00Z' "
      "WHERE name IN ('catch-up', 'skipper')");
  REQUIRE(WaitFor([&] {
    return db.Scalar(
               "SELECT count(*) FROM cueball_schedules WHERE next_at > now() AND name IN "
               "('catch-up', 'skipper')") == "2";
  }));
  REQUIRE(WaitFor([&] { return ScheduleRuns(c, "catch-up").size() == 1; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto caught = ScheduleRuns(c, "catch-up");
  REQUIRE(caught.size() == 1);
  // The latest missed tick: 1 January of this year (it is December 2026 or later).
  CHECK_THAT(caught[0].idempotency_key(), Catch::EndsWith("-12-31T23:00:00.000Z"));
  CHECK(ScheduleRuns(c, "skipper").empty());
  CHECK(db.Scalar("SELECT last_tick_at IS NOT NULL FROM cueball_schedules WHERE name = "
                  "'skipper'") == "t");

  // Paused: a due tick fires nothing; resumed, it goes on from the next tick.
  v1::Schedule paused;
  REQUIRE(c.PauseSchedule("ticks", &paused).ok());
  CHECK(paused.paused());
  db.Exec("UPDATE cueball_schedules SET next_at = now() WHERE name = 'ticks'");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(ScheduleRuns(c, "ticks").size() == 5);
  auto listed = d2.Cli({"schedule", "list"});
  CHECK(listed.exit_code == 0);
  CHECK_THAT(listed.out, Catch::Contains("ticks") && Catch::Contains("yes"));
  auto resumed = d3.Cli({"schedule", "resume", "ticks"});
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Catch::Contains("ticks next at "));
  CHECK(fired());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  CHECK(ScheduleRuns(c, "ticks").size() == 5);

  // Created from the CLI; deleted (its runs stay).
  auto made = d1.Cli({"schedule", "create", "cli-made", "--cron", "*/5 * * * *", "--tz", "UTC",
                      "--type", "noop", "--tag", "k=v", "--catch-up", "skip"});
  CHECK(made.exit_code == 0);
  CHECK_THAT(made.out, Catch::Contains("cli-made next at"));
  CHECK(d1.Cli({"schedule", "delete", "cli-made"}).exit_code == 0);
  CHECK(c.DeleteSchedule("ticks").ok());
  CHECK(ScheduleRuns(c, "ticks").size() == 5);

  // Bad input: refused with the field named, nothing created.
  REQUIRE(c.ListSchedules(&list).ok());
  const int before = list.schedules_size();
  auto refused = [&](v1::Schedule s, grpc::StatusCode code, const std::string& prefix) {
    v1::Schedule out;
    auto status = c.CreateSchedule(s, &out);
    INFO(status.error_message());
    CHECK(status.error_code() == code);
    CHECK_THAT(status.error_message(), Catch::StartsWith(prefix));
  };
  refused(MakeSchedule("bad", "* * * *"), grpc::StatusCode::INVALID_ARGUMENT, "cron: '* * * *'");
  refused(MakeSchedule("bad", "61 * * * *"), grpc::StatusCode::INVALID_ARGUMENT,
          "cron: minute field");
  refused(MakeSchedule("bad", ""), grpc::StatusCode::INVALID_ARGUMENT, "cron: required");
  refused(MakeSchedule("bad", "0 0 30 2 *"), grpc::StatusCode::INVALID_ARGUMENT,
          "cron: '0 0 30 2 *' never fires");
  auto s = MakeSchedule("bad", "* * * * *");
  s.set_timezone("Europe/Atlantis");
  refused(s, grpc::StatusCode::INVALID_ARGUMENT, "timezone:");
  s = MakeSchedule("bad", "* * * * *");
  s.set_workflow_type("no.such.type");
  refused(s, grpc::StatusCode::NOT_FOUND, "workflow_type:");
  refused(MakeSchedule("bad", "* * * * *", "sometimes"), grpc::StatusCode::INVALID_ARGUMENT,
          "catch_up:");
  refused(MakeSchedule("bad name", "* * * * *"), grpc::StatusCode::INVALID_ARGUMENT, "name:");
  refused(MakeSchedule("", "* * * * *"), grpc::StatusCode::INVALID_ARGUMENT, "name: required");
  s = MakeSchedule("bad", "* * * * *");
  (*s.mutable_tags())["schedule"] = "x";
  refused(s, grpc::StatusCode::INVALID_ARGUMENT, "tags:");
  s = MakeSchedule("bad", "* * * * *");
  s.set_input("{not json");
  refused(s, grpc::StatusCode::INVALID_ARGUMENT, "input:");
  refused(MakeSchedule("catch-up", "* * * * *"), grpc::StatusCode::ALREADY_EXISTS, "name:");
  REQUIRE(c.ListSchedules(&list).ok());
  CHECK(list.schedules_size() == before);
  v1::Schedule none;
  CHECK(c.PauseSchedule("nosuch", &none).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(c.ResumeSchedule("nosuch", &none).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(c.DeleteSchedule("nosuch").error_code() == grpc::StatusCode::NOT_FOUND);
  auto bad_cli = d1.Cli({"schedule", "create", "x", "--cron", "* * *", "--type", "noop"});
  CHECK(bad_cli.exit_code == 1);
  CHECK_THAT(bad_cli.err, Catch::Contains("INVALID_ARGUMENT: cron:"));
}

TEST_CASE(
    "a run past its deadline fails or is canceled wherever it is, and bad deadlines are refused") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4", "--queues", "default,held"});
  client::Client c(d.address());
  using google::protobuf::util::TimeUtil;
  auto enqueue = [&](const std::string& type, const std::string& input, int64_t timeout_ms,
                     const std::string& action, const std::string& queue = "") {
    v1::EnqueueRequest req;
    req.set_workflow_type(type);
    req.set_input(input);
    req.set_queue(queue);
    *req.mutable_timeout() = TimeUtil::MillisecondsToDuration(timeout_ms);
    req.set_deadline_action(action);
    v1::EnqueueResponse resp;
    auto s = c.Enqueue(req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    CHECK(resp.run().has_deadline());
    return resp.run().id();
  };
  // Running: a long sleep is stopped and the run fails.
  const std::string running = enqueue("demo.sleep", R"({"ms": 600000})", 1500, "");
  REQUIRE(WaitFor([&] { return StatusIs(c, running, v1::RUN_STATUS_RUNNING); }));
  // Enqueued: a run on a paused queue is canceled.
  v1::PauseQueueRequest pause;
  pause.set_queue("held");
  v1::PauseQueueResponse paused;
  REQUIRE(c.PauseQueue(pause, &paused).ok());
  const std::string queued = enqueue("noop", "{}", 1500, "cancel", "held");
  // Waiting: a run waiting for a signal fails.
  const std::string waiting = enqueue("demo.signal", "{}", 1500, "fail");
  REQUIRE(WaitFor([&] { return StatusIs(c, waiting, v1::RUN_STATUS_WAITING); }));
  // A run that finishes in time is not touched.
  const std::string quick = enqueue("noop", "{}", 60000, "fail");

  REQUIRE(WaitFor([&] { return StatusIs(c, running, v1::RUN_STATUS_FAILED); }));
  REQUIRE(WaitFor([&] { return StatusIs(c, queued, v1::RUN_STATUS_CANCELED); }));
  REQUIRE(WaitFor([&] { return StatusIs(c, waiting, v1::RUN_STATUS_FAILED); }));
  REQUIRE(WaitFor([&] { return StatusIs(c, quick, v1::RUN_STATUS_SUCCEEDED); }));
  for (const auto& id : {running, queued, waiting}) {
    auto run = GetRun(c, id);
    CHECK_THAT(run.error(), Catch::StartsWith("deadline passed: the run had to finish by "));
    const std::string last = run.history(run.history_size() - 1).kind();
    CHECK(last == (id == queued ? "run_canceled" : "run_failed"));
    CHECK(json::parse(run.history(run.history_size() - 1).data()).contains("deadline"));
  }
  // The stopped attempt's start is in the history, and its late outcome
  // changed nothing: the run stays failed.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto run = GetRun(c, running);
  CHECK(run.status() == v1::RUN_STATUS_FAILED);
  CHECK(CountEvents(run, "step_started") == 1);
  CHECK(CountEvents(run, "run_failed") == 1);
  CHECK(GetRun(c, waiting, false).wait().empty());
  auto shown = d.Cli({"get", queued});
  CHECK_THAT(shown.out, Catch::Contains("deadline") && Catch::Contains("(then cancel)"));

  // The CLI: --timeout and --on-deadline.
  auto made = d.Cli({"enqueue", "demo.sleep", "--input", R"({"ms": 600000})", "--timeout", "1s",
                     "--on-deadline", "cancel"});
  REQUIRE(made.exit_code == 0);
  const std::string cli_run = made.out.substr(0, 36);
  REQUIRE(WaitFor([&] { return StatusIs(c, cli_run, v1::RUN_STATUS_CANCELED); }));

  // Bad input: refused with the field named, nothing enqueued.
  const size_t before = ListAll(c, v1::ListRequest()).size();
  auto refused = [&](v1::EnqueueRequest req, const std::string& prefix) {
    req.set_workflow_type("noop");
    v1::EnqueueResponse resp;
    auto s = c.Enqueue(req, &resp);
    INFO(s.error_message());
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK_THAT(s.error_message(), Catch::StartsWith(prefix));
  };
  v1::EnqueueRequest req;
  *req.mutable_deadline() = TimeUtil::SecondsToTimestamp(TimeUtil::GetCurrentTime().seconds() - 60);
  refused(req, "deadline: ");
  req = v1::EnqueueRequest();
  *req.mutable_deadline() =
      TimeUtil::SecondsToTimestamp(TimeUtil::GetCurrentTime().seconds() + 400 * 86400);
  refused(req, "deadline: must be at most");
  req = v1::EnqueueRequest();
  *req.mutable_timeout() = TimeUtil::SecondsToDuration(0);
  refused(req, "timeout: must be positive");
  *req.mutable_timeout() = TimeUtil::SecondsToDuration(-5);
  refused(req, "timeout: must be positive");
  *req.mutable_timeout() = TimeUtil::SecondsToDuration(60);
  *req.mutable_deadline() = TimeUtil::SecondsToTimestamp(TimeUtil::GetCurrentTime().seconds() + 60);
  refused(req, "timeout: give either deadline or timeout");
  req = v1::EnqueueRequest();
  req.set_deadline_action("cancel");
  refused(req, "deadline_action: needs a deadline or a timeout");
  *req.mutable_timeout() = TimeUtil::SecondsToDuration(60);
  req.set_deadline_action("explode");
  refused(req, "deadline_action: must be fail or cancel");
  req = v1::EnqueueRequest();
  *req.mutable_timeout() = TimeUtil::SecondsToDuration(60);
  *req.mutable_delay() = TimeUtil::SecondsToDuration(120);
  refused(req, "timeout: must be longer than delay");
  CHECK(ListAll(c, v1::ListRequest()).size() == before);
  CHECK(d.Cli({"enqueue", "noop", "--timeout", "soon"}).exit_code == 2);
}
