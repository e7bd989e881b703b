// PgRunStore as the BlobStore: a run's named artifacts in cueball_blobs,
// written by a step under its lease (fenced like outcomes), removed with the
// run by retention.
#include <nlohmann/json.hpp>

#include "server/store/postgres/pg_run_store.h"

namespace cueball::store::pg {
namespace {

constexpr const char* kBlobInfoColumns =
    "name, content_type, size, sha256, round(date_part('epoch', created_at) * 1000000)::bigint, "
    "round(date_part('epoch', updated_at) * 1000000)::bigint";

BlobInfo InfoFromRow(const pqxx::row& row) {
  BlobInfo b;
  b.name = row[0].as<std::string>();
  b.content_type = row[1].as<std::string>();
  b.size = row[2].as<int64_t>();
  b.sha256 = row[3].as<std::string>();
  b.created_at = FromMicros(row[4].as<int64_t>());
  b.updated_at = FromMicros(row[5].as<int64_t>());
  return b;
}

// NOT_FOUND naming the run, unless it exists (or existed: pruned runs have
// no blobs left, which is not an error for a listing).
Status RunExists(pqxx::transaction_base& tx, const std::string& run_id) {
  auto r = tx.exec_params(
      "SELECT EXISTS (SELECT 1 FROM cueball_runs WHERE id = $1::uuid) "
      "OR EXISTS (SELECT 1 FROM cueball_run_summaries WHERE id = $1::uuid)",
      run_id);
  if (!r[0][0].as<bool>()) return NotFound("run_id: no run with id " + run_id);
  return Status::Ok();
}

}  // namespace

StatusOr<BlobInfo> PgRunStore::PutBlob(const std::string& run_id, const std::string& lease_id,
                                       const std::string& name, const std::string& content_type,
                                       const std::string& data) {
  BlobInfo info;
  Status st = pool_.With("put blob", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto locked = LockLeasedRun(tx, run_id, lease_id);
    if (locked.empty()) {
      return FailedPrecondition("run " + run_id + ": the lease of this attempt was lost");
    }
    auto res = tx.exec_params(
        std::string(
            "INSERT INTO cueball_blobs (run_id, name, content_type, data, size, sha256) "
            "VALUES ($1::uuid, $2, $3, $4::bytea, length($4::bytea), encode(sha256($4::bytea), "
            "'hex')) "
            "ON CONFLICT (run_id, name) DO UPDATE SET content_type = excluded.content_type, "
            "data = excluded.data, size = excluded.size, sha256 = excluded.sha256, "
            "updated_at = now() RETURNING ") +
            kBlobInfoColumns,
        run_id, name, content_type, pqxx::binarystring(data));
    info = InfoFromRow(res[0]);
    nlohmann::json event = {{"name", name},
                            {"size", info.size},
                            {"content_type", content_type},
                            {"sha256", info.sha256}};
    InsertEvent(tx, run_id, event_kind::kBlobSaved, locked[0][0].as<std::string>(),
                locked[0][1].as<int>(), event.dump());
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  EventsWritten();
  return info;
}

StatusOr<StoredBlob> PgRunStore::GetBlob(const std::string& run_id, const std::string& name) {
  StoredBlob blob;
  Status st = pool_.With("get blob", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(std::string("SELECT ") + kBlobInfoColumns +
                                  ", data FROM cueball_blobs WHERE run_id = $1::uuid AND name = $2",
                              run_id, name);
    if (res.empty()) {
      Status exists = RunExists(tx, run_id);
      if (!exists.ok()) return exists;
      return NotFound("name: run " + run_id + " has no blob named '" + name + "'");
    }
    blob.info = InfoFromRow(res[0]);
    pqxx::binarystring bytes(res[0][6]);
    blob.data = bytes.str();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return blob;
}

StatusOr<std::vector<BlobInfo>> PgRunStore::ListBlobs(const std::string& run_id) {
  std::vector<BlobInfo> out;
  Status st = pool_.With("list blobs", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    Status exists = RunExists(tx, run_id);
    if (!exists.ok()) return exists;
    for (const auto& row :
         tx.exec_params(std::string("SELECT ") + kBlobInfoColumns +
                            " FROM cueball_blobs WHERE run_id = $1::uuid ORDER BY name",
                        run_id)) {
      out.push_back(InfoFromRow(row));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
