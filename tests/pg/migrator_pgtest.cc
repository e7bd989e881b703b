// Migrations on real PostgreSQL: applied once, in order, under the advisory
// lock; an edited, removed, renamed or out-of-order applied file stops
// everything with an error naming the file.
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "server/store/postgres/migrator.h"
#include "tests/support/test_db.h"

using namespace cueball;
using cueball::store::pg::Migration;
using cueball::store::pg::Migrator;
using cueball::testing::TestDatabase;

namespace {
std::vector<Migration> Two() {
  return {{1, "0001_one.sql", "CREATE TABLE one (id int);"},
          {2, "0002_two.sql", "CREATE TABLE two (id int);"}};
}
}  // namespace

TEST_CASE("built-in migrations apply to an empty database and then are no-ops") {
  TestDatabase db(false);
  Migrator m(db.url(), store::pg::BuiltinMigrations());
  auto first = m.Migrate();
  REQUIRE(first.ok());
  CHECK(first->applied.size() == store::pg::BuiltinMigrations().size());
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "0");
  auto second = m.Migrate();
  REQUIRE(second.ok());
  CHECK(second->applied.empty());
  CHECK(m.Check().ok());
}

TEST_CASE("pending migrations are applied in order, each recorded with a checksum") {
  TestDatabase db(false);
  auto list = Two();
  REQUIRE(Migrator(db.url(), {list[0]}).Migrate().ok());
  CHECK_FALSE(Migrator(db.url(), list).Check().ok());  // one pending
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE(r.ok());
  CHECK(r->applied == std::vector<std::string>{"0002_two.sql"});
  CHECK(r->current_version == 2);
  CHECK(db.Scalar("SELECT string_agg(name, ',' ORDER BY version) FROM cueball_schema_migrations") ==
        "0001_one.sql,0002_two.sql");
  CHECK(db.Scalar("SELECT length(checksum) FROM cueball_schema_migrations WHERE version = 1") ==
        "64");
}

TEST_CASE("an edited applied migration stops with an error naming the file") {
  TestDatabase db(false);
  auto list = Two();
  REQUIRE(Migrator(db.url(), list).Migrate().ok());
  list[0].sql = "CREATE TABLE one (id bigint);";
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kFailedPrecondition);
  CHECK_THAT(r.status().message(), Catch::Contains("0001_one.sql") && Catch::Contains("edited"));
}

TEST_CASE("a removed applied migration stops with an error naming the file") {
  TestDatabase db(false);
  auto list = Two();
  list.push_back({3, "0003_three.sql", "CREATE TABLE three (id int);"});
  REQUIRE(Migrator(db.url(), list).Migrate().ok());
  list.erase(list.begin() + 1);
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("0002_two.sql") && Catch::Contains("missing"));
}

TEST_CASE("a renamed (reordered) applied migration stops with an error naming both names") {
  TestDatabase db(false);
  auto list = Two();
  REQUIRE(Migrator(db.url(), list).Migrate().ok());
  list[1].name = "0002_renamed.sql";
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(),
             Catch::Contains("0002_two.sql") && Catch::Contains("0002_renamed.sql"));
}

TEST_CASE("a new migration numbered below an applied one is refused and nothing is applied") {
  TestDatabase db(false);
  std::vector<Migration> list = {{1, "0001_one.sql", "CREATE TABLE one (id int);"},
                                 {3, "0003_three.sql", "CREATE TABLE three (id int);"}};
  REQUIRE(Migrator(db.url(), list).Migrate().ok());
  list.insert(list.begin() + 1, {2, "0002_late.sql", "CREATE TABLE late (id int);"});
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("0002_late.sql"));
  CHECK(db.Scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'late'") == "0");
}

TEST_CASE("a database migrated by a newer build is refused") {
  TestDatabase db(false);
  auto list = Two();
  REQUIRE(Migrator(db.url(), list).Migrate().ok());
  auto r = Migrator(db.url(), {list[0]}).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("newer than this build"));
}

TEST_CASE("a failing migration is rolled back and named") {
  TestDatabase db(false);
  std::vector<Migration> list = {
      {1, "0001_bad.sql", "CREATE TABLE half (id int); SELECT * FROM no_such_table;"}};
  auto r = Migrator(db.url(), list).Migrate();
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("0001_bad.sql"));
  CHECK(db.Scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'half'") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_schema_migrations") == "0");
}

TEST_CASE("daemons migrating at the same moment apply each migration once") {
  TestDatabase db(false);
  std::vector<std::thread> threads;
  std::atomic<int> applied{0}, failed{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto r = Migrator(db.url(), store::pg::BuiltinMigrations()).Migrate();
      if (!r.ok()) {
        ++failed;
        return;
      }
      applied += static_cast<int>(r->applied.size());
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failed == 0);
  CHECK(applied == static_cast<int>(store::pg::BuiltinMigrations().size()));
}
