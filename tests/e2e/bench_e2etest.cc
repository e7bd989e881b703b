// End to end: `cueball bench` against a real daemon, in its smallest form.
// This checks that every scenario runs and reports every figure; it never
// asserts how fast anything is (that is for docs/performance.md).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/daemon.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

using namespace cueball::testing;
using nlohmann::json;

TEST_CASE("cueball bench runs every scenario and reports every figure as JSON") {
  TestDatabase db(false);
  Daemon d(db);
  auto r = d.Cli({"--json",
                  "bench",
                  "--quick",
                  "--runs",
                  "600",
                  "--pipeline-runs",
                  "150",
                  "--waiters",
                  "40",
                  "--backlog",
                  "800",
                  "--rate",
                  "100",
                  "--seconds",
                  "0.5",
                  "--batch",
                  "100",
                  "--metrics",
                  d.metrics_address(),
                  "--progress",
                  "never"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto doc = json::parse(r.out);
  CHECK(doc["repeat"] == 1);
  const auto& f = doc["figures"];
  for (const char* name :
       {"throughput.enqueue",      "throughput.drain",        "throughput.total",
        "latency.enqueue_rpc_p50", "latency.start_p50",       "latency.start_p99",
        "latency.finish_p99",      "pipeline.runs",           "pipeline.transitions",
        "wait.wake_p50",           "wait.wake_p99",           "wait.daemon_rss",
        "backlog.drain",           "backlog.first_tenth",     "backlog.last_tenth",
        "backlog.vs_throughput",   "remote.drain_in_process", "remote.drain_remote",
        "remote.drain_ratio",      "remote.start_p99",        "remote.in_process_start_p99"}) {
    INFO(name);
    REQUIRE(f.contains(name));
    CHECK(f[name]["value"].get<double>() > 0);
    CHECK(f[name]["samples"].size() == 1);
  }
  CHECK(f["throughput.drain"]["target"]["op"] == ">=");
  CHECK(f["throughput.drain"]["target"]["value"] == 30000);
  // Open loop with Poisson arrivals by default: p99 and max have goals.
  CHECK(f["latency.start_p99"]["target"]["value"] == 5);
  CHECK(f["latency.start_max"]["target"]["value"] == 20);
  const int64_t latency_calls = f["latency.calls"]["value"].get<int64_t>();
  CHECK(latency_calls > 10);  // about 100/s for 0.5 s
  CHECK(f["remote.drain_ratio"]["target"]["value"] == 0.5);
  CHECK(f["remote.start_p99_excess"]["target"]["value"] == 5);
  const int64_t remote_calls = f["remote.calls"]["value"].get<int64_t>();
  // Every run the bench made finished, and succeeded: the remote scenario's
  // in-process and remote drains and its latency calls too.
  const int64_t made = 600 + latency_calls + 150 + 40 + 800 + 600 + 600 + remote_calls;
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs WHERE status = 'succeeded'") ==
        std::to_string(made));
}

TEST_CASE("cueball bench prints one line per figure, and medians with --repeat") {
  TestDatabase db(false);
  Daemon d(db);
  auto r = d.Cli({"bench", "throughput", "pipeline", "--runs", "300", "--pipeline-runs", "60",
                  "--repeat", "2", "--progress", "never"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("throughput.drain"));
  CHECK_THAT(r.out, Catch::Contains("runs/s"));
  CHECK_THAT(r.out, Catch::Contains("target >= 30,000 runs/s"));
  CHECK_THAT(r.out, Catch::Contains("(median of 2)"));
  CHECK_THAT(r.out, Catch::Contains("pipeline.transitions"));
  CHECK_THAT(r.out, !Catch::Contains("latency."));
}

TEST_CASE("cueball bench refuses bad options and names them") {
  TestDatabase db(false);
  Daemon d(db);
  auto bad = d.Cli({"bench", "speed"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("speed"));
  auto zero = d.Cli({"bench", "--runs", "0"});
  CHECK(zero.exit_code == 2);
  CHECK_THAT(zero.err, Catch::Contains("--runs"));
  auto progress = d.Cli({"bench", "--progress", "sometimes"});
  CHECK(progress.exit_code == 2);
  CHECK_THAT(progress.err, Catch::Contains("--progress"));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "0");
}

TEST_CASE("cueball bench reports an unreachable daemon as a failed call") {
  auto r = Run({BuiltBinary("cueball"), "--server", "127.0.0.1:1", "bench", "--quick", "--progress",
                "never"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("ListWorkflowTypes failed"));
}
