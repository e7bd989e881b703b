// PgRunStore as the UpkeepStore: what the rescuer, the vacuumer and the
// daemon's gauges ask for.
#include <algorithm>
#include <exception>

#include "server/store/postgres/pg_array.h"
#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {

StatusOr<std::vector<ClaimedRun>> PgRunStore::ExpiredLeases(const std::vector<std::string>& types,
                                                            int limit) {
  std::vector<ClaimedRun> out;
  Status st = pool_.With("expired leases", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = Exec(tx, sql::kExpiredLeases, PgTextArray(types), limit);
    if (res.empty()) return Status::Ok();
    const ClaimedReader reader(res);
    for (const auto& row : res) out.push_back(reader.Read(row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<RowVersions> PgRunStore::RunRowVersions() {
  RowVersions v;
  Status st = pool_.With("run row versions", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    auto res = Exec(tx, sql::kRunRowVersions);
    if (!res.empty()) {
      const Columns cols(res);
      v.live = Int(res[0][cols.Need("live")]);
      v.dead = Int(res[0][cols.Need("dead")]);
      v.may_vacuum = res[0][cols.Need("may_vacuum")].as<bool>();
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return v;
}

StatusOr<bool> PgRunStore::VacuumRuns() {
  bool vacuumed = false;
  Status st = pool_.With("vacuum runs", [&](pqxx::connection& c) -> Status {
    // VACUUM runs outside any transaction (sql/vacuum_*.sql say the rest).
    pqxx::nontransaction tx(c);
    tx.exec(sql::kVacuumSettings.text);
    std::exception_ptr failed;
    try {
      tx.exec(sql::kVacuumRuns.text);
      vacuumed = true;
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "55P03") failed = std::current_exception();  // 55P03: skipped
    }
    // The connection goes back to the pool as it came (one that broke is dropped).
    tx.exec(sql::kVacuumReset.text);
    if (failed) std::rethrow_exception(failed);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return vacuumed;
}

StatusOr<std::vector<QueueStats>> PgRunStore::GetQueueStats() {
  std::vector<QueueStats> out;
  Status st = pool_.With("queue stats", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = Exec(tx, sql::kQueueStats);
    const Columns cols(res);
    const int queue = cols.Need("queue"), ready = cols.Need("ready"),
              scheduled = cols.Need("scheduled"), oldest = cols.Need("oldest_ready_s");
    for (const auto& row : res) {
      out.push_back(
          {Text(row[queue]), Int(row[ready]), Int(row[scheduled]), row[oldest].as<double>()});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<std::vector<UnfinishedCount>> PgRunStore::CountUnfinished() {
  std::vector<UnfinishedCount> out;
  Status st = pool_.With("count unfinished runs", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = Exec(tx, sql::kCountUnfinished);
    const Columns cols(res);
    const int type = cols.Need("workflow_type"), queue = cols.Need("queue"), n = cols.Need("n");
    for (const auto& row : res) out.push_back({Text(row[type]), Text(row[queue]), Int(row[n])});
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<std::vector<Run>> PgRunStore::ExpireDeadlines(int limit) {
  std::vector<Run> runs;
  Status st = pool_.With("expire deadlines", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    runs = ReadRuns(Exec(tx, sql::kExpireDeadlines, limit));
    std::vector<std::string> canceled;
    for (const Run& r : runs) {
      if (r.status == RunStatus::kCanceled) canceled.push_back(r.id);
    }
    if (!canceled.empty()) {
      CancelDescendants(tx, canceled, "deadline passed");
    }
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (!runs.empty()) EventsWritten();
  return runs;
}

}  // namespace cueball::store::pg
