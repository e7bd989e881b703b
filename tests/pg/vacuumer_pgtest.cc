// Vacuuming the runs' table after a burst, on real PostgreSQL: the store's
// count of dead row versions, its vacuum (skipped while another session
// vacuums the table), and the vacuumer's thresholds.
#include <atomic>
#include <catch2/catch.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "server/maintenance/vacuumer.h"
#include "server/metrics/metrics.h"
#include "server/store/postgres/pg_run_store.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using cueball::testing::TestDatabase;
using cueball::testing::WaitFor;

namespace {

// `n` runs, each changed twice in a way that moves its ready-index entry
// (as a claim does): 2n dead row versions, once the database has counted them.
void Churn(const TestDatabase& db, store::pg::PgRunStore& s, int n) {
  std::vector<store::NewRun> runs(n);
  for (auto& r : runs) {
    r.id = RunId::NewV7().str();
    r.workflow_type = "noop";
    r.first_step = "noop";
  }
  REQUIRE(s.Enqueue(runs).ok());
  db.Exec("UPDATE cueball_runs SET priority = priority + 1");
  db.Exec("UPDATE cueball_runs SET priority = priority - 1");
  REQUIRE(WaitFor(
      [&] {
        auto v = s.RunRowVersions();
        return v.ok() && v->dead >= 2 * n;
      },
      std::chrono::seconds(20)));
}

int64_t Dead(store::pg::PgRunStore& s) {
  auto v = s.RunRowVersions();
  REQUIRE(v.ok());
  return v->dead;
}

}  // namespace

TEST_CASE("the runs' dead row versions are counted, and a vacuum removes them unless one runs") {
  TestDatabase db;
  store::pg::PgRunStore s(db.url(), 4);
  Churn(db, s, 500);
  auto v = s.RunRowVersions();
  REQUIRE(v.ok());
  CHECK(v->live >= 0);
  CHECK(v->may_vacuum);  // the test's user owns the table

  // While another session holds the lock a vacuum takes, the vacuum is
  // skipped at once, not waited for.
  pqxx::connection other(db.url());
  pqxx::work hold(other);
  hold.exec("LOCK TABLE cueball_runs IN SHARE UPDATE EXCLUSIVE MODE");
  auto skipped = s.VacuumRuns();
  REQUIRE(skipped.ok());
  CHECK_FALSE(*skipped);
  hold.abort();

  auto done = s.VacuumRuns();
  REQUIRE(done.ok());
  CHECK(*done);
  CHECK(Dead(s) < 1000);
  auto queued = s.CountEnqueued();  // the pool goes on as before
  REQUIRE(queued.ok());
  CHECK(*queued == 500);
}

TEST_CASE("the vacuumer vacuums once dead row versions pass its threshold") {
  TestDatabase db;
  // Autovacuum would race the counts below on a busy cluster; here only the
  // vacuumer may vacuum.
  db.Exec("ALTER TABLE cueball_runs SET (autovacuum_enabled = false)");
  store::pg::PgRunStore s(db.url(), 4);
  Churn(db, s, 500);
  // 1,000 dead: under a threshold of 5,000, over one of 100.
  maintenance::Vacuumer high(&s, nullptr, 5000);
  auto r = high.RunOnce();
  REQUIRE(r.ok());
  CHECK_FALSE(*r);
  CHECK(Dead(s) >= 1000);
  maintenance::Vacuumer off(&s, nullptr, 0);
  r = off.RunOnce();
  REQUIRE(r.ok());
  CHECK_FALSE(*r);

  metrics::Metrics m;
  maintenance::Vacuumer low(&s, nullptr, 100);
  low.set_metrics(&m);
  r = low.RunOnce();
  REQUIRE(r.ok());
  CHECK(*r);
  CHECK(Dead(s) < 1000);
  CHECK(m.Scrape().find("\ncueball_runs_vacuums_total 1") != std::string::npos);

  // Started, it looks only while claims are caught up.
  Churn(db, s, 500);
  std::atomic<bool> caught_up{false};
  maintenance::Vacuumer loop(
      &s, [&] { return caught_up.load(); }, 100, Millis(50));
  loop.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(Dead(s) >= 1000);
  caught_up = true;
  CHECK(WaitFor([&] { return Dead(s) < 1000; }, std::chrono::seconds(20)));
  loop.Stop();
}

TEST_CASE("a database user that owns neither the table nor the database does not vacuum") {
  TestDatabase db;
  const std::string role = "vac_" + db.name();
  db.Exec("CREATE ROLE " + role + " LOGIN");
  db.Exec("GRANT SELECT ON cueball_runs TO " + role);
  {
    const std::string url =
        db.url() + (db.url().find('?') == std::string::npos ? "?" : "&") + "user=" + role;
    store::pg::PgRunStore owner(db.url(), 2);
    store::pg::PgRunStore other(url, 2);
    Churn(db, owner, 200);
    auto v = other.RunRowVersions();
    REQUIRE(v.ok());
    CHECK_FALSE(v->may_vacuum);
    maintenance::Vacuumer vac(&other, nullptr, 100);
    auto r = vac.RunOnce();
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
    CHECK(Dead(owner) >= 400);
  }
  db.Exec("REVOKE ALL ON cueball_runs FROM " + role);
  db.Exec("DROP ROLE " + role);
}
