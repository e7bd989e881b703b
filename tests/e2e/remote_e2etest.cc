// Remote workers end to end: a real cueballd, the C++ worker library
// (client/worker.h) and raw cueball.v1.Workers calls, against real
// PostgreSQL. Leases, rescue, cancellation, signals, mixed workflow-file
// types, two workers sharing a type, and every kind of bad input.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "client/client.h"
#include "client/worker.h"
#include "tests/support/daemon.h"
#include "tests/support/runs.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;
using nlohmann::json;

namespace {

v1::WorkflowDefinition Definition(const std::string& name, std::vector<std::string> steps,
                                  int max_attempts = 3) {
  v1::WorkflowDefinition d;
  d.set_name(name);
  for (const auto& s : steps) {
    auto* st = d.add_steps();
    st->set_name(s);
    st->mutable_retry()->set_max_attempts(max_attempts);
    st->mutable_retry()->set_backoff("fixed");
    st->mutable_retry()->mutable_initial_delay()->set_nanos(100 * 1000 * 1000);
  }
  return d;
}

// A worker serving on a thread of its own until the object goes away.
struct Serving {
  Serving(client::Client* c, client::Worker::Options o, const v1::WorkflowDefinition& def,
          std::map<std::string, client::Worker::StepFn> steps)
      : worker(c, std::move(o)) {
    worker.AddType(def, std::move(steps));
    thread = std::thread([this] { status = worker.Run(); });
    REQUIRE(WaitFor([&] { return worker.registered(); }));
  }
  ~Serving() {
    worker.Stop();
    thread.join();
  }
  client::Worker worker;
  grpc::Status status;
  std::thread thread;
};

// Raw calls, for what the library would never send.
struct Raw {
  explicit Raw(client::Client& c) : c(c), stub(v1::Workers::NewStub(c.channel())) {}
  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::Workers::Stub::*m)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    return c.Call(stub.get(), m, req, resp, Millis(30000));
  }
  std::string Register(const v1::WorkflowDefinition& def, int slots = 4, int lease_s = 30,
                       grpc::Status* status = nullptr) {
    v1::RegisterWorkerRequest req;
    req.set_identity("raw-test");
    req.set_slots(slots);
    req.mutable_lease()->set_seconds(lease_s);
    *req.add_types() = def;
    v1::RegisterWorkerResponse resp;
    auto s = Call(&v1::Workers::Stub::RegisterWorker, req, &resp);
    if (status) *status = s;
    return resp.worker_id();
  }
  std::vector<v1::StepAttempt> Poll(const std::string& worker, int max, int wait_ms = 3000) {
    v1::PollStepsRequest req;
    req.set_worker_id(worker);
    req.set_max_steps(max);
    req.mutable_wait()->set_nanos((wait_ms % 1000) * 1000000);
    req.mutable_wait()->set_seconds(wait_ms / 1000);
    v1::PollStepsResponse resp;
    auto s = Call(&v1::Workers::Stub::PollSteps, req, &resp);
    INFO(s.error_message());
    REQUIRE(s.ok());
    return {resp.attempts().begin(), resp.attempts().end()};
  }
  grpc::Status Complete(const std::string& worker, v1::StepOutcome o,
                        v1::CompleteStepsResponse* resp) {
    v1::CompleteStepsRequest req;
    req.set_worker_id(worker);
    *req.add_outcomes() = std::move(o);
    return Call(&v1::Workers::Stub::CompleteSteps, req, resp);
  }
  client::Client& c;
  std::unique_ptr<v1::Workers::Stub> stub;
};

client::Worker::Options Opts(int slots, const std::string& identity = "",
                             Millis lease = Millis(30000)) {
  client::Worker::Options o;
  o.identity = identity;
  o.slots = slots;
  o.lease = lease;
  return o;
}

v1::StepOutcome Next(const std::string& token, const std::string& result = "") {
  auto o = client::StepCall::Next(result);
  o.set_lease_token(token);
  return o;
}

}  // namespace

TEST_CASE("a remote worker runs a two-step type with state, and cueball workers lists it") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  Serving w(&c, Opts(4, "greeter-test"), Definition("cpp.greet", {"greet", "shout"}),
            {{"greet",
              [](client::StepCall& call) {
                auto in = json::parse(call.input());
                auto state = json::parse(call.state());
                state["greeting"] = "hello, " + in.value("name", "?");
                call.state() = state.dump();
                return client::StepCall::Next();
              }},
             {"shout", [](client::StepCall& call) {
                auto state = json::parse(call.state());
                std::string g = state["greeting"];
                for (auto& ch : g) ch = static_cast<char>(std::toupper(ch));
                return client::StepCall::Next(json(g).dump());
              }}});
  const std::string id = Enqueue(c, "cpp.greet", R"({"name":"ada"})");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto run = GetRun(c, id);
  CHECK(json::parse(run.result()) == "HELLO, ADA");
  CHECK(json::parse(run.state())["greeting"] == "hello, ada");
  CHECK(run.step_count() == 2);
  // The history names the worker that ran each step.
  int started = 0;
  for (const auto& e : run.history()) {
    if (e.kind() == "step_started") {
      ++started;
      CHECK(json::parse(e.data()).value("owner", "") == w.worker.worker_id());
    }
  }
  CHECK(started == 2);
  // Every daemon knows the type now: types lists it, from remote workers.
  auto types = d.Cli({"types"});
  CHECK(types.out.find("cpp.greet") != std::string::npos);
  REQUIRE(WaitFor([&] {
    auto workers = d.Cli({"workers"});
    return workers.exit_code == 0 && workers.out.find(w.worker.worker_id()) != std::string::npos &&
           workers.out.find("greeter-test") != std::string::npos &&
           workers.out.find("cpp.greet") != std::string::npos;
  }));
}

TEST_CASE("a remote worker's errors are failed attempts, retried by the step's policy") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  std::atomic<int> calls{0};
  Serving w(&c, Opts(2), Definition("cpp.flaky", {"try"}, 3),
            {{"try", [&](client::StepCall& call) -> v1::StepOutcome {
                ++calls;
                if (call.attempt().attempt() < 3) throw std::runtime_error("not yet");
                return client::StepCall::Next(R"({"ok":true})");
              }}});
  const std::string ok = Enqueue(c, "cpp.flaky");
  REQUIRE(WaitFor([&] { return StatusIs(c, ok, v1::RUN_STATUS_SUCCEEDED); }));
  auto run = GetRun(c, ok);
  CHECK(run.attempt() == 3);
  int failed = 0;
  for (const auto& e : run.history()) failed += e.kind() == "step_failed";
  CHECK(failed == 2);
  CHECK(calls.load() == 3);
}

TEST_CASE("a worker that stops heartbeating loses its lease and its late outcome is refused") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2", "--rescue-interval", "200ms"});
  client::Client c(d.address());
  Raw raw(c);
  const std::string w1 = raw.Register(Definition("cpp.lost", {"only"}), 4, 1);
  REQUIRE(!w1.empty());
  const std::string id = Enqueue(c, "cpp.lost");
  auto got = raw.Poll(w1, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].attempt() == 1);
  // No heartbeat: after its 1 s lease the rescuer retries the step.
  REQUIRE(WaitFor([&] { return GetRun(c, id, false).status() == v1::RUN_STATUS_ENQUEUED; }));
  const std::string w2 = raw.Register(Definition("cpp.lost", {"only"}), 4, 30);
  auto again = raw.Poll(w2, 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0].attempt() == 2);
  // The first worker's outcome comes late: refused, and nothing changes.
  v1::CompleteStepsResponse resp;
  REQUIRE(raw.Complete(w1, Next(got[0].lease_token(), "1"), &resp).ok());
  REQUIRE(resp.results_size() == 1);
  CHECK_FALSE(resp.results(0).accepted());
  CHECK(resp.results(0).error().find("lease lost") != std::string::npos);
  CHECK(GetRun(c, id, false).status() == v1::RUN_STATUS_RUNNING);
  // The second one's counts.
  REQUIRE(raw.Complete(w2, Next(again[0].lease_token(), "2"), &resp).ok());
  CHECK(resp.results(0).accepted());
  auto run = GetRun(c, id);
  CHECK(run.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(run.result() == "2");
}

TEST_CASE("cancel reaches a running remote step through the heartbeat") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  std::atomic<bool> saw_cancel{false}, started{false};
  Serving w(&c, Opts(1, "", Millis(1500)), Definition("cpp.long", {"wait"}),
            {{"wait", [&](client::StepCall& call) {
                started = true;
                for (int i = 0; i < 3000 && !call.cancelled(); ++i) {
                  std::this_thread::sleep_for(std::chrono::milliseconds(10));
                }
                saw_cancel = call.cancelled();
                return client::StepCall::Next();
              }}});
  const std::string id = Enqueue(c, "cpp.long");
  REQUIRE(WaitFor([&] { return started.load(); }));
  v1::CancelRequest req;
  req.set_id(id);
  v1::CancelResponse resp;
  REQUIRE(c.Cancel(req, &resp).ok());
  REQUIRE(WaitFor([&] { return saw_cancel.load(); }));
  CHECK(GetRun(c, id, false).status() == v1::RUN_STATUS_CANCELED);
}

TEST_CASE("a remote step waits for a signal, takes it, and uses the step services") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  Serving w(&c, Opts(2), Definition("cpp.approve", {"review"}),
            {{"review", [](client::StepCall& call) {
                auto sig = call.TakeSignal("approve");
                if (!sig) return client::StepCall::WaitSignal("approve");
                call.SaveBlob("decision.txt", "approved by " + sig->payload(), "text/plain");
                auto blob = call.LoadBlob("decision.txt");
                const std::string child = call.EnqueueChild("audit", "noop");
                return client::StepCall::Next(json({{"payload", json::parse(sig->payload())},
                                                    {"blob", blob ? blob->data() : ""},
                                                    {"child", child}})
                                                  .dump());
              }}});
  const std::string id = Enqueue(c, "cpp.approve");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_WAITING); }));
  v1::SignalRequest sreq;
  sreq.set_run_id(id);
  sreq.set_name("approve");
  sreq.set_payload(R"({"by":"lin"})");
  v1::SignalResponse sresp;
  REQUIRE(c.Signal(sreq, &sresp).ok());
  CHECK(sresp.resumed());
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto run = GetRun(c, id);
  auto result = json::parse(run.result());
  CHECK(result["payload"]["by"] == "lin");
  CHECK(result["blob"] == R"(approved by {"by":"lin"})");
  REQUIRE(run.children_size() == 1);
  CHECK(run.children(0).id() == result["child"]);
}

TEST_CASE("two workers of one type never run one attempt") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2"});
  client::Client c(d.address());
  std::mutex mu;
  std::multiset<std::string> ran;
  auto step = [&](client::StepCall& call) {
    std::lock_guard<std::mutex> lock(mu);
    ran.insert(call.attempt().run_id());
    return client::StepCall::Next();
  };
  const auto def = Definition("cpp.shared", {"only"});
  Serving a(&c, Opts(8, "a"), def, {{"only", step}});
  Serving b(&c, Opts(8, "b"), def, {{"only", step}});
  v1::EnqueueBatchRequest req;
  for (int i = 0; i < 400; ++i) req.add_runs()->set_workflow_type("cpp.shared");
  v1::EnqueueBatchResponse resp;
  REQUIRE(c.EnqueueBatch(req, &resp).ok());
  std::vector<std::string> ids;
  for (const auto& r : resp.runs()) ids.push_back(r.run().id());
  v1::WaitRequest wreq;
  for (const auto& id : ids) wreq.add_ids(id);
  wreq.mutable_timeout()->set_seconds(60);
  v1::WaitResponse wresp;
  REQUIRE(c.Wait(wreq, &wresp).ok());
  REQUIRE(wresp.satisfied());
  std::lock_guard<std::mutex> lock(mu);
  CHECK(ran.size() == 400);
  for (const auto& id : ids) CHECK(ran.count(id) == 1);
  CHECK(a.worker.steps_done() + b.worker.steps_done() == 400);
}

TEST_CASE("a workflow file's remote step is run by a worker between the daemon's steps") {
  TestDatabase db(false);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("cueball-remote-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/mixed.yaml") << R"(name: order.mixed
steps:
  - name: fetch
    kind: sleep
    duration: 10ms
  - name: score
    kind: remote
    timeout: 10s
  - name: ship
    kind: exec
    argv: [echo, "score=${steps.score.score}"]
)";
  Daemon d(db, {"--workers", "2", "--workflows-dir", dir});
  client::Client c(d.address());
  Raw raw(c);
  // The worker may serve the remote step only, by name.
  grpc::Status st;
  raw.Register(Definition("order.mixed", {"fetch"}), 4, 30, &st);
  CHECK(st.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(st.error_message().find("types[0].steps[0].name") != std::string::npos);
  CHECK(st.error_message().find("score") != std::string::npos);
  v1::WorkflowDefinition def;
  def.set_name("order.mixed");
  def.add_steps()->set_name("score");
  Serving w(&c, Opts(2), def, {{"score", [](client::StepCall& call) {
                                  CHECK(call.attempt().step() == "score");
                                  return client::StepCall::Next(R"({"score":7})");
                                }}});
  const std::string id = Enqueue(c, "order.mixed");
  REQUIRE(WaitFor([&] { return StatusIs(c, id, v1::RUN_STATUS_SUCCEEDED); }));
  auto run = GetRun(c, id);
  auto state = json::parse(run.state());
  CHECK(state["steps"]["score"]["score"] == 7);
  CHECK(state["steps"]["ship"]["stdout"].get<std::string>().find("score=7") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE(
    "bad input to the Workers service gets the right status, names the field, changes nothing") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2", "--max-blob-bytes", "1024"});
  client::Client c(d.address());
  Raw raw(c);
  grpc::Status st;
  auto expect = [](const grpc::Status& s, grpc::StatusCode code, const std::string& field) {
    INFO(s.error_message());
    CHECK(s.error_code() == code);
    CHECK(s.error_message().find(field) != std::string::npos);
  };
  // Slots out of range, malformed definitions, in-process types.
  raw.Register(Definition("cpp.bad", {"a"}), 0, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "slots");
  raw.Register(Definition("cpp.bad", {"a"}), 10001, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "slots");
  raw.Register(Definition("cpp.bad", {"a", "a"}), 4, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "types[0].steps[1].name");
  raw.Register(Definition("bad name!", {"a"}), 4, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "types[0].name");
  raw.Register(Definition("cpp.bad", {}), 4, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "types[0].steps");
  raw.Register(Definition("cpp.bad", {"a"}), 4, 0, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "lease");
  auto bad_retry = Definition("cpp.bad", {"a"});
  bad_retry.mutable_steps(0)->mutable_retry()->set_max_attempts(-1);
  raw.Register(bad_retry, 4, 30, &st);
  expect(st, grpc::StatusCode::INVALID_ARGUMENT, "types[0].steps[0].retry.max_attempts");
  raw.Register(Definition("noop", {"noop"}), 4, 30, &st);
  expect(st, grpc::StatusCode::FAILED_PRECONDITION, "types[0].name");
  // A definition that differs from the stored one while a live worker
  // serves it: refused, naming the difference.
  const std::string w = raw.Register(Definition("cpp.ok", {"a", "b"}), 4, 30, &st);
  REQUIRE(st.ok());
  raw.Register(Definition("cpp.ok", {"a", "c"}), 4, 30, &st);
  expect(st, grpc::StatusCode::FAILED_PRECONDITION, "step 2 is 'b' in the stored definition");
  raw.Register(Definition("cpp.ok", {"a", "b"}, 7), 4, 30, &st);
  expect(st, grpc::StatusCode::FAILED_PRECONDITION, "retry.max_attempts");
  // Polls: unknown worker, unknown type, unregistered queue, max out of range.
  v1::PollStepsRequest poll;
  v1::PollStepsResponse polled;
  poll.set_worker_id("w-nobody");
  poll.set_max_steps(1);
  expect(raw.Call(&v1::Workers::Stub::PollSteps, poll, &polled), grpc::StatusCode::NOT_FOUND,
         "worker_id");
  poll.set_worker_id(w);
  poll.add_types("cpp.other");
  expect(raw.Call(&v1::Workers::Stub::PollSteps, poll, &polled), grpc::StatusCode::INVALID_ARGUMENT,
         "types[0]");
  poll.clear_types();
  poll.add_queues("elsewhere");
  expect(raw.Call(&v1::Workers::Stub::PollSteps, poll, &polled), grpc::StatusCode::INVALID_ARGUMENT,
         "queues[0]");
  poll.clear_queues();
  poll.set_max_steps(5);
  expect(raw.Call(&v1::Workers::Stub::PollSteps, poll, &polled), grpc::StatusCode::INVALID_ARGUMENT,
         "max_steps");
  // Outcomes: garbage tokens, leases another worker holds, oversized and
  // malformed state, no outcome at all. None changes the run.
  const std::string id = Enqueue(c, "cpp.ok");
  auto got = raw.Poll(w, 1);
  REQUIRE(got.size() == 1);
  v1::CompleteStepsResponse done;
  expect(raw.Complete(w, Next("not-a-token"), &done), grpc::StatusCode::INVALID_ARGUMENT,
         "outcomes[0].lease_token");
  const std::string other = raw.Register(Definition("cpp.ok", {"a", "b"}), 4, 30, &st);
  REQUIRE(st.ok());
  expect(raw.Complete(other, Next(got[0].lease_token()), &done),
         grpc::StatusCode::FAILED_PRECONDITION, "outcomes[0].lease_token");
  auto big = Next(got[0].lease_token());
  big.set_state("{\"x\":\"" + std::string(2 << 20, 'x') + "\"}");
  expect(raw.Complete(w, big, &done), grpc::StatusCode::INVALID_ARGUMENT, "outcomes[0].state");
  auto malformed = Next(got[0].lease_token());
  malformed.set_state("{nope");
  expect(raw.Complete(w, malformed, &done), grpc::StatusCode::INVALID_ARGUMENT,
         "outcomes[0].state");
  v1::StepOutcome none;
  none.set_lease_token(got[0].lease_token());
  expect(raw.Complete(w, none, &done), grpc::StatusCode::INVALID_ARGUMENT, "outcomes[0].outcome");
  auto bad_result = Next(got[0].lease_token(), "[1,");
  expect(raw.Complete(w, bad_result, &done), grpc::StatusCode::INVALID_ARGUMENT,
         "outcomes[0].next.result");
  auto run = GetRun(c, id);
  CHECK(run.status() == v1::RUN_STATUS_RUNNING);
  CHECK(run.step_index() == 0);
  // Step services with a garbage token.
  v1::TakeSignalRequest take;
  take.set_lease_token("garbage");
  take.set_name("x");
  v1::TakeSignalResponse taken;
  expect(raw.Call(&v1::Workers::Stub::TakeSignal, take, &taken), grpc::StatusCode::INVALID_ARGUMENT,
         "lease_token");
  // Blobs over the cap.
  v1::SaveBlobRequest save;
  save.set_lease_token(got[0].lease_token());
  save.set_name("bad name!");
  save.set_data("x");
  v1::SaveBlobResponse saved;
  expect(raw.Call(&v1::Workers::Stub::SaveBlob, save, &saved), grpc::StatusCode::INVALID_ARGUMENT,
         "blob name");
  save.set_name("big.bin");
  save.set_data(std::string(2048, 'x'));
  expect(raw.Call(&v1::Workers::Stub::SaveBlob, save, &saved), grpc::StatusCode::INVALID_ARGUMENT,
         "--max-blob-bytes");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_blobs") == "0");
  // And the good outcome still goes through.
  REQUIRE(raw.Complete(w, Next(got[0].lease_token()), &done).ok());
  CHECK(done.results(0).accepted());
}

TEST_CASE("auth tokens apply to workers as to every other caller") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2", "--auth-tokens", "remote-worker-token-1"});
  client::ConnectOptions anon;
  anon.server = d.address();
  client::Client nobody(anon);
  Raw raw(nobody);
  grpc::Status st;
  raw.Register(Definition("cpp.auth", {"a"}), 4, 30, &st);
  CHECK(st.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  client::ConnectOptions with = anon;
  with.token = "remote-worker-token-1";
  client::Client someone(with);
  Raw ok(someone);
  ok.Register(Definition("cpp.auth", {"a"}), 4, 30, &st);
  CHECK(st.ok());
}
