#include "server/store/postgres/pg_node_store.h"

#include <nlohmann/json.hpp>

#include "server/store/postgres/pg_run_store.h"

namespace cueball::store::pg {
namespace {

std::vector<std::string> ParseTextArray(const std::string& json_array) {
  return nlohmann::json::parse(json_array).get<std::vector<std::string>>();
}

}  // namespace

PgNodeStore::PgNodeStore(const std::string& dsn) : pool_(WithConnectionDefaults(dsn, 10000), 2) {}

Status PgNodeStore::RegisterNode(const NodeInfo& n) {
  return pool_.With("register node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO cueball_nodes (id, host, pid, version, listen, queues, workers, types) "
        "VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8::text[]) "
        "ON CONFLICT (id) DO UPDATE SET host = $2, pid = $3, version = $4, listen = $5, "
        "queues = $6::text[], workers = $7, types = $8::text[], started_at = now(), "
        "last_seen_at = now(), stopped_at = NULL",
        n.id, n.host, n.pid, n.version, n.listen, PgTextArray(n.queues), n.workers,
        PgTextArray(n.types));
    tx.commit();
    return Status::Ok();
  });
}

Status PgNodeStore::TouchNode(const std::string& id) {
  return pool_.With("touch node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto r = tx.exec_params(
        "UPDATE cueball_nodes SET last_seen_at = now(), stopped_at = NULL WHERE id = $1", id);
    tx.commit();
    if (r.affected_rows() == 0) return NotFound("node " + id + " is not registered");
    return Status::Ok();
  });
}

Status PgNodeStore::StopNode(const std::string& id) {
  return pool_.With("stop node", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    tx.exec_params("UPDATE cueball_nodes SET stopped_at = now() WHERE id = $1", id);
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<std::vector<NodeInfo>> PgNodeStore::ListNodes(Millis window) {
  std::vector<NodeInfo> out;
  Status st = pool_.With("list nodes", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(
        "SELECT id, host, pid, version, listen, array_to_json(queues)::text, workers, "
        "round(date_part('epoch', started_at) * 1000000)::bigint, "
        "round(date_part('epoch', last_seen_at) * 1000000)::bigint, "
        "round(date_part('epoch', stopped_at) * 1000000)::bigint, "
        "(extract(epoch from now() - last_seen_at) * 1000)::bigint, "
        "array_to_json(types)::text "
        "FROM cueball_nodes WHERE last_seen_at > now() - $1 * interval '1 millisecond' "
        "ORDER BY started_at DESC, id",
        static_cast<int64_t>(window.count()));
    for (const auto& row : res) {
      NodeInfo n;
      n.id = row[0].as<std::string>();
      n.host = row[1].as<std::string>();
      n.pid = row[2].as<int>();
      n.version = row[3].as<std::string>();
      n.listen = row[4].as<std::string>();
      n.queues = ParseTextArray(row[5].as<std::string>());
      n.workers = row[6].as<int>();
      n.started_at = FromMicros(row[7].as<int64_t>());
      n.last_seen_at = FromMicros(row[8].as<int64_t>());
      if (!row[9].is_null()) n.stopped_at = FromMicros(row[9].as<int64_t>());
      n.since_seen = Millis(row[10].as<int64_t>());
      n.types = ParseTextArray(row[11].as<std::string>());
      out.push_back(std::move(n));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
