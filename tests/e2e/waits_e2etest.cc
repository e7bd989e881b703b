// Runs that wait, end to end: durable timers, signals, child runs and blobs,
// through real daemons (restarted in the middle of a wait), the C++ client
// and the CLI, against real PostgreSQL.
#include <signal.h>

#include <catch2/catch.hpp>
#include <memory>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "tests/support/daemon.h"
#include "tests/support/runs.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;
using nlohmann::json;

namespace {

std::vector<std::string> Kinds(const v1::Run& r) {
  std::vector<std::string> out;
  for (const auto& e : r.history()) out.push_back(e.kind());
  return out;
}

int Count(const std::vector<std::string>& v, const std::string& x) {
  return static_cast<int>(std::count(v.begin(), v.end(), x));
}

grpc::Status SendSignal(client::Client& c, const std::string& id, const std::string& name,
                        const std::string& payload, v1::SignalResponse* resp,
                        const std::string& key = "") {
  v1::SignalRequest req;
  req.set_run_id(id);
  req.set_name(name);
  req.set_payload(payload);
  req.set_idempotency_key(key);
  return c.Signal(req, resp);
}

}  // namespace

TEST_CASE("a durable timer holds no worker and fires after the daemon restarts") {
  TestDatabase db(false);
  auto d = std::make_unique<Daemon>(db, std::vector<std::string>{"--workers", "1"});
  client::Client c(d->address());
  const std::string id = Enqueue(c, "demo.timer", R"({"ms":3000})");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_WAITING); }));
  auto waiting = GetRun(c, id);
  auto wait = json::parse(waiting.wait());
  CHECK(wait["for"] == "timer");
  CHECK(wait.contains("deadline"));
  // Waiting holds no worker: the only worker runs something else meanwhile.
  const std::string other = Enqueue(c, "noop");
  REQUIRE(WaitFor([&] { return StatusIs(c, other, v1::RUN_STATUS_SUCCEEDED); }));
  CHECK(StatusIs(c, id, v1::RUN_STATUS_WAITING));

  // Restart in the middle of the timer: the run is in the database only.
  d.reset();
  d = std::make_unique<Daemon>(db, std::vector<std::string>{"--workers", "1"});
  client::Client c2(d->address());
  REQUIRE(WaitFor([&] { return StatusIs(c2, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto done = GetRun(c2, id);
  auto kinds = Kinds(done);
  CHECK(Count(kinds, "step_waiting") == 1);
  CHECK(Count(kinds, "run_woken") == 1);
  CHECK(done.step() == "done");
  CHECK(json::parse(done.result()).contains("woke_at"));
  // The first step's result, kept while it slept, is in its step_succeeded.
  bool saw = false;
  for (const auto& e : done.history()) {
    if (e.kind() == "step_succeeded" && e.step() == "sleep") {
      CHECK(json::parse(e.data())["result"]["slept_ms"] == 3000);
      saw = true;
    }
    if (e.kind() == "run_woken") CHECK(json::parse(e.data())["woke"] == "timer");
  }
  CHECK(saw);
  // Slept at least the timer's length, by the database's own clock.
  CHECK(done.finished_at().seconds() * 1000 + done.finished_at().nanos() / 1000000 -
            (done.created_at().seconds() * 1000 + done.created_at().nanos() / 1000000) >=
        3000);
}

TEST_CASE("a run waits for a signal across a restart, and the payload reaches the step") {
  TestDatabase db(false);
  auto d = std::make_unique<Daemon>(db, std::vector<std::string>{"--workers", "2"});
  client::Client c(d->address());
  const std::string id = Enqueue(c, "demo.signal", R"({"signal":"approval"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_WAITING); }));
  CHECK(json::parse(GetRun(c, id).wait())["signal"] == "approval");

  d.reset();
  d = std::make_unique<Daemon>(db, std::vector<std::string>{"--workers", "2"});
  // Still waiting after the restart: nothing runs it without the signal.
  client::Client c2(d->address());
  CHECK(StatusIs(c2, id, v1::RUN_STATUS_WAITING));
  auto sent = d->Cli(
      {"signal", id, "approval", "--payload", R"({"by":"ops","ok":true})", "--key", "ticket-7"});
  REQUIRE(sent.exit_code == 0);
  CHECK_THAT(sent.out, Catch::Contains("resumes"));
  REQUIRE(WaitFor([&] { return StatusIs(c2, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto done = GetRun(c2, id);
  auto result = json::parse(done.result());
  CHECK(result["signal"] == "approval");
  CHECK(result["payload"]["by"] == "ops");
  auto kinds = Kinds(done);
  CHECK(Count(kinds, "signal_received") == 1);
  CHECK(Count(kinds, "run_woken") == 1);
}

TEST_CASE("early and duplicate signals are buffered and each is applied once, oldest first") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  // The run is not due yet, so both signals arrive before its step asks.
  v1::EnqueueRequest req;
  req.set_workflow_type("demo.signal");
  req.mutable_delay()->set_seconds(2);
  v1::EnqueueResponse er;
  REQUIRE(c.Enqueue(req, &er).ok());
  const std::string id = er.run().id();
  v1::SignalResponse s1, s1_again, s2;
  REQUIRE(SendSignal(c, id, "go", R"({"n":1})", &s1, "k1").ok());
  CHECK_FALSE(s1.duplicate());
  CHECK_FALSE(s1.resumed());
  REQUIRE(SendSignal(c, id, "go", R"({"n":1})", &s1_again, "k1").ok());
  CHECK(s1_again.duplicate());
  CHECK(s1_again.seq() == s1.seq());
  REQUIRE(SendSignal(c, id, "go", R"({"n":2})", &s2).ok());
  CHECK(s2.seq() > s1.seq());
  // The same key for another signal name is a conflict.
  v1::SignalResponse conflict;
  auto bad = SendSignal(c, id, "stop", "{}", &conflict, "k1");
  CHECK(bad.error_code() == grpc::StatusCode::ALREADY_EXISTS);
  CHECK_THAT(bad.error_message(), Catch::Contains("idempotency_key"));

  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto done = GetRun(c, id);
  // The step took the oldest one and never waited.
  CHECK(json::parse(done.result())["payload"]["n"] == 1);
  CHECK(json::parse(done.result())["seq"] == s1.seq());
  auto kinds = Kinds(done);
  CHECK(Count(kinds, "signal_received") == 2);
  CHECK(Count(kinds, "step_waiting") == 0);
}

TEST_CASE("a signal that does not come in time fails the step") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  const std::string id = Enqueue(c, "demo.signal", R"({"timeout_ms":1000})");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_FAILED); }));
  auto failed = GetRun(c, id);
  CHECK_THAT(failed.error(), Catch::Contains("timed out waiting for signal 'go'"));
  auto kinds = Kinds(failed);
  CHECK(Count(kinds, "run_woken") == 1);
  CHECK(Count(kinds, "run_failed") == 1);
}

TEST_CASE("bad signals are refused by field and change nothing") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  const std::string id = Enqueue(c, "demo.signal");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_WAITING); }));
  const std::string events_before = db.Scalar("SELECT count(*) FROM cueball_event_log");
  struct Case {
    std::string id, name, payload;
    grpc::StatusCode code;
    std::string says;
  };
  const std::string finished = Enqueue(c, "noop");
  REQUIRE(WaitFor([&] { return StatusIs(c, finished, v1::RUN_STATUS_SUCCEEDED); }));
  const std::string events_mid = db.Scalar("SELECT count(*) FROM cueball_event_log");
  for (const auto& k : std::vector<Case>{
           {"", "go", "", grpc::StatusCode::INVALID_ARGUMENT, "run_id: required"},
           {"nope", "go", "", grpc::StatusCode::INVALID_ARGUMENT, "run_id:"},
           {id, "", "", grpc::StatusCode::INVALID_ARGUMENT, "name: required"},
           {id, "no spaces", "", grpc::StatusCode::INVALID_ARGUMENT, "name:"},
           {id, "go", "{bad", grpc::StatusCode::INVALID_ARGUMENT, "payload: not valid JSON"},
           {"0190a0e0-0000-7000-8000-000000000000", "go", "", grpc::StatusCode::NOT_FOUND,
            "run_id: no run"},
           {finished, "go", "", grpc::StatusCode::FAILED_PRECONDITION, "already finished"},
       }) {
    v1::SignalResponse resp;
    auto s = SendSignal(c, k.id, k.name, k.payload, &resp);
    CHECK(s.error_code() == k.code);
    CHECK_THAT(s.error_message(), Catch::Contains(k.says));
  }
  CHECK(db.Scalar("SELECT count(*) FROM cueball_signals") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log") == events_mid);
  CHECK(events_mid != events_before);  // (the noop run's own events)
  CHECK(StatusIs(c, id, v1::RUN_STATUS_WAITING));
  auto cli = d.Cli({"signal", id, "go", "--payload", "not json"});
  CHECK(cli.exit_code != 0);
  CHECK_THAT(cli.err, Catch::Contains("payload"));
}

TEST_CASE("child runs are linked, awaited, listed by get, and canceled with their parent") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4"});
  client::Client c(d.address());
  const std::string parent = Enqueue(c, "demo.fanout", R"({"children":3})");
  REQUIRE(WaitFor([&] { return StatusIs(c, parent, v1::RUN_STATUS_SUCCEEDED); }));
  auto done = GetRun(c, parent);
  REQUIRE(done.children_size() == 3);
  for (const auto& ch : done.children()) {
    CHECK(ch.status() == v1::RUN_STATUS_SUCCEEDED);
    CHECK(GetRun(c, ch.id(), false).parent_id() == parent);
  }
  CHECK(json::parse(done.result())["children"].size() == 3);
  // The step's own events come after its start (written before its first
  // child, migration 0010); the woken attempt starts again.
  CHECK(Kinds(done) == std::vector<std::string>{"enqueued", "step_started", "child_enqueued",
                                                "child_enqueued", "child_enqueued", "step_waiting",
                                                "run_woken", "step_started", "step_succeeded",
                                                "run_succeeded"});
  auto shown = d.Cli({"get", parent});
  CHECK_THAT(shown.out, Catch::Contains("children:"));

  // Children still running when the parent is canceled are canceled too.
  const std::string slow =
      Enqueue(c, "demo.fanout", R"({"children":2,"type":"demo.sleep","child_input":{"ms":60000}})");
  REQUIRE(WaitFor([&] {
    auto r = GetRun(c, slow, false);
    return r.status() == v1::RUN_STATUS_WAITING && r.children_size() == 2;
  }));
  auto canceled = d.Cli({"cancel", slow, "--reason", "customer gave up"});
  REQUIRE(canceled.exit_code == 0);
  auto after = GetRun(c, slow);
  CHECK(after.status() == v1::RUN_STATUS_CANCELED);
  for (const auto& ch : after.children()) {
    CHECK(ch.status() == v1::RUN_STATUS_CANCELED);
    CHECK_THAT(GetRun(c, ch.id(), false).error(), Catch::Contains("parent run " + slow));
  }
  CHECK(db.Scalar("SELECT count(*) FROM cueball_run_waits") == "0");
}

TEST_CASE("the payment example: approval, a fraud check answered by a signal, refunds, receipt") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4"});
  client::Client c(d.address());

  // Approved at once, with two refunds as child runs.
  const std::string paid = Enqueue(
      c, "payment", R"({"amount_cents":5000,"card":"4242424242424242","refunds":[1000,500]})");
  REQUIRE(WaitFor([&] { return StatusIs(c, paid, v1::RUN_STATUS_SUCCEEDED); }));
  auto run = GetRun(c, paid);
  auto result = json::parse(run.result());
  CHECK(result["refunded_cents"] == 1500);
  CHECK(result["captured_cents"] == 5000);
  CHECK(run.children_size() == 2);
  for (const auto& ch : run.children()) CHECK(ch.workflow_type() == "payment.refund");
  auto ls = d.Cli({"blob", "ls", paid});
  REQUIRE(ls.exit_code == 0);
  CHECK_THAT(ls.out, Catch::Contains("receipt.json") && Catch::Contains("application/json"));
  auto receipt = d.Cli({"blob", "get", paid, "receipt.json"});
  REQUIRE(receipt.exit_code == 0);
  auto r = json::parse(receipt.out);
  CHECK(r["amount_cents"] == 5000);
  CHECK(r["card_last4"] == "4242");

  // A fraud check: the run waits until the provider's answer arrives.
  const std::string held =
      Enqueue(c, "payment", R"({"amount_cents":700,"currency":"USD","card":"4000000000000003"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, held, v1::RUN_STATUS_WAITING); }));
  CHECK(GetRun(c, held, false).step() == "authorize");
  auto ok = d.Cli({"signal", held, "fraud_check", "--payload", R"({"approved":true})"});
  REQUIRE(ok.exit_code == 0);
  REQUIRE(WaitFor([&] { return StatusIs(c, held, v1::RUN_STATUS_SUCCEEDED); }));
  auto held_receipt = d.Cli({"blob", "get", held, "receipt.json"});
  CHECK(json::parse(held_receipt.out)["fraud_check"] == "approved");

  // Rejected by the fraud check, declined by the provider, bad input.
  const std::string rejected =
      Enqueue(c, "payment", R"({"amount_cents":700,"card":"4000000000000003"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, rejected, v1::RUN_STATUS_WAITING); }));
  v1::SignalResponse sr;
  REQUIRE(
      SendSignal(c, rejected, "fraud_check", R"({"approved":false,"reason":"stolen card"})", &sr)
          .ok());
  REQUIRE(WaitFor([&] { return StatusIs(c, rejected, v1::RUN_STATUS_FAILED); }));
  CHECK_THAT(GetRun(c, rejected, false).error(), Catch::Contains("stolen card"));
  const std::string declined =
      Enqueue(c, "payment", R"({"amount_cents":700,"card":"4000000000000002"})");
  const std::string bad = Enqueue(c, "payment", R"({"amount_cents":-3,"card":"4242424242424242"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, declined, v1::RUN_STATUS_FAILED); }));
  REQUIRE(WaitFor([&] { return StatusIs(c, bad, v1::RUN_STATUS_FAILED); }));
  CHECK_THAT(GetRun(c, declined, false).error(), Catch::Contains("declined"));
  CHECK_THAT(GetRun(c, bad, false).error(), Catch::Contains("input.amount_cents"));
}

TEST_CASE("bad blob requests are refused by field") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  const std::string id = Enqueue(c, "noop");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED); }));
  v1::Blob info;
  std::string data;
  auto s = c.GetBlob(id, "no/slashes", &info, &data);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("name:"));
  s = c.GetBlob(id, "missing.txt", &info, &data);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(s.error_message(), Catch::Contains("no blob named 'missing.txt'"));
  s = c.GetBlob("not-a-uuid", "x", &info, &data);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::Contains("run_id:"));
  v1::ListBlobsResponse lr;
  s = c.ListBlobs("0190a0e0-0000-7000-8000-000000000000", &lr);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  s = c.ListBlobs(id, &lr);
  CHECK(s.ok());
  CHECK(lr.blobs_size() == 0);
  auto cli = d.Cli({"blob", "get", id, "missing.txt"});
  CHECK(cli.exit_code == 1);
  CHECK_THAT(cli.err, Catch::Contains("NOT_FOUND"));
}

TEST_CASE("cueball graph prints a type as DOT and colours the path a run took") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  auto plain = d.Cli({"graph", "payment"});
  REQUIRE(plain.exit_code == 0);
  CHECK(plain.out.rfind("digraph \"payment\" {", 0) == 0);
  CHECK_THAT(plain.out, Catch::Contains("label=\"signal fraud_check\""));
  CHECK_THAT(plain.out, Catch::Contains("child runs\\npayment.refund"));
  CHECK_THAT(plain.out, Catch::Contains("step3 -> succeeded;"));
  CHECK_THAT(plain.out, !Catch::Contains("palegreen"));
  CHECK(std::count(plain.out.begin(), plain.out.end(), '{') ==
        std::count(plain.out.begin(), plain.out.end(), '}'));

  const std::string declined =
      Enqueue(c, "payment", R"({"amount_cents":700,"card":"4000000000000002"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, declined, v1::RUN_STATUS_FAILED); }));
  auto path = d.Cli({"graph", "payment", "--run", declined});
  REQUIRE(path.exit_code == 0);
  CHECK_THAT(path.out, Catch::Contains("create\\ncode: validate, create the payment"));
  CHECK_THAT(path.out, Catch::Contains("attempts: 1\", fillcolor=palegreen"));  // create
  CHECK_THAT(path.out, Catch::Contains("fillcolor=salmon"));                    // authorize
  CHECK_THAT(path.out, Catch::Contains("step1 -> failed [color=red"));
  CHECK_THAT(path.out, Catch::Contains("start -> step0 [color=forestgreen"));

  auto wrong = d.Cli({"graph", "noop", "--run", declined});
  CHECK(wrong.exit_code == 2);
  CHECK_THAT(wrong.err, Catch::Contains("--run: run " + declined + " is of type 'payment'"));
  auto unknown = d.Cli({"graph", "nope"});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("no workflow type named 'nope'"));
}
