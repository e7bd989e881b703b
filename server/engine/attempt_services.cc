#include "server/engine/attempt_services.h"

#include <map>

#include "server/engine/new_run.h"

namespace cueball::engine {

std::optional<Signal> AttemptServices::TakeSignal(const std::string& name) {
  if (name.empty()) throw StepFailure("TakeSignal: the signal name is empty");
  auto got =
      stores_.waits->TakeSignal(claimed_.run.id, claimed_.lease_id, claimed_.run.step_index, name);
  if (!got.ok()) throw StepError("taking signal '" + name + "': " + got.status().message());
  if (!got->has_value()) return std::nullopt;
  const store::StoredSignal& s = **got;
  Json payload;
  try {
    payload = Json::parse(s.payload);
  } catch (const std::exception&) {
    payload = s.payload;
  }
  return Signal{s.seq, s.name, std::move(payload), s.created_at};
}

std::string AttemptServices::EnqueueChild(const ChildSpec& child) {
  const WorkflowType* type = registry_->Find(child.workflow_type);
  if (!type) {
    throw StepFailure("child '" + child.key + "': workflow type '" + child.workflow_type +
                      "' is not registered");
  }
  if (child.key.empty() || child.key.size() > 100) {
    throw StepFailure("child key must be 1..100 characters ('" + child.key + "')");
  }
  const Run& parent = claimed_.run;
  store::NewRun r = MakeNewRun(*type, child.queue.empty() ? parent.queue : child.queue,
                               child.priority, child.input.is_null() ? "" : child.input.dump());
  r.idempotency_key = ChildIdempotencyKey(parent, child.key);
  if (r.idempotency_key->size() > kMaxIdempotencyKeyBytes) {
    throw StepFailure("child '" + child.key + "': step name and key are too long");
  }
  r.parent_id = parent.id;
  WriteStart();
  auto res = stores_.runs->Enqueue({r});
  if (!res.ok()) {
    if (res.status().code() == StatusCode::kUnavailable) {
      throw StepError("enqueueing child '" + child.key + "': " + res.status().message());
    }
    throw StepFailure("enqueueing child '" + child.key + "': " + res.status().message());
  }
  return (*res)[0].run.id;
}

std::vector<Run> AttemptServices::GetRuns(const std::vector<std::string>& ids) {
  auto res = stores_.runs->GetMany(ids);
  if (!res.ok()) throw StepError("reading runs: " + res.status().message());
  std::map<std::string, Run> by_id;
  for (auto& r : *res) by_id.emplace(r.id, std::move(r));
  std::vector<Run> out;
  for (const auto& id : ids) {
    auto it = by_id.find(id);
    if (it != by_id.end()) out.push_back(it->second);
  }
  return out;
}

void AttemptServices::SaveBlob(const std::string& name, const std::string& data,
                               const std::string& content_type) {
  if (!stores_.blobs) throw StepFailure("blobs are not available in this daemon");
  std::string bad = BadBlobName(name);
  if (!bad.empty()) throw StepFailure(bad);
  if (static_cast<int64_t>(data.size()) > stores_.max_blob_bytes) {
    throw StepFailure("blob '" + name + "' is " + std::to_string(data.size()) +
                      " bytes; the limit is " + std::to_string(stores_.max_blob_bytes) +
                      " (--max-blob-bytes)");
  }
  if (content_type.empty() || content_type.size() > 255) {
    throw StepFailure("blob '" + name + "': content type must be 1..255 characters");
  }
  WriteStart();
  auto res = stores_.blobs->PutBlob(claimed_.run.id, claimed_.lease_id, name, content_type, data);
  if (!res.ok()) throw StepError("saving blob '" + name + "': " + res.status().message());
}

std::optional<Blob> AttemptServices::LoadBlob(const std::string& name) {
  if (!stores_.blobs) throw StepFailure("blobs are not available in this daemon");
  auto res = stores_.blobs->GetBlob(claimed_.run.id, name);
  if (!res.ok()) {
    if (res.status().code() == StatusCode::kNotFound) return std::nullopt;
    throw StepError("loading blob '" + name + "': " + res.status().message());
  }
  return Blob{res->info.name, res->info.content_type, std::move(res->data), res->info.updated_at};
}

void AttemptServices::WriteStart() {
  if (start_written_) return;
  Status st = stores_.dispatch->RecordStarts({{claimed_.run.id, claimed_.lease_id}});
  if (!st.ok()) throw StepError("writing the step's start: " + st.message());
  start_written_ = true;
}

}  // namespace cueball::engine
