// Migrator: applies migrations/NNNN_description.sql in order, each in its own
// transaction, under a session advisory lock so that daemons starting together
// migrate once. Each applied file is recorded with its SHA-256; an applied file
// that was edited, removed or renamed/reordered, or a database migrated by a
// newer build, is an error naming the file, and nothing is applied.
#pragma once

#include <string>
#include <vector>

#include "server/domain/status.h"
#include "server/store/schema_probe.h"

namespace cueball::store::pg {

struct Migration {
  int version = 0;
  std::string name;  // file name, e.g. "0001_runs_and_events.sql"
  std::string sql;
};

// The migrations compiled into this build (from migrations/), in version order.
const std::vector<Migration>& BuiltinMigrations();

struct MigrationReport {
  std::vector<std::string> applied;  // names applied by this call
  int current_version = 0;           // schema version after the call
};

class Migrator final : public SchemaProbe {
 public:
  Migrator(std::string dsn, std::vector<Migration> migrations);

  // Verifies applied migrations, then applies the pending ones.
  StatusOr<MigrationReport> Migrate();
  // Verifies only; FAILED_PRECONDITION if any are pending.
  Status Check();
  // For health checks: no lock and no verification of checksums, only
  // "reachable, and nothing of this build pending?".
  Status Probe() override;

 private:
  StatusOr<MigrationReport> Run(bool apply);

  std::string dsn_;
  std::vector<Migration> migrations_;
};

}  // namespace cueball::store::pg
