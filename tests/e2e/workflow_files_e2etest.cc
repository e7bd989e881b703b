// Workflow files end to end: types declared in YAML/JSON, loaded by a real
// cueballd from --workflows-dir, with exec and http steps that really run
// commands and call a URL (the daemon's own health endpoint).
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "client/client.h"
#include "tests/support/daemon.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;
using nlohmann::json;

namespace {

std::string Enqueue(client::Client& c, const std::string& type, const std::string& input) {
  v1::EnqueueRequest req;
  req.set_workflow_type(type);
  req.set_input(input);
  v1::EnqueueResponse resp;
  REQUIRE(c.Enqueue(req, &resp).ok());
  return resp.run().id();
}

v1::Run Get(client::Client& c, const std::string& id) {
  v1::GetRequest req;
  req.set_id(id);
  req.set_include_history(true);
  v1::GetResponse resp;
  REQUIRE(c.Get(req, &resp).ok());
  return resp.run();
}

bool Finished(client::Client& c, const std::string& id) {
  auto s = Get(c, id).status();
  return s == v1::RUN_STATUS_SUCCEEDED || s == v1::RUN_STATUS_FAILED ||
         s == v1::RUN_STATUS_CANCELED;
}

int Count(const v1::Run& r, const std::string& kind) {
  int n = 0;
  for (const auto& e : r.history()) n += e.kind() == kind;
  return n;
}

}  // namespace

TEST_CASE("the vm.provision example runs its exec steps and keeps their output as blobs") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "2", "--workflows-dir",
                std::string(CUEBALL_SOURCE_DIR) + "/examples/workflows"});
  client::Client c(d.address());
  TempDir work;
  const std::string id =
      Enqueue(c, "vm.provision",
              json({{"workdir", work.path}, {"name", "vm7"}, {"mac", "52:54:00:00:00:07"}}).dump());
  REQUIRE(WaitFor([&] { return Finished(c, id); }));
  auto run = Get(c, id);
  REQUIRE(run.status() == v1::RUN_STATUS_SUCCEEDED);
  auto state = json::parse(run.state());
  for (const char* step :
       {"fetch_boot_files", "make_bridge", "start_dhcp_dns", "make_tap", "start_vm"}) {
    CHECK(state["steps"][step]["exit_code"] == 0);
  }
  namespace fs = std::filesystem;
  CHECK(fs::exists(work.path + "/boot/vmlinuz"));
  CHECK(fs::exists(work.path + "/net/br-vm7/tap-vm7"));
  std::ifstream hosts(work.path + "/net/br-vm7/dhcp-hosts");
  std::string line;
  std::getline(hosts, line);
  CHECK(line == "52:54:00:00:00:07,vm7,10.0.0.2");
  auto out = d.Cli({"blob", "get", id, "start_vm.stdout"});
  REQUIRE(out.exit_code == 0);
  CHECK(out.out == "started vm7 with kernel vm7 on tap-vm7\n");
  auto ls = d.Cli({"blob", "ls", id});
  CHECK_THAT(ls.out, Catch::Contains("fetch_boot_files.stdout"));
  auto types = d.Cli({"types"});
  CHECK_THAT(types.out, Catch::Contains("vm.provision"));

  // site.check: an http step whose result an exec step uses.
  const std::string site = Enqueue(
      c, "site.check", json({{"url", "http://" + d.metrics_address() + "/healthz"}}).dump());
  REQUIRE(WaitFor([&] { return Finished(c, site); }));
  REQUIRE(Get(c, site).status() == v1::RUN_STATUS_SUCCEEDED);
  auto report = d.Cli({"blob", "get", site, "report.stdout"});
  CHECK_THAT(report.out, Catch::Contains("/healthz answered 200 with"));
}

TEST_CASE("exec steps: a failing command is retried by its policy, a slow one is stopped") {
  TestDatabase db(false);
  TempDir dir, work;
  dir.Write("jobs.yaml", R"(name: jobs.fail
steps:
  - name: run
    kind: exec
    argv: [sh, -c, 'echo "trying" ; echo "disk full" >&2; exit 3']
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 100ms}
)");
  dir.Write("slow.json", R"({"name": "jobs.slow", "steps": [
  {"name": "run", "kind": "exec", "timeout": "1s", "retry": {"max_attempts": 1},
   "command": "echo $$ > \"$PIDFILE\"; exec sleep 60", "shell": true,
   "env": {"PIDFILE": "${input.pidfile}"}}]})");
  Daemon d(db, {"--workers", "2", "--workflows-dir", dir.path});
  client::Client c(d.address());

  const std::string failing = Enqueue(c, "jobs.fail", "{}");
  REQUIRE(WaitFor([&] { return Finished(c, failing); }));
  auto run = Get(c, failing);
  CHECK(run.status() == v1::RUN_STATUS_FAILED);
  CHECK_THAT(run.error(), Catch::Contains("exit code 3") && Catch::Contains("disk full"));
  CHECK(Count(run, "step_started") == 2);
  // A failed attempt saves no state (retries start clean): its exit code is
  // in the error and in each step_failed event.
  for (const auto& e : run.history()) {
    if (e.kind() == "step_failed") CHECK_THAT(e.data(), Catch::Contains("exit code 3"));
  }
  auto err = d.Cli({"blob", "get", failing, "run.stderr"});
  CHECK(err.out == "disk full\n");

  // The step's timeout stops the command's whole process group.
  const std::string pidfile = work.path + "/pid";
  const std::string slow = Enqueue(c, "jobs.slow", json({{"pidfile", pidfile}}).dump());
  REQUIRE(WaitFor([&] { return Finished(c, slow); }));
  auto slow_run = Get(c, slow);
  CHECK(slow_run.status() == v1::RUN_STATUS_FAILED);
  CHECK_THAT(slow_run.error(), Catch::Contains("timed out"));
  std::ifstream in(pidfile);
  pid_t pid = 0;
  in >> pid;
  REQUIRE(pid > 0);
  CHECK(WaitFor([&] { return kill(pid, 0) != 0; }, std::chrono::seconds(10)));

  // Canceling the run stops its command too.
  const std::string pidfile2 = work.path + "/pid2";
  const std::string canceled = Enqueue(c, "jobs.slow", json({{"pidfile", pidfile2}}).dump());
  REQUIRE(WaitFor([&] {
    return std::filesystem::exists(pidfile2) && std::filesystem::file_size(pidfile2) > 0;
  }));
  std::ifstream in2(pidfile2);
  pid_t pid2 = 0;
  in2 >> pid2;
  REQUIRE(pid2 > 0);
  REQUIRE(d.Cli({"cancel", canceled}).exit_code == 0);
  CHECK(WaitFor([&] { return kill(pid2, 0) != 0; }, std::chrono::seconds(10)));
}

TEST_CASE("http steps call a URL, keep the body, and retry an unexpected status") {
  TestDatabase db(false);
  TempDir dir;
  dir.Write("probe.yaml", R"(name: probe
steps:
  - name: health
    kind: http
    url: "${input.base}/healthz"
    expect_status: [200]
    timeout: 5s
  - name: missing
    kind: http
    url: "${input.base}/${input.path}"
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 100ms}
)");
  Daemon d(db, {"--workers", "2", "--workflows-dir", dir.path});
  client::Client c(d.address());
  const std::string base = "http://" + d.metrics_address();
  // The second step succeeds on the health page too, then fails on a 404.
  const std::string ok = Enqueue(c, "probe", json({{"base", base}, {"path", "readyz"}}).dump());
  const std::string bad = Enqueue(c, "probe", json({{"base", base}, {"path", "nope"}}).dump());
  REQUIRE(WaitFor([&] { return Finished(c, ok) && Finished(c, bad); }));
  auto good = Get(c, ok);
  CHECK(good.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(json::parse(good.state())["steps"]["health"]["status"] == 200);
  auto body = d.Cli({"blob", "get", ok, "health.body"});
  CHECK(body.exit_code == 0);
  CHECK_FALSE(body.out.empty());
  auto failed = Get(c, bad);
  CHECK(failed.status() == v1::RUN_STATUS_FAILED);
  CHECK_THAT(failed.error(), Catch::Contains("answered 404"));
  CHECK(Count(failed, "step_started") == 3);  // health once, missing twice
}

TEST_CASE("a bad workflow file stops the daemon at start with the file, line and field") {
  TestDatabase db(false);
  TempDir dir;
  dir.Write("good.yaml", "name: fine\nsteps:\n  - {name: a, kind: sleep, duration: 1s}\n");
  dir.Write("bad.yaml",
            "name: broken\nsteps:\n  - name: a\n    kind: exec\n    argv: [true]\n"
            "    timeout: forever\n");
  auto res = testing::Run({BuiltBinary("cueballd"), "--database-url", db.url(), "--listen",
                           "127.0.0.1:0", "--metrics-listen", "", "--workflows-dir", dir.path},
                          {}, std::chrono::seconds(30));
  CHECK(res.exit_code != 0);
  CHECK_THAT(res.err + res.out,
             Catch::Contains("bad.yaml:6: steps[0].timeout: must be a duration"));
  // A child step naming a type nobody defines is refused too.
  std::filesystem::remove(dir.path + "/bad.yaml");
  dir.Write(
      "orphan.json",
      R"({"name": "orphan", "steps": [{"name": "c", "kind": "child", "workflow_type": "ghost"}]})");
  res = testing::Run({BuiltBinary("cueballd"), "--database-url", db.url(), "--listen",
                      "127.0.0.1:0", "--metrics-listen", "", "--workflows-dir", dir.path},
                     {}, std::chrono::seconds(30));
  CHECK(res.exit_code != 0);
  CHECK_THAT(
      res.err + res.out,
      Catch::Contains("orphan.json: steps[0].workflow_type: no workflow type named 'ghost'"));
}

TEST_CASE("output that is not UTF-8 or holds NUL is recorded with U+FFFD and kept raw") {
  // Such output (Latin-1 here, or UTF-8 cut mid-character in an error's
  // tail) used to end the daemon when the outcome was turned into JSON, and
  // again in every daemon that rescued the run.
  TestDatabase db(false);
  TempDir dir;
  dir.Write("latin1.yaml", R"(name: latin1.fail
steps:
  - name: run
    kind: exec
    argv: [sh, -c, 'printf "caf\351 fails\n" >&2; exit 1']
    retry: {max_attempts: 1}
)");
  dir.Write("latin1ok.yaml", R"(name: latin1.ok
steps:
  - name: run
    kind: exec
    argv: [sh, -c, 'printf "caf\351\n"']
)");
  // NUL, which PostgreSQL's text cannot hold: the outcome failed every
  // retry of its batch, and no other outcome was recorded after it.
  dir.Write("nul.yaml", R"(name: nul.out
steps:
  - name: run
    kind: exec
    argv: [sh, -c, 'printf "a\000b"']
)");
  // UTF-8 text longer than the error's 300-byte tail: the tail starts at a
  // character, not in the middle of one.
  dir.Write("long.yaml", R"(name: long.fail
steps:
  - name: run
    kind: exec
    argv: [sh, -c, 'for i in $(seq 400); do printf "\303\251"; done >&2; exit 1']
    retry: {max_attempts: 1}
)");
  Daemon d(db, {"--workers", "2", "--workflows-dir", dir.path});
  client::Client c(d.address());
  const std::string fffd = "\xEF\xBF\xBD";

  const std::string long_run = Enqueue(c, "long.fail", "{}");
  REQUIRE(WaitFor([&] { return Finished(c, long_run); }));
  auto long_error = Get(c, long_run).error();
  CHECK_THAT(long_error, Catch::Contains("...\xC3\xA9\xC3\xA9"));
  CHECK(long_error.find(fffd) == std::string::npos);

  const std::string nul = Enqueue(c, "nul.out", "{}");
  const std::string after = Enqueue(c, "noop", "{}");
  REQUIRE(WaitFor([&] { return Finished(c, nul) && Finished(c, after); }));
  auto nul_run = Get(c, nul);
  CHECK(nul_run.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(json::parse(nul_run.result())["stdout"] == "a" + fffd + "b");
  CHECK(d.Cli({"blob", "get", nul, "run.stdout"}).out == std::string("a\0b", 3));
  CHECK(Get(c, after).status() == v1::RUN_STATUS_SUCCEEDED);

  const std::string failing = Enqueue(c, "latin1.fail", "{}");
  REQUIRE(WaitFor([&] { return Finished(c, failing); }));
  auto run = Get(c, failing);
  CHECK(run.status() == v1::RUN_STATUS_FAILED);
  CHECK_THAT(run.error(), Catch::Contains("caf" + fffd + " fails"));
  CHECK(Count(run, "run_failed") == 1);

  const std::string ok = Enqueue(c, "latin1.ok", "{}");
  REQUIRE(WaitFor([&] { return Finished(c, ok); }));
  auto ok_run = Get(c, ok);
  CHECK(ok_run.status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(json::parse(ok_run.result())["stdout"] == "caf" + fffd + "\n");
  auto out = d.Cli({"blob", "get", ok, "run.stdout"});
  CHECK(out.out == "caf\xE9\n");
  CHECK_FALSE(d.proc().Wait(std::chrono::milliseconds(0)).has_value());  // still serving
}
