// PgRunStore as the BlobStore: a run's named artifacts in cueball_blobs,
// written by a step under its lease (fenced like outcomes), removed with the
// run by retention.
#include <nlohmann/json.hpp>

#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

// NOT_FOUND naming the run, unless it exists (or existed: pruned runs have
// no blobs left, which is not an error for a listing).
Status RunExists(pqxx::transaction_base& tx, const std::string& run_id) {
  auto r = Exec(tx, sql::kRunExists, run_id);
  if (!Field(r, 0, "found").as<bool>()) return NotFound("run_id: no run with id " + run_id);
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
    auto res = Exec(tx, sql::kPutBlob, run_id, name, content_type, pqxx::binarystring(data));
    info = ReadBlobInfos(res).front();
    nlohmann::json event = {{"name", name},
                            {"size", info.size},
                            {"content_type", content_type},
                            {"sha256", info.sha256}};
    const Columns lock_cols(locked);
    InsertEvent(tx, run_id, event_kind::kBlobSaved, Text(locked[0][lock_cols.Need("step_name")]),
                static_cast<int>(Int(locked[0][lock_cols.Need("attempt")])), event.dump());
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
    auto res = Exec(tx, sql::kGetBlob, run_id, name);
    if (res.empty()) {
      Status exists = RunExists(tx, run_id);
      if (!exists.ok()) return exists;
      return NotFound("name: run " + run_id + " has no blob named '" + name + "'");
    }
    blob.info = ReadBlobInfos(res).front();
    pqxx::binarystring bytes(res[0][Columns(res).Need("data")]);
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
    auto res = Exec(tx, sql::kListBlobs, run_id);
    out = ReadBlobInfos(res);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
