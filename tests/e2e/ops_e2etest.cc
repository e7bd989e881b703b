// End-to-end tests of operating cueballd: configuration sources, JSON logs
// and request ids, the metrics endpoint, health and readiness (with the
// database going away and pending migrations), TLS, mutual TLS and bearer
// tokens. Real daemons, real PostgreSQL, certificates made by openssl here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "tests/e2e/enqueue_many.h"
#include "tests/support/daemon.h"
#include "tests/support/private_pg.h"
#include "tests/support/probes.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

namespace client = cueball::client;
namespace v1 = cueball::v1;
using namespace cueball::testing;
using nlohmann::json;

namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// The cueball CLI against `address` with extra environment.
CommandResult Cli(const std::string& address, std::vector<std::string> args,
                  std::map<std::string, std::string> env = {}) {
  std::vector<std::string> argv = {BuiltBinary("cueball"), "--server", address};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, env);
}

}  // namespace

TEST_CASE("settings come from flags, then the environment, then the config file, shown masked") {
  TempDir dir;
  const std::string secret_token = "tok-0123456789abcdef-secret";
  const std::string conf = dir.Write("cueballd.conf",
                                     "# cueballd settings\n"
                                     "database_url = \"postgresql://app:hunter2@db:5432/cb\"\n"
                                     "workers = 7\n"
                                     "queues = [\"mail\", \"billing\"]\n"
                                     "lease = \"45s\"   # trailing comment\n"
                                     "max-watchers = 9\n");
  auto r = Run({BuiltBinary("cueballd"), "--config", conf, "--lease", "20s", "config"},
               {{"CUEBALL_WORKERS", "9"}, {"CUEBALL_AUTH_TOKENS", secret_token}});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("lease = \"20s\"  # flag"));
  CHECK_THAT(r.out, Catch::Contains("workers = \"9\"  # env CUEBALL_WORKERS"));
  CHECK_THAT(r.out, Catch::Contains("queues = \"mail,billing\"  # file"));
  CHECK_THAT(r.out, Catch::Contains("max-watchers = \"9\"  # file"));
  CHECK_THAT(r.out, Catch::Contains("retain-succeeded = \"\"  # default"));
  CHECK_THAT(r.out, Catch::Contains("database-url = \"postgresql://app:****@db:5432/cb\""));
  CHECK_THAT(r.out, Catch::Contains("auth-tokens = \"1 token(s), masked\""));
  CHECK(r.out.find("hunter2") == std::string::npos);
  CHECK(r.out.find(secret_token) == std::string::npos);

  // Invalid values stop start-up with one line naming where they came from.
  auto bad_file = Run(
      {BuiltBinary("cueballd"), "--config", dir.Write("bad.conf", "\nworkers = 0\n"), "config"});
  CHECK(bad_file.exit_code == 2);
  REQUIRE(Lines(bad_file.err).size() == 1);
  CHECK_THAT(bad_file.err, Catch::Contains("bad.conf:2") && Catch::Contains("--workers"));
  auto unknown =
      Run({BuiltBinary("cueballd"), "--config", dir.Write("typo.conf", "wrokers = 3\n"), "config"});
  CHECK(unknown.exit_code == 2);
  CHECK(Lines(unknown.err).size() == 1);
  CHECK_THAT(unknown.err, Catch::Contains("typo.conf:1") && Catch::Contains("'wrokers'"));
  // The file is TOML (toml++): a bare word, which the old hand-written
  // reader took as a string, is refused with its line, and so is a table.
  auto bare = Run({BuiltBinary("cueballd"), "--config",
                   dir.Write("bare.conf", "workers = 3\nlease = 45s\n"), "config"});
  CHECK(bare.exit_code == 2);
  CHECK(Lines(bare.err).size() == 1);
  CHECK_THAT(bare.err, Catch::Contains("bare.conf:2: not valid TOML") &&
                           Catch::Contains("strings need quotes"));
  auto table =
      Run({BuiltBinary("cueballd"), "--config",
           dir.Write("table.conf", "workers = 3\n[server]\nlisten = \"x:1\"\n"), "config"});
  CHECK(table.exit_code == 2);
  CHECK_THAT(table.err, Catch::Contains("table.conf:2: [server] is a table"));
  auto typed = Run({BuiltBinary("cueballd"), "--config",
                    dir.Write("typed.conf",
                              "workers = 5\nauto_migrate = false\n"
                              "max-request-rate = 2.5\n"),
                    "--database-url", "postgresql://x@y/z", "config"});
  CHECK(typed.exit_code == 0);
  CHECK_THAT(typed.out, Catch::Contains("workers = \"5\"  # file") &&
                            Catch::Contains("auto-migrate = \"false\"  # file") &&
                            Catch::Contains("max-request-rate = \"2.5\"  # file"));
  auto bad_env = Run({BuiltBinary("cueballd"), "config"}, {{"CUEBALL_LEASE", "soon"}});
  CHECK(bad_env.exit_code == 2);
  CHECK(Lines(bad_env.err).size() == 1);
  CHECK_THAT(bad_env.err, Catch::Contains("--lease") && Catch::Contains("soon"));
  auto short_token = Run({BuiltBinary("cueballd"), "config"}, {{"CUEBALL_AUTH_TOKENS", "short"}});
  CHECK(short_token.exit_code == 2);
  CHECK_THAT(short_token.err, Catch::Contains("16 characters"));
  auto missing = Run({BuiltBinary("cueballd"), "--config", dir / "nope.conf", "config"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("nope.conf"));
  // Plaintext off loopback needs an explicit yes.
  auto remote = Run({BuiltBinary("cueballd"), "--database-url", "postgresql://x@y/z", "--listen",
                     "0.0.0.0:7420", "config"});
  CHECK(remote.exit_code == 2);
  CHECK_THAT(remote.err, Catch::Contains("not a loopback address"));
  CHECK(Run({BuiltBinary("cueballd"), "--database-url", "postgresql://x@y/z", "--listen",
             "0.0.0.0:7420", "--allow-insecure-remote", "true", "config"})
            .exit_code == 0);
  // --help documents units and defaults.
  auto help = Run({BuiltBinary("cueballd"), "--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("DURATION") && Catch::Contains("250ms") &&
                           Catch::Contains("in bytes") && Catch::Contains("CUEBALL_CONFIG"));
}

TEST_CASE("a daemon runs from a config file alone") {
  TestDatabase db(false);
  TempDir dir;
  const std::string conf = dir.Write("cueballd.conf", "database-url = \"" + db.url() +
                                                          "\"\n"
                                                          "listen = \"127.0.0.1:0\"\n"
                                                          "metrics-listen = \"127.0.0.1:0\"\n"
                                                          "workers = 3\n");
  Process d({BuiltBinary("cueballd"), "--config", conf});
  std::smatch m;
  std::string err;
  REQUIRE(WaitFor([&] {
    err = d.Stderr();
    return std::regex_search(err, m, std::regex(R"(serving address=(\S+) workers=3 )"));
  }));
  CHECK(Cli(m[1].str(), {"enqueue", "noop"}).exit_code == 0);
  d.Signal(SIGTERM);
  CHECK(d.Wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("JSON logs write one object per line, with the caller's request id") {
  TestDatabase db(false);
  Daemon d(db, {"--log-format", "json", "--log-level", "debug"});
  client::Client c(d.address());
  v1::EnqueueRequest req;
  req.set_workflow_type("noop");
  v1::EnqueueResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-request-id", "checkout-7f3a");
  REQUIRE(c.stub()->Enqueue(&ctx, req, &resp).ok());
  auto echoed = ctx.GetServerInitialMetadata().find("x-request-id");
  REQUIRE(echoed != ctx.GetServerInitialMetadata().end());
  CHECK(std::string(echoed->second.data(), echoed->second.size()) == "checkout-7f3a");
  // Without one, the daemon makes one up and says which.
  grpc::ClientContext ctx2;
  v1::GetRequest get;
  get.set_id("00000000-0000-0000-0000-000000000000");
  v1::GetResponse got;
  CHECK(c.stub()->Get(&ctx2, get, &got).error_code() == grpc::StatusCode::NOT_FOUND);
  auto made = ctx2.GetServerInitialMetadata().find("x-request-id");
  REQUIRE(made != ctx2.GetServerInitialMetadata().end());
  const std::string made_id(made->second.data(), made->second.size());
  CHECK(std::regex_match(made_id, std::regex("[0-9a-f]{16}")));

  bool enqueued_line = false, failed_line = false;
  REQUIRE(WaitFor([&] {
    enqueued_line = failed_line = false;
    for (const auto& line : Lines(d.proc().Stderr())) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.contains("ts") || !j.contains("level") || !j.contains("msg"))
        return false;
      if (j["msg"] == "run enqueued" && j.value("request_id", "") == "checkout-7f3a" &&
          j.value("run", "") == resp.run().id())
        enqueued_line = true;
      if (j["msg"] == "rpc failed" && j.value("request_id", "") == made_id &&
          j.value("code", "") == "NOT_FOUND")
        failed_line = true;
    }
    return enqueued_line && failed_line;
  }));
}

TEST_CASE("the metrics endpoint counts a known workload") {
  TestDatabase db(false);
  Daemon d(db);
  REQUIRE_FALSE(d.metrics_address().empty());
  client::Client c(d.address());
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Trim(Cli(d.address(), {"enqueue", "noop"}).out));
  }
  ids.push_back(
      Trim(Cli(d.address(), {"enqueue", "demo.flaky", "--input", R"({"succeed_on":2})"}).out));
  ids.push_back(
      Trim(Cli(d.address(), {"enqueue", "demo.flaky", "--input", R"({"permanent":true})"}).out));
  std::vector<std::string> wait_args = {"wait", "--timeout", "60s"};
  wait_args.insert(wait_args.end(), ids.begin(), ids.end());
  REQUIRE(Cli(d.address(), wait_args).exit_code != 2);
  const std::string later = Trim(Cli(d.address(), {"enqueue", "demo.sleep", "--delay", "1h"}).out);
  CHECK(Cli(d.address(), {"get", "00000000-0000-0000-0000-000000000000"}).exit_code != 0);

  // A Wait pending on the delayed run shows as an active waiter until it is canceled.
  auto waiter = std::async(std::launch::async, [&] {
    return Cli(d.address(), {"wait", later, "--timeout", "60s"});
  });
  std::string text;
  REQUIRE(WaitFor([&] {
    text = HttpGet(d.metrics_address(), "/metrics").body;
    return MetricValue(text, "cueball_waiters_active") == 1 &&
           MetricValue(text, R"(cueball_runs_finished_total{status="succeeded",type="noop"})") == 5;
  }));
  CHECK(MetricValue(text, R"(cueball_runs_enqueued_total{queue="default",type="noop"})") == 5);
  CHECK(MetricValue(text, R"(cueball_runs_enqueued_total{queue="default",type="demo.flaky"})") ==
        2);
  CHECK(MetricValue(text, R"(cueball_runs_finished_total{status="succeeded",type="demo.flaky"})") ==
        1);
  CHECK(MetricValue(text, R"(cueball_runs_finished_total{status="failed",type="demo.flaky"})") ==
        1);
  CHECK(MetricValue(text, R"(cueball_step_retries_total{step="flaky",type="demo.flaky"})") == 1);
  CHECK(MetricValue(
            text,
            R"(cueball_step_duration_seconds_count{outcome="next",step="noop",type="noop"})") == 5);
  CHECK(MetricValue(text, R"(cueball_rpc_duration_seconds_count{code="OK",method="Enqueue"})") ==
        8);
  CHECK(MetricValue(text, R"(cueball_rpc_duration_seconds_count{code="NOT_FOUND",method="Get"})") ==
        1);
  CHECK(MetricValue(text, R"(cueball_queue_scheduled_runs{queue="default"})") == 1);
  CHECK(MetricValue(text, R"(cueball_queue_ready_runs{queue="default"})") == 0);
  CHECK(MetricValue(text, R"(cueball_db_pool_connections{pool="runs",state="max"})") > 0);
  CHECK(MetricValue(text, "cueball_ready") == 1);
  CHECK(MetricValue(text, "cueball_lease_rescues_total") == 0);

  REQUIRE(Cli(d.address(), {"cancel", later}).exit_code == 0);
  CHECK(waiter.get().exit_code != 2);
  REQUIRE(WaitFor([&] {
    text = HttpGet(d.metrics_address(), "/metrics").body;
    return MetricValue(text, "cueball_waiters_active") == 0;
  }));
  CHECK(MetricValue(text, R"(cueball_runs_finished_total{status="canceled",type="demo.sleep"})") ==
        1);

  CHECK(HttpGet(d.metrics_address(), "/healthz").code == 200);
  CHECK(HttpGet(d.metrics_address(), "/readyz").code == 200);
  CHECK(HttpGet(d.metrics_address(), "/nope").code == 404);
}

TEST_CASE("after a burst the daemon vacuums the runs' table itself, and says so") {
  TestDatabase db(false);
  Daemon d(db, {"--vacuum-dead-rows", "500"});
  client::Client c(d.address());
  auto ids = EnqueueMany(c, 1000, "noop");
  std::vector<std::string> wait_args = {"wait", "--timeout", "60s"};
  wait_args.insert(wait_args.end(), ids.begin(), ids.end());
  REQUIRE(Cli(d.address(), wait_args).exit_code == 0);
  // Claims are caught up, and each run left dead row versions behind.
  CHECK(WaitFor([&] {
    return MetricValue(HttpGet(d.metrics_address(), "/metrics").body,
                       "cueball_runs_vacuums_total") >= 1;
  }));
  CHECK_THAT(d.proc().Stderr(), Catch::Contains("vacuumed runs dead_rows="));
}

TEST_CASE("health turns NOT_SERVING while PostgreSQL is down and SERVING when it returns") {
  PrivatePostgres pg;
  Daemon d(pg.url(), {"--health-interval", "200ms"});
  CHECK(GrpcHealth(d.address()) == 1);
  CHECK(HttpGet(d.metrics_address(), "/readyz").code == 200);

  REQUIRE(pg.Stop() == 0);
  CHECK(WaitFor([&] { return GrpcHealth(d.address()) == 2; }));
  auto readyz = HttpGet(d.metrics_address(), "/readyz");
  CHECK(readyz.code == 503);
  CHECK_THAT(readyz.body, Catch::Contains("database unreachable"));
  CHECK(HttpGet(d.metrics_address(), "/healthz").code == 200);  // alive, only not ready
  CHECK_THAT(d.proc().Stderr(), Catch::Contains("health not_serving"));

  REQUIRE(pg.Start() == 0);
  CHECK(WaitFor([&] { return GrpcHealth(d.address()) == 1; }));
  CHECK(WaitFor([&] { return HttpGet(d.metrics_address(), "/readyz").code == 200; }));
  CHECK(WaitFor([&] { return Cli(d.address(), {"enqueue", "noop"}).exit_code == 0; }));
}

TEST_CASE("without auto-migrate the daemon is NOT_SERVING until cueballd migrate has run") {
  TestDatabase db(false);
  Daemon d(db, {"--auto-migrate", "false", "--health-interval", "200ms"});
  REQUIRE(WaitFor(
      [&] { return d.proc().Stderr().find("waiting for the database") != std::string::npos; }));
  CHECK(GrpcHealth(d.address()) == 2);
  auto readyz = HttpGet(d.metrics_address(), "/readyz");
  CHECK(readyz.code == 503);
  CHECK_THAT(readyz.body, Catch::Contains("pending") && Catch::Contains("cueballd migrate"));
  auto refused = Cli(d.address(), {"enqueue", "noop"});
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("UNAVAILABLE") && Catch::Contains("pending"));

  auto m = Run({BuiltBinary("cueballd"), "migrate", "--database-url", db.url()});
  REQUIRE(m.exit_code == 0);
  CHECK(WaitFor([&] { return GrpcHealth(d.address()) == 1; }));
  CHECK(HttpGet(d.metrics_address(), "/readyz").code == 200);
  CHECK(Cli(d.address(), {"enqueue", "noop"}).exit_code == 0);
}

TEST_CASE("runs no live daemon serves are shown by get and list and counted by a metric") {
  TestDatabase db;
  // A runs site.check (a workflow file) but only on queue "other"; B runs the
  // built-in types on "default". A site.check run on "default" is served by
  // nobody, and so is a noop run on queue "nobody".
  Daemon a(db, {"--workflows-dir", std::string(CUEBALL_SOURCE_DIR) + "/examples/workflows",
                "--queues", "other", "--node-heartbeat", "200ms"});
  Daemon b(db, {"--node-heartbeat", "200ms"});
  auto orphan = Cli(a.address(), {"enqueue", "site.check", "--input", R"({"url":"http://x"})"});
  REQUIRE(orphan.exit_code == 0);
  auto lonely = Cli(b.address(), {"enqueue", "noop", "--queue", "nobody"});
  REQUIRE(lonely.exit_code == 0);
  auto served = Cli(b.address(), {"enqueue", "noop", "--delay", "1h"});
  REQUIRE(served.exit_code == 0);
  const std::string orphan_id = Lines(orphan.out).at(0), lonely_id = Lines(lonely.out).at(0),
                    served_id = Lines(served.out).at(0);

  auto get = Cli(b.address(), {"get", orphan_id, "--no-history"});
  REQUIRE(get.exit_code == 0);
  CHECK_THAT(get.out, Catch::Contains("served") &&
                          Catch::Contains("no live daemon runs type site.check on queue default"));
  CHECK(json::parse(Cli(b.address(), {"--json", "get", lonely_id}).out).value("unserved", false));
  CHECK_FALSE(
      json::parse(Cli(b.address(), {"--json", "get", served_id}).out).value("unserved", false));
  auto list = Cli(b.address(), {"list", "--limit", "10"});
  int marked = 0;
  for (const auto& line : Lines(list.out)) {
    if (line.find("(unserved)") == std::string::npos) continue;
    ++marked;
    CHECK((line.find(orphan_id) != std::string::npos || line.find(lonely_id) != std::string::npos));
  }
  CHECK(marked == 2);
  auto metrics = HttpGet(b.metrics_address(), "/metrics").body;
  CHECK(MetricValue(metrics,
                    "cueball_runs_unserved{queue=\"default\",workflow_type=\"site.check\"}") == 1);
  CHECK(MetricValue(metrics, "cueball_runs_unserved{queue=\"nobody\",workflow_type=\"noop\"}") ==
        1);
  CHECK(MetricValue(metrics, "cueball_runs_unserved{queue=\"default\",workflow_type=\"noop\"}") ==
        -1);
}

TEST_CASE("scripts/dev.sh ended by SIGTERM stops the daemon, then its PostgreSQL") {
  TempDir dir;
  REQUIRE(chmod((dir / "").c_str(), 0755) == 0);  // PostgreSQL runs as its own user
  const std::string node = "devsh-" + std::to_string(getpid());
  // A port nothing listens on now (the kernel's pick), for dev.sh's PostgreSQL.
  const std::string port = [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    close(fd);
    return std::to_string(ntohs(a.sin_port));
  }();
  Process dev({"/bin/bash", std::string(CUEBALL_SOURCE_DIR) + "/scripts/dev.sh", "--listen",
               "127.0.0.1:0", "--metrics-listen", "", "--node-id", node},
              {{"CUEBALL_PG_PORT", port}, {"CUEBALL_DEV_DATA", dir / "pg"}});
  bool up = WaitFor(
      [&] {
        return dev.Stderr().find("main serving ") != std::string::npos ||
               dev.Wait(std::chrono::milliseconds(0)).has_value();
      },
      std::chrono::seconds(120));
  up = up && dev.Stderr().find("main serving ") != std::string::npos;
  INFO("stdout:\n" << dev.Stdout() << "\nstderr:\n" << dev.Stderr());
  REQUIRE(up);
  auto daemon_running = [&] {
    auto r = Run({"/usr/bin/pgrep", "-f", "--", "--node-id " + node});
    return r.exit_code == 0;
  };
  REQUIRE(daemon_running());
  dev.Signal(SIGTERM);
  CHECK(dev.Wait(std::chrono::seconds(60)) == 0);
  CHECK_FALSE(daemon_running());
  CHECK_THAT(dev.Stderr(), Catch::Contains("shutting down") && Catch::Contains("stopped"));
  auto pg = Run({"/usr/bin/pg_isready", "-h", "127.0.0.1", "-p", port});
  CHECK(pg.exit_code != 0);  // PostgreSQL stopped too
}

TEST_CASE("a daemon started before PostgreSQL retries, says so, and serves once it is up") {
  PrivatePostgres pg;
  REQUIRE(pg.Stop() == 0);
  Daemon d(pg.url(), {"--auto-migrate", "true", "--health-interval", "200ms"});
  REQUIRE(WaitFor([&] {
    return d.proc().Stderr().find("database not reachable yet attempt=2") != std::string::npos;
  }));
  CHECK(GrpcHealth(d.address()) == 2);  // NOT_SERVING meanwhile
  auto refused = Cli(d.address(), {"enqueue", "noop"});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("UNAVAILABLE"));
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the database comes up late
  REQUIRE(pg.Start() == 0);
  CHECK(WaitFor([&] { return GrpcHealth(d.address()) == 1; }));
  auto id = Cli(d.address(), {"enqueue", "noop"});
  REQUIRE(id.exit_code == 0);
  CHECK(Cli(d.address(), {"wait", Lines(id.out).at(0), "--timeout", "30s"}).exit_code == 0);
  CHECK_THAT(d.proc().Stderr(),
             Catch::Contains("database reachable attempt=") && Catch::Contains("schema ready"));
}

TEST_CASE("cueballd migrate waits for a database that comes up late") {
  PrivatePostgres pg;
  REQUIRE(pg.Stop() == 0);
  Process m({BuiltBinary("cueballd"), "migrate", "--database-url", pg.url()});
  REQUIRE(WaitFor([&] {
    return m.Stderr().find("database not reachable yet attempt=2") != std::string::npos;
  }));
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(pg.Start() == 0);
  CHECK(m.Wait(std::chrono::seconds(60)) == 0);
  CHECK_THAT(m.Stderr(), Catch::Contains("schema ready"));
}

TEST_CASE("a database that never answers ends start-up with one clear error and exit 1") {
  PrivatePostgres pg;
  REQUIRE(pg.Stop() == 0);
  for (bool migrate_only : {true, false}) {
    std::vector<std::string> argv = {BuiltBinary("cueballd")};
    if (migrate_only) argv.push_back("migrate");
    argv.insert(argv.end(), {"--database-url", pg.url(), "--db-connect-timeout", "2s", "--listen",
                             "127.0.0.1:0", "--metrics-listen", ""});
    Process p(argv);
    CHECK(p.Wait(std::chrono::seconds(30)) == 1);
    int errors = 0;
    for (const auto& line : Lines(p.Stderr())) {
      if (line.find(" error ") != std::string::npos) {
        ++errors;
        CHECK_THAT(line, Catch::Contains("database unreachable, giving up") &&
                             Catch::Contains("waited_ms=") &&
                             Catch::Contains("Connection refused"));
      }
    }
    CHECK(errors == 1);
  }
}

namespace {

// A CA, a server certificate for localhost/127.0.0.1, a client certificate
// it signed, and a client certificate from an unrelated CA.
struct Certs {
  TempDir dir;
  Certs() {
    const std::string d = dir / "";
    auto ssl = [&](const std::string& cmd) {
      auto r = Run({"/bin/sh", "-c", "cd " + d + " && " + cmd});
      if (r.exit_code != 0) FAIL("openssl failed: " << cmd << "\n" << r.err);
    };
    const std::string key = "openssl req -newkey rsa:2048 -nodes -subj ";
    for (const std::string ca : {"ca", "rogue"}) {
      ssl("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" + ca + "-ca -keyout " +
          ca + ".key -out " + ca + ".pem 2>/dev/null");
    }
    ssl(key + "/CN=localhost -keyout server.key -out server.csr 2>/dev/null");
    dir.Write("san.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    ssl("openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.pem 2>/dev/null");
    for (const std::string ca : {"ca", "rogue"}) {
      ssl(key + "/CN=worker-" + ca + " -keyout client-" + ca + ".key -out client-" + ca +
          ".csr 2>/dev/null");
      ssl("openssl x509 -req -in client-" + ca + ".csr -CA " + ca + ".pem -CAkey " + ca +
          ".key -CAcreateserial -days 2 -out client-" + ca + ".pem 2>/dev/null");
    }
  }
  std::string operator/(const std::string& name) const { return dir / name; }
};

}  // namespace

TEST_CASE("TLS and mutual TLS on the gRPC listener") {
  TestDatabase db(false);
  Certs certs;
  Daemon tls(db, {"--tls-cert", certs / "server.pem", "--tls-key", certs / "server.key"});
  CHECK_THAT(tls.proc().Stderr(), Catch::Contains("tls=on"));
  auto ok = Cli(tls.address(), {"--tls-ca", certs / "ca.pem", "types"});
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("noop"));
  auto plain = Cli(tls.address(), {"types"});
  CHECK(plain.exit_code != 0);
  CHECK_THAT(plain.err, Catch::Contains("UNAVAILABLE"));
  CHECK(Cli(tls.address(), {"--tls-ca", certs / "rogue.pem", "types"}).exit_code != 0);
  CHECK(Cli(tls.address(), {"--tls-ca", certs / "missing.pem", "types"}).exit_code == 2);

  Daemon mtls(db, {"--tls-cert", certs / "server.pem", "--tls-key", certs / "server.key",
                   "--tls-client-ca", certs / "ca.pem"});
  CHECK_THAT(mtls.proc().Stderr(), Catch::Contains("tls=mutual"));
  CHECK(Cli(mtls.address(), {"--tls-ca", certs / "ca.pem", "types"}).exit_code != 0);
  CHECK(Cli(mtls.address(), {"--tls-ca", certs / "ca.pem", "--tls-cert", certs / "client-rogue.pem",
                             "--tls-key", certs / "client-rogue.key", "types"})
            .exit_code != 0);
  auto mutual =
      Cli(mtls.address(), {"--tls-ca", certs / "ca.pem", "--tls-cert", certs / "client-ca.pem",
                           "--tls-key", certs / "client-ca.key", "enqueue", "noop"});
  CHECK(mutual.exit_code == 0);
  // The same through the environment, as a service would configure it.
  auto env = Cli(mtls.address(), {"types"},
                 {{"CUEBALL_TLS_CA", certs / "ca.pem"},
                  {"CUEBALL_TLS_CERT", certs / "client-ca.pem"},
                  {"CUEBALL_TLS_KEY", certs / "client-ca.key"}});
  CHECK(env.exit_code == 0);
  // Health stays reachable for probes over the same TLS.
  grpc::SslCredentialsOptions o;
  std::ifstream ca(certs / "ca.pem");
  o.pem_root_certs.assign(std::istreambuf_iterator<char>(ca), {});
  CHECK(GrpcHealth(grpc::CreateChannel(tls.address(), grpc::SslCredentials(o))) == 1);
}

TEST_CASE("bearer tokens: missing, wrong and rotated tokens, and health without one") {
  TestDatabase db(false);
  TempDir dir;
  const std::string old_token = "old-0123456789abcdef0123";
  const std::string new_token = "new-fedcba9876543210fedc";
  const std::string tokens = dir.Write("tokens", "# accepted tokens\n" + old_token + "\n");
  Daemon d(db, {"--auth-tokens-file", tokens});
  CHECK_THAT(d.proc().Stderr(), Catch::Contains("auth=bearer"));

  auto none = Cli(d.address(), {"enqueue", "noop"});
  CHECK(none.exit_code != 0);
  CHECK_THAT(none.err, Catch::Contains("UNAUTHENTICATED") && Catch::Contains("bearer token"));
  auto wrong = Cli(d.address(), {"enqueue", "noop"}, {{"CUEBALL_TOKEN", new_token}});
  CHECK(wrong.exit_code != 0);
  CHECK_THAT(wrong.err, Catch::Contains("UNAUTHENTICATED"));
  CHECK(Cli(d.address(), {"wait", "00000000-0000-0000-0000-000000000000", "--timeout", "1s"})
            .err.find("UNAUTHENTICATED") != std::string::npos);
  CHECK(Cli(d.address(), {"watch", "--no-follow"}).err.find("UNAUTHENTICATED") !=
        std::string::npos);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "0");  // nothing was done
  CHECK(GrpcHealth(d.address()) == 1);                           // probes need no token

  auto right = Cli(d.address(), {"enqueue", "noop"}, {{"CUEBALL_TOKEN", old_token}});
  CHECK(right.exit_code == 0);
  const std::string token_file = dir.Write("my-token", old_token + "\n");
  CHECK(Cli(d.address(), {"--token-file", token_file, "list"}).exit_code == 0);

  // Rotation without a restart: add the new token, move clients, drop the old one.
  dir.Write("tokens", old_token + "\n" + new_token + "\n");
  CHECK(WaitFor([&] {
    return Cli(d.address(), {"types"}, {{"CUEBALL_TOKEN", new_token}}).exit_code == 0;
  }));
  CHECK(Cli(d.address(), {"types"}, {{"CUEBALL_TOKEN", old_token}}).exit_code == 0);
  dir.Write("tokens", new_token + "\n");
  CHECK(WaitFor([&] {
    return Cli(d.address(), {"types"}, {{"CUEBALL_TOKEN", old_token}}).exit_code != 0;
  }));
  CHECK(Cli(d.address(), {"types"}, {{"CUEBALL_TOKEN", new_token}}).exit_code == 0);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "1");

  // Tokens from the environment (several, comma-separated) work the same way.
  Daemon env(db, {}, {{"CUEBALL_AUTH_TOKENS", old_token + "," + new_token}});
  CHECK(Cli(env.address(), {"types"}, {{"CUEBALL_TOKEN", old_token}}).exit_code == 0);
  CHECK(Cli(env.address(), {"types"}, {{"CUEBALL_TOKEN", new_token}}).exit_code == 0);
  CHECK(Cli(env.address(), {"types"}).exit_code != 0);
}

TEST_CASE("the container entrypoint migrates, serves, passes its healthcheck and runs the demo") {
  // deploy/cueballd.env is what the compose stack gives the container; only the
  // addresses (fixed ports there) and the secret's path differ here.
  TestDatabase db(false);
  TempDir dir;
  const std::string source = CUEBALL_SOURCE_DIR;
  const std::string entrypoint = source + "/deploy/entrypoint.sh";
  std::map<std::string, std::string> env;
  std::ifstream env_file(source + "/deploy/cueballd.env");
  for (std::string line; std::getline(env_file, line);) {
    if (line.empty() || line[0] == '#') continue;
    env[line.substr(0, line.find('='))] = line.substr(line.find('=') + 1);
  }
  REQUIRE(env.count("CUEBALL_DATABASE_URL_FILE"));
  REQUIRE(env["CUEBALL_AUTO_MIGRATE"] == "false");
  env["CUEBALL_DATABASE_URL_FILE"] = dir.Write("database_url", db.url() + "\n");
  env["CUEBALL_LISTEN"] = "127.0.0.1:0";
  env["CUEBALL_METRICS_LISTEN"] = "127.0.0.1:0";
  const std::string bin = BuiltBinary("cueballd");
  env["CUEBALL_BIN_DIR"] = bin.substr(0, bin.rfind('/'));

  auto migrate = Run({"/bin/sh", entrypoint, "migrate"}, env);
  REQUIRE(migrate.exit_code == 0);
  CHECK_THAT(migrate.err, Catch::Contains("migration applied"));

  Process serve({"/bin/sh", entrypoint, "serve"}, env);
  std::smatch m;
  std::string err, address, metrics;
  REQUIRE(WaitFor([&] {
    err = serve.Stderr();
    if (std::regex_search(err, m,
                          std::regex(R"re("msg":"metrics endpoint","address":"([^"]+)")re")))
      metrics = m[1].str();
    return std::regex_search(err, m, std::regex(R"re("msg":"serving","address":"([^"]+)")re"));
  }));
  address = m[1].str();
  auto hc_env = env;
  hc_env["CUEBALL_HEALTHCHECK_URL"] = "http://" + metrics + "/readyz";
  CHECK(Run({"/bin/sh", entrypoint, "healthcheck"}, hc_env).exit_code == 0);

  auto demo = Run({"/bin/sh", entrypoint, "demo"}, {{"CUEBALL_SERVER", address},
                                                    {"CUEBALL_BIN_DIR", env["CUEBALL_BIN_DIR"]},
                                                    {"CUEBALL_DEMO_TIMEOUT", "60s"}});
  CHECK(demo.exit_code == 0);
  CHECK_THAT(demo.out, Catch::Contains("enqueued demo.pipeline") && Catch::Contains("succeeded"));

  serve.Signal(SIGTERM);  // the entrypoint exec'd cueballd: the signal reaches it
  CHECK(serve.Wait(std::chrono::seconds(30)) == 0);
  hc_env["CUEBALL_HEALTHCHECK_URL"] = "http://" + metrics + "/readyz";
  CHECK(Run({"/bin/sh", entrypoint, "healthcheck"}, hc_env).exit_code != 0);
  // A secret that cannot be read stops it with one clear line.
  env["CUEBALL_DATABASE_URL_FILE"] = dir / "missing";
  auto no_secret = Run({"/bin/sh", entrypoint, "serve"}, env);
  CHECK(no_secret.exit_code == 2);
  CHECK_THAT(no_secret.err, Catch::Contains("CUEBALL_DATABASE_URL_FILE"));
}
