#include "server/store/postgres/migrator.h"

#include <algorithm>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

// Arbitrary, fixed: "cueball" in ASCII. Shared by every daemon on a database.
constexpr int64_t kMigrationLockKey = 0x637565626131LL;

struct Applied {
  int version;
  std::string name;
  std::string checksum;
};

}  // namespace

Migrator::Migrator(std::string dsn, std::vector<Migration> migrations)
    : dsn_(WithConnectionDefaults(dsn, 0)), migrations_(std::move(migrations)) {
  std::sort(migrations_.begin(), migrations_.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
}

StatusOr<MigrationReport> Migrator::Migrate() { return Run(true); }

Status Migrator::Check() {
  auto r = Run(false);
  return r.status();
}

Status Migrator::Probe() {
  try {
    pqxx::connection conn(dsn_);
    pqxx::read_transaction tx(conn);
    std::set<int> applied;
    if (Field(Exec(tx, sql::kMigrationsTableExists), 0, "present").as<bool>()) {
      auto res = Exec(tx, sql::kAppliedMigrations);
      const int version = Columns(res).Need("version");
      for (const auto& row : res) applied.insert(static_cast<int>(Int(row[version])));
    }
    int pending = 0;
    std::string first;
    for (const auto& m : migrations_) {
      if (applied.count(m.version)) continue;
      if (pending++ == 0) first = m.name;
    }
    if (pending > 0) {
      return FailedPrecondition(std::to_string(pending) + " migration(s) pending, first " + first +
                                "; run `cueballd migrate`");
    }
    return Status::Ok();
  } catch (...) {
    return StatusFromCurrentException("schema probe");
  }
}

StatusOr<MigrationReport> Migrator::Run(bool apply) {
  MigrationReport report;
  try {
    pqxx::connection conn(dsn_);
    {
      pqxx::nontransaction tx(conn);
      Exec(tx, sql::kLockMigrations, kMigrationLockKey);
    }
    // The lock is per session: it goes with the connection on every return path.
    {
      pqxx::work tx(conn);
      Exec(tx, sql::kCreateMigrationsTable);
      tx.commit();
    }
    std::map<int, Applied> applied;
    {
      pqxx::read_transaction tx(conn);
      auto res = Exec(tx, sql::kAppliedMigrations);
      const Columns cols(res);
      const int version = cols.Need("version"), name = cols.Need("name"),
                checksum = cols.Need("checksum");
      for (const auto& row : res) {
        Applied a{static_cast<int>(Int(row[version])), Text(row[name]), Text(row[checksum])};
        applied[a.version] = a;
      }
    }
    // Checksums are computed by the server so that client and server agree on bytes.
    std::map<int, std::string> sums;
    {
      pqxx::read_transaction tx(conn);
      for (const auto& m : migrations_) {
        sums[m.version] = Text(Field(Exec(tx, sql::kMigrationChecksum, m.sql), 0, "checksum"));
      }
    }
    int max_known = migrations_.empty() ? 0 : migrations_.back().version;
    int max_applied = applied.empty() ? 0 : applied.rbegin()->first;
    for (const auto& [version, a] : applied) {
      auto it = std::find_if(migrations_.begin(), migrations_.end(),
                             [&](const Migration& m) { return m.version == version; });
      if (it == migrations_.end()) {
        if (version > max_known) {
          return FailedPrecondition(
              "database schema is at migration " + a.name +
              ", newer than this build knows (latest " +
              (migrations_.empty() ? std::string("none") : migrations_.back().name) +
              "); upgrade cueballd");
        }
        return FailedPrecondition("applied migration " + a.name +
                                  " is missing from this build; migrations are append-only");
      }
      if (it->name != a.name) {
        return FailedPrecondition("applied migration " + a.name + " is now named " + it->name +
                                  "; migrations must not be renamed or reordered");
      }
      if (sums[version] != a.checksum) {
        return FailedPrecondition("applied migration " + a.name +
                                  " has been edited since it was applied (checksum mismatch);"
                                  " never edit an applied migration, add a new one");
      }
    }
    std::vector<const Migration*> pending;
    for (const auto& m : migrations_) {
      if (applied.count(m.version)) continue;
      if (m.version < max_applied) {
        return FailedPrecondition("migration " + m.name + " is older than the applied " +
                                  applied.rbegin()->second.name +
                                  " but was never applied; migrations must be added in order");
      }
      pending.push_back(&m);
    }
    report.current_version = max_applied;
    if (!apply) {
      if (!pending.empty()) {
        return FailedPrecondition(std::to_string(pending.size()) + " migration(s) pending, first " +
                                  pending.front()->name);
      }
      return report;
    }
    for (const Migration* m : pending) {
      try {
        pqxx::work tx(conn);
        tx.exec(m->sql);
        Exec(tx, sql::kRecordMigration, m->version, m->name, sums[m->version]);
        tx.commit();
      } catch (const pqxx::sql_error& e) {
        return FailedPrecondition("migration " + m->name + " failed: " + e.what());
      }
      report.applied.push_back(m->name);
      report.current_version = m->version;
    }
    return report;
  } catch (...) {
    return StatusFromCurrentException("migrate");
  }
}

}  // namespace cueball::store::pg
