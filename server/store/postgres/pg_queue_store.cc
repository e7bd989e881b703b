#include "server/store/postgres/pg_queue_store.h"

#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

std::vector<QueueInfo> ReadQueues(const pqxx::result& res) {
  std::vector<QueueInfo> out;
  if (res.empty()) return out;
  const Columns c(res);
  const int name = c.Need("name"), paused = c.Need("paused"), reason = c.Need("pause_reason"),
            paused_us = c.Need("paused_us"), ready = c.Need("ready"),
            scheduled = c.Need("scheduled"), oldest = c.Need("oldest_ready_s"),
            running = c.Need("running"), waiting = c.Need("waiting"), nodes = c.Need("nodes"),
            workers = c.Need("workers");
  for (const auto& row : res) {
    QueueInfo q;
    q.name = Text(row[name]);
    q.paused = row[paused].as<bool>();
    q.pause_reason = Text(row[reason]);
    q.paused_at = OptTime(row[paused_us]);
    q.ready = Int(row[ready]);
    q.scheduled = Int(row[scheduled]);
    q.oldest_ready_age_seconds = row[oldest].as<double>();
    q.running = Int(row[running]);
    q.waiting = Int(row[waiting]);
    q.nodes = static_cast<int>(Int(row[nodes]));
    q.workers = static_cast<int>(Int(row[workers]));
    out.push_back(std::move(q));
  }
  return out;
}

}  // namespace

PgQueueStore::PgQueueStore(const std::string& dsn) : pool_(WithConnectionDefaults(dsn, 10000), 2) {}

StatusOr<std::vector<QueueInfo>> PgQueueStore::ListQueues(Millis node_window) {
  std::vector<QueueInfo> out;
  Status st = pool_.With("list queues", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    out = ReadQueues(Exec(tx, sql::kListQueues, node_window.count(), std::optional<std::string>()));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<QueueInfo> PgQueueStore::SetPaused(const std::string& name, bool paused,
                                            const std::string& reason, Millis node_window) {
  QueueInfo out;
  Status st =
      pool_.With(paused ? "pause queue" : "resume queue", [&](pqxx::connection& c) -> Status {
        pqxx::work tx(c);
        if (!Field(Exec(tx, sql::kQueueKnown, name, node_window.count()), 0, "known").as<bool>()) {
          std::string known;
          for (const QueueInfo& q : ReadQueues(
                   Exec(tx, sql::kListQueues, node_window.count(), std::optional<std::string>()))) {
            known += (known.empty() ? "" : ", ") + q.name;
          }
          return NotFound(
              "queue: no queue named '" + name +
              "' is served by a live daemon or worker or holds unfinished runs (known: " +
              (known.empty() ? "none" : known) + ")");
        }
        if (paused) {
          Exec(tx, sql::kPauseQueue, name, reason);
        } else {
          Exec(tx, sql::kResumeQueue, name);
          Exec(tx, sql::kNotify, kReadyChannel, name);
        }
        auto rows = ReadQueues(Exec(tx, sql::kListQueues, node_window.count(), name));
        tx.commit();
        if (rows.empty()) return Internal("queue " + name + " missing after the change");
        out = std::move(rows.front());
        return Status::Ok();
      });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
