// End to end: a real cueballd process on a fresh database, driven by the real
// cueball CLI, checking what a person at a terminal would see.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "tests/support/daemon.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball::testing;
using nlohmann::json;

TEST_CASE("the README's cueball types output is what the daemon lists") {
  std::ifstream readme(std::string(CUEBALL_SOURCE_DIR) + "/README.md");
  REQUIRE(readme);
  std::vector<std::string> documented;
  bool in_block = false;
  for (std::string line; std::getline(readme, line);) {
    if (line == "$ build/cueball types") {
      in_block = true;
    } else if (in_block) {
      if (line.empty() || line.rfind("$ ", 0) == 0 || line.rfind("```", 0) == 0) break;
      documented.push_back(line);
    }
  }
  REQUIRE(documented.size() > 1);
  TestDatabase db(false);
  Daemon d(db);
  auto types = d.Cli({"types"});
  REQUIRE(types.exit_code == 0);
  std::vector<std::string> listed;
  std::istringstream in(types.out);
  for (std::string line; std::getline(in, line);) listed.push_back(line);
  CHECK(documented == listed);
}

TEST_CASE("the five-minute tour: enqueue, wait, get, list") {
  TestDatabase db(false);
  Daemon d(db);
  auto enq = d.Cli({"enqueue", "noop", "--input", R"({"n":1})"});
  REQUIRE(enq.exit_code == 0);
  std::string id = Trim(enq.out);
  CHECK(std::regex_match(id, std::regex("[0-9a-f-]{36}")));

  auto wait = d.Cli({"wait", id, "--timeout", "30s"});
  CHECK(wait.exit_code == 0);
  CHECK_THAT(wait.out, Catch::Contains("succeeded"));

  auto get = d.Cli({"get", id});
  REQUIRE(get.exit_code == 0);
  for (const char* field : {"type", "noop", "status", "succeeded", "attempt", "created", "finished",
                            "input", "{\"n\":1}", "history:", "step_started", "run_succeeded"}) {
    CHECK_THAT(get.out, Catch::Contains(field));
  }

  auto js = d.Cli({"--json", "get", id});
  REQUIRE(js.exit_code == 0);
  auto j = json::parse(js.out);
  CHECK(j["status"] == "RUN_STATUS_SUCCEEDED");
  CHECK(j["input"]["n"] == 1);
  CHECK(j["history"].size() == 4);

  auto pipe = d.Cli({"enqueue", "demo.pipeline", "--input", R"({"n":2})"});
  std::string pid = Trim(pipe.out);
  REQUIRE(d.Cli({"wait", pid}).exit_code == 0);
  auto pj = json::parse(d.Cli({"--json", "get", pid}).out);
  CHECK(pj["result"]["n"] == 20);
  CHECK(pj["state"]["steps"].size() == 3);

  auto types = d.Cli({"types"});
  CHECK(types.exit_code == 0);
  for (const char* t : {"noop", "demo.sleep", "demo.flaky", "demo.pipeline"}) {
    CHECK_THAT(types.out, Catch::Contains(t));
  }
}

TEST_CASE("wait exit codes: failed runs, timeouts, several ids") {
  TestDatabase db(false);
  Daemon d(db);
  std::string ok = Trim(d.Cli({"enqueue", "noop"}).out);
  std::string bad = Trim(d.Cli({"enqueue", "demo.flaky", "--input", R"({"permanent":true})"}).out);
  std::string slow = Trim(d.Cli({"enqueue", "demo.sleep", "--input", R"({"ms":60000})"}).out);
  CHECK(d.Cli({"wait", ok, bad, "--timeout", "30s"}).exit_code == 3);
  auto timeout = d.Cli({"wait", ok, slow, "--timeout", "500ms"});
  CHECK(timeout.exit_code == 4);
  CHECK_THAT(timeout.err, Catch::Contains("timed out"));
  CHECK(d.Cli({"wait", "--any", ok, slow, "--timeout", "30s"}).exit_code == 0);
}

TEST_CASE("list filters and pages, cancel ends a run") {
  TestDatabase db(false);
  Daemon d(db);
  std::vector<std::string> failed;
  for (int i = 0; i < 3; ++i) {
    failed.push_back(
        Trim(d.Cli({"enqueue", "demo.flaky", "--input", R"({"permanent":true})"}).out));
  }
  d.Cli({"enqueue", "noop"});
  std::vector<std::string> wait = {"wait", "--timeout", "30s"};
  wait.insert(wait.end(), failed.begin(), failed.end());
  REQUIRE(d.Cli(wait).exit_code == 3);

  auto page = d.Cli({"list", "--status", "failed", "--type", "demo.flaky", "--limit", "2"});
  REQUIRE(page.exit_code == 0);
  CHECK_THAT(page.err, Catch::Contains("--page-token"));
  auto all = json::parse(d.Cli({"--json", "list", "--status", "failed", "--type", "demo.flaky",
                                "--limit", "2", "--all"})
                             .out);
  CHECK(all["runs"].size() == 3);
  for (auto& r : all["runs"]) CHECK(r["status"] == "RUN_STATUS_FAILED");

  std::string slow = Trim(d.Cli({"enqueue", "demo.sleep", "--input", R"({"ms":60000})"}).out);
  auto c = d.Cli({"cancel", slow, "--reason", "changed my mind"});
  CHECK(c.exit_code == 0);
  CHECK_THAT(c.out, Catch::Contains("canceled"));
  CHECK_THAT(d.Cli({"get", slow}).out, Catch::Contains("changed my mind"));
  auto again = d.Cli({"cancel", slow});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("FAILED_PRECONDITION"));
}

TEST_CASE("bad input through the CLI: message names the field, exit 1, nothing written") {
  TestDatabase db(false);
  Daemon d(db);
  auto unknown = d.Cli({"enqueue", "no.such.type"});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::Contains("NOT_FOUND") && Catch::Contains("workflow_type"));
  auto json_bad = d.Cli({"enqueue", "noop", "--input", "{oops"});
  CHECK(json_bad.exit_code == 1);
  CHECK_THAT(json_bad.err, Catch::Contains("INVALID_ARGUMENT") && Catch::Contains("input"));
  auto id_bad = d.Cli({"get", "42"});
  CHECK(id_bad.exit_code == 1);
  CHECK_THAT(id_bad.err, Catch::Contains("id"));
  CHECK(d.Cli({"wait", "42"}).exit_code == 1);
  CHECK(d.Cli({"list", "--status", "bogus"}).exit_code == 2);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "0");
}

TEST_CASE("an unreachable server is a clear error") {
  auto r = Run({BuiltBinary("cueball"), "--server", "127.0.0.1:1", "list"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("UNAVAILABLE"));
}

TEST_CASE("cueballd migrate, and an edited applied migration stops the daemon naming the file") {
  TestDatabase db(false);
  auto m = Run({BuiltBinary("cueballd"), "migrate", "--database-url", db.url()});
  CHECK(m.exit_code == 0);
  CHECK_THAT(m.err, Catch::Contains("0001_runs_and_events.sql"));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_schema_migrations") != "0");
  db.Exec("UPDATE cueball_schema_migrations SET checksum = 'x' WHERE version = 1");
  Process p({BuiltBinary("cueballd"), "--database-url", db.url(), "--listen", "127.0.0.1:0"});
  auto code = p.Wait(std::chrono::seconds(30));
  REQUIRE(code);
  CHECK(*code == 1);
  CHECK_THAT(p.Stderr(), Catch::Contains("0001_runs_and_events.sql") && Catch::Contains("edited"));
}

TEST_CASE("configuration comes from the environment, flags win, bad values stop start-up") {
  TestDatabase db(false);
  // Environment only.
  Process env_only({BuiltBinary("cueballd"), "--listen", "127.0.0.1:0"},
                   {{"CUEBALL_DATABASE_URL", db.url()},
                    {"CUEBALL_WORKERS", "3"},
                    {"CUEBALL_METRICS_LISTEN", "127.0.0.1:0"}});
  CHECK(WaitFor([&] { return env_only.Stderr().find("workers=3") != std::string::npos; }));
  env_only.Signal(SIGTERM);
  CHECK(env_only.Wait(std::chrono::seconds(30)) == 0);
  // Flag beats environment.
  Process flag_wins({BuiltBinary("cueballd"), "--listen", "127.0.0.1:0", "--workers", "5",
                     "--metrics-listen", "127.0.0.1:0"},
                    {{"CUEBALL_DATABASE_URL", db.url()}, {"CUEBALL_WORKERS", "3"}});
  CHECK(WaitFor([&] { return flag_wins.Stderr().find("workers=5") != std::string::npos; }));
  flag_wins.Signal(SIGTERM);
  CHECK(flag_wins.Wait(std::chrono::seconds(30)) == 0);
  // Invalid values.
  auto bad = Run({BuiltBinary("cueballd"), "--database-url", db.url(), "--workers", "0"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--workers"));
  auto none = Run({BuiltBinary("cueballd")}, {{"CUEBALL_DATABASE_URL", ""}});
  CHECK(none.exit_code == 2);
  CHECK_THAT(none.err, Catch::Contains("--database-url"));
}

TEST_CASE("SIGINT stops the daemon cleanly and releases in-flight steps") {
  TestDatabase db(false);
  Daemon d(db);
  std::string slow = Trim(d.Cli({"enqueue", "demo.sleep", "--input", R"({"ms":60000})"}).out);
  REQUIRE(WaitFor([&] { return db.Scalar("SELECT status FROM cueball_runs") == "running"; }));
  d.proc().Signal(SIGINT);
  auto code = d.proc().Wait(std::chrono::seconds(30));
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK_THAT(d.proc().Stderr(), Catch::Contains("stopped"));
  // Nothing is left RUNNING: the step was released for another daemon.
  CHECK(db.Scalar("SELECT status FROM cueball_runs WHERE id = '" + slow + "'") == "enqueued");
  CHECK(db.Scalar("SELECT attempt FROM cueball_runs WHERE id = '" + slow + "'") == "0");
  // A restarted daemon picks the run up again.
  Daemon again(db);
  CHECK(WaitFor([&] { return db.Scalar("SELECT status FROM cueball_runs") == "running"; }));
  CHECK(again.Cli({"cancel", slow}).exit_code == 0);
}

TEST_CASE("kill -9 a daemon mid-step: another daemon rescues the run and finishes it") {
  TestDatabase db(false);
  std::string id;
  {
    Daemon first(db);
    id = Trim(first.Cli({"enqueue", "demo.sleep", "--input", R"({"ms":400})"}).out);
    // Make the step slow only the first time: a long sleep we then interrupt by SIGKILL.
    db.Exec("UPDATE cueball_runs SET input = '{\"ms\": 60000}' WHERE id = '" + id +
            "' AND status = 'enqueued'");
    REQUIRE(WaitFor([&] {
      return db.Scalar("SELECT status FROM cueball_runs WHERE id = '" + id + "'") == "running";
    }));
    first.proc().Signal(SIGKILL);
    REQUIRE(first.proc().Wait(std::chrono::seconds(10)) == -SIGKILL);
  }
  CHECK(db.Scalar("SELECT status FROM cueball_runs WHERE id = '" + id + "'") == "running");
  // Time passes: the dead daemon's lease runs out (simulated, not slept).
  db.Exec(
      "UPDATE cueball_runs SET input = '{\"ms\": 100}', "
      "lease_expires_at = now() - interval '1 second' WHERE id = '" +
      id + "'");
  Daemon second(db, {"--rescue-interval", "200ms"});
  auto wait = second.Cli({"wait", id, "--timeout", "60s"});
  CHECK(wait.exit_code == 0);
  auto j = json::parse(second.Cli({"--json", "get", id}).out);
  CHECK(j["status"] == "RUN_STATUS_SUCCEEDED");
  CHECK(j["attempt"] == 2);  // the lost attempt counts
  bool rescued = false;
  for (auto& e : j["history"]) rescued = rescued || e["kind"] == "run_rescued";
  CHECK(rescued);
}

namespace {

grpc::ByteBuffer Bytes(const std::string& s) {
  grpc::Slice slice(s);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Text(const grpc::ByteBuffer& b) {
  std::vector<grpc::Slice> slices;
  (void)b.Dump(&slices);
  std::string out;
  for (auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace

TEST_CASE("a generic gRPC client sees the health service SERVING and the API via reflection") {
  TestDatabase db(false);
  Daemon d(db);
  auto channel = grpc::CreateChannel(d.address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);

  // grpc.health.v1.Health/Check with service "": the reply is status = SERVING (1).
  grpc::ClientContext hctx;
  hctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::ByteBuffer request = Bytes(""), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&hctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  auto hs = done.get_future().get();
  REQUIRE(hs.ok());
  CHECK(Text(response) == std::string("\x08\x01", 2));

  // grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo: list_services.
  grpc::CompletionQueue cq;
  grpc::ClientContext rctx;
  rctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto call = stub.PrepareCall(
      &rctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](int t) {
    REQUIRE(cq.Next(&tag, &ok));
    REQUIRE(tag == reinterpret_cast<void*>(static_cast<intptr_t>(t)));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  REQUIRE(step(1));
  call->Write(Bytes(std::string("\x3a\x00", 2)), reinterpret_cast<void*>(2));  // list_services ""
  REQUIRE(step(2));
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  REQUIRE(step(3));
  CHECK_THAT(Text(reply), Catch::Contains("cueball.v1.Workflows"));
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status fs;
  call->Finish(&fs, reinterpret_cast<void*>(5));
  step(5);
  CHECK(fs.ok());
}

TEST_CASE("an unreachable database stops start-up with the reason and no password") {
  auto r = Run({BuiltBinary("cueballd"), "--database-url",
                "postgresql://postgres:hunter2@127.0.0.1:1/cueball", "--db-connect-timeout", "1s"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("Connection refused"));
  CHECK_THAT(r.err, !Catch::Contains("hunter2"));
}

TEST_CASE("enqueue reads input from a file or stdin with @") {
  TestDatabase db(false);
  Daemon d(db);
  char path[] = "/tmp/cueball-input.XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const std::string body = R"({"n": 7})";
  REQUIRE(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  close(fd);
  auto enq = d.Cli({"enqueue", "demo.pipeline", "--input", std::string("@") + path});
  unlink(path);
  REQUIRE(enq.exit_code == 0);
  std::string id = Trim(enq.out);
  REQUIRE(d.Cli({"wait", id}).exit_code == 0);
  CHECK(json::parse(d.Cli({"--json", "get", id}).out)["result"]["n"] == 70);
  auto missing = d.Cli({"enqueue", "noop", "--input", "@/no/such/file.json"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("/no/such/file.json"));
}

TEST_CASE("the CLI finds the daemon through CUEBALL_SERVER, and --server wins over it") {
  TestDatabase db(false);
  Daemon d(db);
  auto via_env = Run({BuiltBinary("cueball"), "types"}, {{"CUEBALL_SERVER", d.address()}});
  CHECK(via_env.exit_code == 0);
  CHECK_THAT(via_env.out, Catch::Contains("noop"));
  auto flag_wins = Run({BuiltBinary("cueball"), "--server", d.address(), "types"},
                       {{"CUEBALL_SERVER", "127.0.0.1:1"}});
  CHECK(flag_wins.exit_code == 0);
}

TEST_CASE("cueball retry re-runs a failed run, and refuses one that did not fail") {
  TestDatabase db(false);
  Daemon d(db);
  std::string id = Trim(d.Cli({"enqueue", "demo.flaky", "--input", R"({"succeed_on":99})"}).out);
  REQUIRE(d.Cli({"wait", id, "--timeout", "60s"}).exit_code == 3);
  // Make the next attempts succeed, as if the dependency had been fixed.
  db.Exec("UPDATE cueball_runs SET input = '{\"succeed_on\": 1}' WHERE id = '" + id + "'");
  auto r = d.Cli({"retry", id, "--reason", "fixed upstream"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("flaky"));
  CHECK(d.Cli({"wait", id, "--timeout", "60s"}).exit_code == 0);
  CHECK_THAT(d.Cli({"get", id}).out, Catch::Contains("run_retried"));
  auto again = d.Cli({"retry", id});
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.err, Catch::Contains("FAILED_PRECONDITION"));
}

TEST_CASE("cueball nodes lists every daemon on the database and their liveness") {
  TestDatabase db(false);
  Daemon one(db, {"--node-id", "node-one", "--node-heartbeat", "200ms"});
  auto two = std::make_unique<Daemon>(
      db, std::vector<std::string>{"--node-id", "node-two", "--node-heartbeat", "200ms"});
  auto nodes = one.Cli({"nodes"});
  REQUIRE(nodes.exit_code == 0);
  CHECK_THAT(nodes.out, Catch::Contains("node-one") && Catch::Contains("node-two"));
  CHECK_THAT(nodes.out, Catch::Contains(two->address()));
  two->proc().Signal(SIGTERM);
  REQUIRE(two->proc().Wait(std::chrono::seconds(30)) == 0);
  two.reset();
  auto after = one.Cli({"nodes"});
  CHECK_THAT(after.out, Catch::Contains("node-one") && !Catch::Contains("node-two"));
  auto all = json::parse(one.Cli({"--json", "nodes", "--all"}).out);
  bool two_dead = false;
  for (auto& n : all["nodes"]) {
    if (n["id"] == "node-two") two_dead = n["alive"] == false;
  }
  CHECK(two_dead);
}
