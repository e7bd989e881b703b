// Fault tests with real processes and real PostgreSQL: daemons killed,
// paused and stopped under load, several daemons on one database. Loads are
// modest and every wait has a generous deadline, for a 2-core machine.
#include <google/protobuf/util/time_util.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "client/client.h"
#include "tests/e2e/enqueue_many.h"
#include "tests/support/daemon.h"
#include "tests/support/private_pg.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;

namespace {

int Count(const TestDatabase& db, const std::string& where) {
  return std::stoi(db.Scalar("SELECT count(*) FROM cueball_runs WHERE " + where));
}

// Executions per run id, from demo.sleep's input.log.
std::map<std::string, int> Executions(const std::string& path) {
  std::map<std::string, int> n;
  std::ifstream in(path);
  std::string id, attempt;
  while (in >> id >> attempt) ++n[id];
  return n;
}

std::string TempFile() {
  char path[] = "/tmp/cueball-exec.XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  chmod(path, 0666);
  return path;
}

const std::chrono::milliseconds kLong = std::chrono::seconds(120);

}  // namespace

TEST_CASE("kill -9 with hundreds of steps in flight: another daemon finishes every run") {
  TestDatabase db(false);
  const std::string log = TempFile();
  const std::vector<std::string> fast = {"--workers",         "150",  "--lease", "2s",
                                         "--rescue-interval", "200ms"};
  std::unique_ptr<Daemon> first = std::make_unique<Daemon>(db, fast);
  const int n = 300;
  EnqueueMany(first->address(), n, "demo.sleep", R"({"ms":1500,"log":")" + log + R"("})");
  REQUIRE(WaitFor([&] { return Count(db, "status = 'running'") >= 100; }, kLong));
  first->proc().Signal(SIGKILL);
  REQUIRE(first->proc().Wait(std::chrono::seconds(10)) == -SIGKILL);
  const int in_flight = Count(db, "status = 'running'");
  first.reset();

  Daemon second(db, fast);
  CHECK(WaitFor([&] { return Count(db, "status = 'succeeded'") == n; }, kLong));
  CHECK(Count(db, "status <> 'succeeded'") == 0);
  auto exec = Executions(log);
  unlink(log.c_str());
  int total = 0;
  for (const auto& [id, k] : exec) total += k;
  CHECK(exec.size() == static_cast<size_t>(n));  // every run really ran
  INFO("executions " << total << ", in flight at the kill " << in_flight);
  CHECK(total - n <= in_flight);  // duplicates only for steps that were in flight
}

TEST_CASE("a paused daemon's runs are rescued, and its late completions are refused") {
  TestDatabase db(false);
  const std::vector<std::string> fast = {"--workers",         "50",   "--lease", "1s",
                                         "--rescue-interval", "200ms"};
  Daemon paused(db, fast);
  const int n = 20;
  auto ids = EnqueueMany(paused.address(), n, "demo.sleep", R"({"ms":1500})");
  REQUIRE(WaitFor([&] { return Count(db, "status = 'running'") == n; }, kLong));
  paused.proc().Signal(SIGSTOP);
  Daemon rescuer(db, fast);
  CHECK(WaitFor([&] { return Count(db, "status = 'succeeded'") == n; }, kLong));
  paused.proc().Signal(SIGCONT);
  // The paused daemon wakes up and gives up its old steps, whichever it
  // notices first: the runs ended elsewhere (NOTIFY), its lease is gone
  // (heartbeat), or its completion is refused (fencing). The runs stay as
  // the second daemon recorded them.
  CHECK(WaitFor(
      [&] {
        auto err = paused.proc().Stderr();
        return err.find("late completion refused") != std::string::npos ||
               err.find("lease lost") != std::string::npos ||
               err.find("reason=run_ended") != std::string::npos;
      },
      kLong));
  CHECK(Count(db, "status = 'succeeded'") == n);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'run_succeeded'") ==
        std::to_string(n));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'run_rescued'") ==
        std::to_string(n));
}

TEST_CASE("three daemons drain one queue and without crashes no run executes twice") {
  TestDatabase db(false);
  Daemon a(db, {"--workers", "16"});
  Daemon b(db, {"--workers", "16"});
  Daemon c(db, {"--workers", "16"});
  const int n = 3000;
  EnqueueMany(a.address(), n, "noop", "{}");
  CHECK(WaitFor([&] { return Count(db, "status = 'succeeded'") == n; }, kLong));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'step_started'") ==
        std::to_string(n));
  CHECK(Count(db, "attempt <> 1") == 0);
  // Every daemon took part.
  CHECK(db.Scalar("SELECT count(DISTINCT data->>'owner') FROM cueball_event_log "
                  "WHERE kind = 'step_started'") == "3");
}

TEST_CASE("SIGTERM under load exits within the drain timeout and leaves nothing RUNNING") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "100", "--drain-timeout", "2s"});
  EnqueueMany(d.address(), 200, "demo.sleep", R"({"ms":30000})");
  REQUIRE(WaitFor([&] { return Count(db, "status = 'running'") == 100; }, kLong));
  auto start = std::chrono::steady_clock::now();
  d.proc().Signal(SIGTERM);
  auto code = d.proc().Wait(std::chrono::seconds(30));
  auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(code);
  CHECK(*code == 0);
  CHECK(took < std::chrono::seconds(15));  // drain 2 s plus release; generous for CI
  CHECK(Count(db, "status = 'running'") == 0);
  CHECK(Count(db, "status = 'enqueued'") == 200);
  CHECK(Count(db, "attempt <> 0") == 0);  // released runs used no attempt
}

TEST_CASE("100 concurrent enqueues with one key across two daemons make one run") {
  TestDatabase db(false);
  Daemon a(db);
  Daemon b(db);
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&, t] {
      client::Client c(t % 2 ? a.address() : b.address());
      for (int i = 0; i < 10; ++i) {
        v1::EnqueueRequest r;
        r.set_workflow_type("noop");
        r.set_idempotency_key("one-key");
        v1::EnqueueResponse resp;
        auto s = c.Enqueue(r, &resp);
        if (!s.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(resp.run().id());
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
  CHECK(ids.size() == 1);
  CHECK(Count(db, "true") == 1);
}

TEST_CASE("a waiter on one daemon is woken by a completion on another") {
  TestDatabase db(false);
  Daemon waiter_side(db, {"--queues", "nothing-here"});  // executes nothing itself
  Daemon worker_side(db);
  client::Client c(waiter_side.address());
  v1::EnqueueResponse e;
  v1::EnqueueRequest r;
  r.set_workflow_type("demo.sleep");
  r.set_input(R"({"ms":300})");
  REQUIRE(c.Enqueue(r, &e).ok());
  v1::WaitRequest w;
  w.add_ids(e.run().id());
  *w.mutable_timeout() = google::protobuf::util::TimeUtil::SecondsToDuration(60);
  v1::WaitResponse wr;
  auto start = std::chrono::steady_clock::now();
  REQUIRE(c.Wait(w, &wr).ok());
  CHECK(wr.satisfied());
  CHECK(wr.runs(0).status() == v1::RUN_STATUS_SUCCEEDED);
  // Woken by NOTIFY, not by the 5 s fallback re-check.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  CHECK(db.Scalar("SELECT count(DISTINCT data->>'owner') FROM cueball_event_log "
                  "WHERE kind = 'step_started'") == "1");
}

TEST_CASE("cancel racing completion ends in one consistent final state") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "32"});
  client::Client c(d.address());
  const int n = 60;
  auto ids = EnqueueMany(d.address(), n, "demo.sleep", R"({"ms":50})");
  int canceled = 0;
  for (const auto& id : ids) {
    v1::CancelRequest cr;
    cr.set_id(id);
    v1::CancelResponse resp;
    auto s = c.Cancel(cr, &resp);
    if (s.ok()) ++canceled;
    // Otherwise the run finished first: that is the race, and it is fine.
    if (!s.ok()) CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  }
  CHECK(WaitFor([&] { return Count(db, "status IN ('succeeded', 'canceled')") == n; }, kLong));
  CHECK(Count(db, "status = 'canceled'") == canceled);
  // Exactly one terminal event per run, and it matches the final status.
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs r WHERE (SELECT count(*) FROM "
                  "cueball_event_log e WHERE e.run_id = r.id AND e.kind IN ('run_succeeded', "
                  "'run_canceled', 'run_failed')) <> 1") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs r WHERE status = 'canceled' AND EXISTS "
                  "(SELECT 1 FROM cueball_event_log e WHERE e.run_id = r.id AND "
                  "e.kind = 'run_succeeded')") == "0");
}

TEST_CASE("PostgreSQL restarts under load: nothing acknowledged is lost and the daemon recovers") {
  PrivatePostgres pg;
  Daemon d(pg.url(), {"--workers", "16", "--statement-timeout", "5s"});
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::map<int, int> errors;  // gRPC code -> count
  std::thread producer([&] {
    client::Client c(d.address(), std::chrono::milliseconds(3000));
    while (!stop) {
      v1::EnqueueRequest r;
      r.set_workflow_type("noop");
      v1::EnqueueResponse resp;
      auto s = c.Enqueue(r, &resp);
      std::lock_guard<std::mutex> lock(mu);
      if (s.ok()) {
        acked.push_back(resp.run().id());
      } else {
        ++errors[static_cast<int>(s.error_code())];
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  });
  REQUIRE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size() >= 50;
  }));
  REQUIRE(pg.Restart() == 0);
  size_t before_recovery;
  {
    std::lock_guard<std::mutex> lock(mu);
    before_recovery = acked.size();
  }
  // The daemon recovers by itself: enqueues are acknowledged again.
  CHECK(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mu);
        return acked.size() >= before_recovery + 50;
      },
      kLong));
  stop = true;
  producer.join();

  // Every acknowledged run exists and finishes.
  client::Client c(d.address());
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mu);
    ids = acked;
  }
  for (size_t i = 0; i < ids.size(); i += 500) {
    v1::WaitRequest w;
    for (size_t j = i; j < std::min(ids.size(), i + 500); ++j) w.add_ids(ids[j]);
    *w.mutable_timeout() = google::protobuf::util::TimeUtil::SecondsToDuration(90);
    v1::WaitResponse wr;
    auto s = c.Wait(w, &wr);
    REQUIRE(s.ok());
    CHECK(wr.satisfied());
    for (const auto& r : wr.runs()) CHECK(r.status() == v1::RUN_STATUS_SUCCEEDED);
    CHECK(wr.runs_size() == w.ids_size());
  }
  // Clients saw only retryable errors during the gap, never INTERNAL.
  for (const auto& [code, count] : errors) {
    INFO("code " << code << " x" << count);
    CHECK((code == static_cast<int>(grpc::StatusCode::UNAVAILABLE) ||
           code == static_cast<int>(grpc::StatusCode::DEADLINE_EXCEEDED)));
  }
  CHECK_THAT(d.proc().Stderr(), !Catch::Contains("terminate called"));
}
