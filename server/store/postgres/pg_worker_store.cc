#include "server/store/postgres/pg_worker_store.h"

#include <map>
#include <nlohmann/json.hpp>

#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

// The rows of sql/fragments/worker_columns.sql.
std::vector<WorkerInfo> ReadWorkers(const pqxx::result& res) {
  const Columns cols(res);
  const int id = cols.Need("id"), identity = cols.Need("identity"), node = cols.Need("node"),
            queues = cols.Need("queues"), types = cols.Need("types"), slots = cols.Need("slots"),
            lease = cols.Need("lease_ms"), in_flight = cols.Need("in_flight"),
            registered = cols.Need("registered_us"), heartbeat = cols.Need("heartbeat_us"),
            stopped = cols.Need("stopped_us"), alive = cols.Need("alive");
  std::vector<WorkerInfo> out;
  out.reserve(res.size());
  for (const auto& row : res) {
    WorkerInfo w;
    w.id = Text(row[id]);
    w.identity = Text(row[identity]);
    w.node = Text(row[node]);
    w.queues = ParseTextArray(Text(row[queues]));
    w.types = ParseTextArray(Text(row[types]));
    w.slots = static_cast<int>(Int(row[slots]));
    w.lease = Millis(Int(row[lease]));
    w.in_flight = static_cast<int>(Int(row[in_flight]));
    w.registered_at = FromMicros(Int(row[registered]));
    w.last_heartbeat_at = FromMicros(Int(row[heartbeat]));
    w.stopped_at = OptTime(row[stopped]);
    w.alive = Text(row[alive]) == "t";
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace

PgWorkerStore::PgWorkerStore(const std::string& dsn)
    : pool_(WithConnectionDefaults(dsn, 10000), 2) {}

StatusOr<std::vector<TypeDefinition>> PgWorkerStore::GetDefinitions(
    const std::vector<std::string>& names) {
  std::vector<TypeDefinition> out;
  Status st = pool_.With("get type definitions", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = Exec(tx, sql::kGetTypeDefinitions, PgTextArray(names));
    const Columns cols(res);
    const int name = cols.Need("name"), source = cols.Need("source"),
              definition = cols.Need("definition");
    for (const auto& row : res) {
      out.push_back({Text(row[name]), Text(row[source]), Text(row[definition])});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status PgWorkerStore::PutDefinitions(const std::vector<TypeDefinition>& types) {
  return pool_.With("put type definitions", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    for (const auto& t : types) Exec(tx, sql::kPutTypeDefinition, t.name, t.source, t.definition);
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<int64_t> PgWorkerStore::LiveWorkersServing(const std::string& type,
                                                    const std::string& except) {
  int64_t n = 0;
  Status st = pool_.With("live workers", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    n = Int(Field(Exec(tx, sql::kLiveWorkersServing, type, except), 0, "workers"));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return n;
}

Status PgWorkerStore::RegisterWorker(const WorkerInfo& w,
                                     const std::vector<DefinitionWrite>& definitions) {
  return pool_.With("register worker", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    std::vector<std::string> names;
    for (const auto& d : definitions) names.push_back(d.type.name);
    std::map<std::string, std::string> stored;
    auto res = Exec(tx, sql::kLockTypeDefinitions, PgTextArray(names));
    const Columns cols(res);
    const int name = cols.Need("name"), definition = cols.Need("definition");
    for (const auto& row : res) stored[Text(row[name])] = Text(row[definition]);
    for (const auto& d : definitions) {
      auto it = stored.find(d.type.name);
      const bool have = it != stored.end();
      // jsonb normalizes its text: compare parsed documents.
      const bool same =
          have == d.expected.has_value() &&
          (!have || nlohmann::json::parse(it->second) == nlohmann::json::parse(*d.expected));
      if (!same) {
        return Status(StatusCode::kAborted, "the definition of workflow type '" + d.type.name +
                                                "' changed while this worker registered");
      }
      if (d.write) {
        Exec(tx, sql::kPutTypeDefinition, d.type.name, d.type.source, d.type.definition);
      }
    }
    Exec(tx, sql::kRegisterWorker, w.id, w.identity, w.node, PgTextArray(w.queues),
         PgTextArray(w.types), w.slots, static_cast<int64_t>(w.lease.count()));
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<std::optional<WorkerInfo>> PgWorkerStore::GetWorker(const std::string& id) {
  std::optional<WorkerInfo> out;
  Status st = pool_.With("get worker", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto ws = ReadWorkers(Exec(tx, sql::kGetWorker, id));
    if (!ws.empty()) out = std::move(ws.front());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

Status PgWorkerStore::TouchWorker(const std::string& id, int in_flight) {
  return pool_.With("touch worker", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    auto r = Exec(tx, sql::kTouchWorker, id, in_flight);
    if (r.affected_rows() == 0) return NotFound("worker " + id + " is not registered, or stopped");
    return Status::Ok();
  });
}

Status PgWorkerStore::StopWorker(const std::string& id) {
  return pool_.With("stop worker", [&](pqxx::connection& c) -> Status {
    pqxx::nontransaction tx(c);
    Exec(tx, sql::kStopWorker, id);
    return Status::Ok();
  });
}

StatusOr<std::vector<WorkerInfo>> PgWorkerStore::ListWorkers(Millis window) {
  std::vector<WorkerInfo> out;
  Status st = pool_.With("list workers", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    out = ReadWorkers(Exec(tx, sql::kListWorkers, static_cast<int64_t>(window.count())));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
