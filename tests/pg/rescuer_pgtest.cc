// The rescuer on real PostgreSQL: runs whose daemon died (lease expired) go
// back to the queue as a failed attempt, or fail when attempts are used up;
// the dead daemon's late completion is then refused.
#include <catch2/catch.hpp>

#include "server/maintenance/rescuer.h"
#include "server/store/postgres/pg_run_store.h"
#include "tests/support/test_db.h"
#include "workers/builtin.h"

using namespace cueball;
using cueball::testing::TestDatabase;

namespace {

store::NewRun FlakyRun() {
  store::NewRun r;
  r.id = RunId::NewV7().str();
  r.workflow_type = "demo.flaky";
  r.first_step = "flaky";
  return r;
}

}  // namespace

TEST_CASE("an expired lease is rescued as a failed attempt and the old holder is fenced out") {
  TestDatabase db;
  store::pg::PgRunStore s(db.url(), 4);
  engine::Registry registry;
  REQUIRE(workers::RegisterBuiltins(registry).ok());
  maintenance::Rescuer rescuer(&s, &s, &registry, Millis(1000));

  auto run = FlakyRun();
  REQUIRE(s.Enqueue({run}).ok());
  // A daemon claims it and then "dies" (never completes).
  auto claimed = s.Claim("dead-node", {"default"}, {"demo.flaky"}, 1, Millis(60000));
  REQUIRE(claimed->size() == 1);
  CHECK(*rescuer.RunOnce() == 0);  // lease still valid: nothing to do
  db.Exec("UPDATE cueball_runs SET lease_expires_at = now() - interval '1 second'");
  CHECK(*rescuer.RunOnce() == 1);
  CHECK(db.Scalar("SELECT status FROM cueball_runs") == "enqueued");
  CHECK(db.Scalar("SELECT attempt FROM cueball_runs") == "1");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'run_rescued'") == "1");
  CHECK_THAT(db.Scalar("SELECT error FROM cueball_runs"), Catch::Contains("dead-node"));
  // The lost attempt's start, which its daemon never wrote, comes first.
  CHECK(db.Scalar("SELECT string_agg(kind, ' ' ORDER BY seq) FROM cueball_event_log") ==
        "enqueued step_started run_rescued step_failed retry_scheduled");
  CHECK(db.Scalar("SELECT data->>'owner' FROM cueball_event_log WHERE kind = 'step_started'") ==
        "dead-node");

  // The dead daemon wakes up and reports success: refused.
  store::Outcome late;
  late.run_id = run.id;
  late.lease_id = (*claimed)[0].lease_id;
  late.status = RunStatus::kSucceeded;
  late.step_name = "flaky";
  auto r = s.RecordOutcomes({late});
  REQUIRE(r.ok());
  CHECK((*r)[0] == false);
  CHECK(db.Scalar("SELECT status FROM cueball_runs") == "enqueued");
}

TEST_CASE("a rescued run whose attempts are used up fails") {
  TestDatabase db;
  store::pg::PgRunStore s(db.url(), 4);
  engine::Registry registry;
  REQUIRE(workers::RegisterBuiltins(registry).ok());
  maintenance::Rescuer rescuer(&s, &s, &registry, Millis(1000));
  auto run = FlakyRun();
  REQUIRE(s.Enqueue({run}).ok());
  db.Exec("UPDATE cueball_runs SET attempt = 4");  // demo.flaky allows 5
  auto claimed = s.Claim("dead-node", {"default"}, {"demo.flaky"}, 1, Millis(60000));
  REQUIRE(claimed->size() == 1);
  // Its step ran long enough for its daemon to write its start.
  REQUIRE(s.RecordStarts({{run.id, (*claimed)[0].lease_id}}).ok());
  db.Exec("UPDATE cueball_runs SET lease_expires_at = now() - interval '1 second'");
  CHECK(*rescuer.RunOnce() == 1);
  CHECK(db.Scalar("SELECT status FROM cueball_runs") == "failed");
  // The start is not written again by the rescue.
  CHECK(db.Scalar("SELECT string_agg(kind, ' ' ORDER BY seq) FROM cueball_event_log") ==
        "enqueued step_started run_rescued step_failed run_failed");
}
