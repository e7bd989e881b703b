#include "server/store/postgres/pg_node_store.h"

#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {

PgNodeStore::PgNodeStore(const std::string& dsn) : pool_(WithConnectionDefaults(dsn, 10000), 2) {}

Status PgNodeStore::RegisterNode(const NodeInfo& n) {
  return pool_.With("register node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    Exec(tx, sql::kRegisterNode, n.id, n.host, n.pid, n.version, n.listen, PgTextArray(n.queues),
         n.workers, PgTextArray(n.types));
    tx.commit();
    return Status::Ok();
  });
}

Status PgNodeStore::TouchNode(const std::string& id) {
  return pool_.With("touch node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto r = Exec(tx, sql::kTouchNode, id);
    tx.commit();
    if (r.affected_rows() == 0) return NotFound("node " + id + " is not registered");
    return Status::Ok();
  });
}

Status PgNodeStore::StopNode(const std::string& id) {
  return pool_.With("stop node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    Exec(tx, sql::kStopNode, id);
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<std::vector<NodeInfo>> PgNodeStore::ListNodes(Millis window) {
  std::vector<NodeInfo> out;
  Status st = pool_.With("list nodes", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = Exec(tx, sql::kListNodes, static_cast<int64_t>(window.count()));
    const Columns cols(res);
    const int id = cols.Need("id"), host = cols.Need("host"), pid = cols.Need("pid"),
              version = cols.Need("version"), listen = cols.Need("listen"),
              queues = cols.Need("queues"), workers = cols.Need("workers"),
              started = cols.Need("started_us"), last_seen = cols.Need("last_seen_us"),
              stopped = cols.Need("stopped_us"), since_seen = cols.Need("since_seen_ms"),
              types = cols.Need("types");
    for (const auto& row : res) {
      NodeInfo n;
      n.id = Text(row[id]);
      n.host = Text(row[host]);
      n.pid = static_cast<int>(Int(row[pid]));
      n.version = Text(row[version]);
      n.listen = Text(row[listen]);
      n.queues = ParseTextArray(Text(row[queues]));
      n.workers = static_cast<int>(Int(row[workers]));
      n.started_at = FromMicros(Int(row[started]));
      n.last_seen_at = FromMicros(Int(row[last_seen]));
      n.stopped_at = OptTime(row[stopped]);
      n.since_seen = Millis(Int(row[since_seen]));
      n.types = ParseTextArray(Text(row[types]));
      out.push_back(std::move(n));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
