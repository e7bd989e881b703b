#include "server/engine/in_process_runner.h"

#include <map>
#include <set>

#include "server/engine/new_run.h"

namespace cueball::engine {
namespace {

// The step services of one attempt: every call is fenced by its lease.
class AttemptServices final : public StepServices {
 public:
  AttemptServices(const InProcessRunner::Services& stores, const Registry* registry,
                  const store::ClaimedRun& claimed, std::atomic<bool>& start_written)
      : stores_(stores), registry_(registry), claimed_(claimed), start_written_(start_written) {}

  std::optional<Signal> TakeSignal(const std::string& name) override {
    if (name.empty()) throw StepFailure("TakeSignal: the signal name is empty");
    auto got = stores_.waits->TakeSignal(claimed_.run.id, claimed_.lease_id,
                                         claimed_.run.step_index, name);
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

  std::string EnqueueChild(const ChildSpec& child) override {
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

  std::vector<Run> GetRuns(const std::vector<std::string>& ids) override {
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

  void SaveBlob(const std::string& name, const std::string& data,
                const std::string& content_type) override {
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

  std::optional<Blob> LoadBlob(const std::string& name) override {
    if (!stores_.blobs) throw StepFailure("blobs are not available in this daemon");
    auto res = stores_.blobs->GetBlob(claimed_.run.id, name);
    if (!res.ok()) {
      if (res.status().code() == StatusCode::kNotFound) return std::nullopt;
      throw StepError("loading blob '" + name + "': " + res.status().message());
    }
    return Blob{res->info.name, res->info.content_type, std::move(res->data), res->info.updated_at};
  }

 private:
  // A step's own events (child_enqueued, blob_saved) come after its
  // step_started in the run's history, so a start not written yet is
  // written first (migration 0010).
  void WriteStart() {
    if (start_written_) return;
    Status st = stores_.dispatch->RecordStarts({{claimed_.run.id, claimed_.lease_id}});
    if (!st.ok()) throw StepError("writing the step's start: " + st.message());
    start_written_ = true;
  }

  const InProcessRunner::Services& stores_;
  const Registry* registry_;
  const store::ClaimedRun& claimed_;
  std::atomic<bool>& start_written_;
};

// The wait a run woke from ({} when it did not wait).
Json WokenWait(const Run& run) {
  if (!run.wait) return Json::object();
  try {
    Json w = Json::parse(*run.wait);
    return w.is_object() ? w : Json::object();
  } catch (const std::exception&) {
    return Json::object();
  }
}

}  // namespace

StepResult InProcessRunner::Run(const std::shared_ptr<Attempt>& a, const StepDef& step,
                                const Json& input, Json& state) {
  const cueball::Run& run = a->claimed.run;
  const Json wait = WokenWait(run);
  const std::string woke = wait.value("woke", "");
  // A timer that fired ends its step as the step said when it went to
  // sleep; a wait that timed out is a failed attempt. The handler does not
  // run for either.
  if (woke == "timer") return StepResult::Next(wait.value("result", Json()));
  if (woke == "timeout") {
    std::string what = wait.value("for", "") == "signal"
                           ? "signal '" + wait.value("signal", "") + "'"
                           : std::string("the runs it waits for");
    return StepResult::Retry("step '" + step.name + "' timed out waiting for " + what);
  }
  AttemptServices services(services_, registry_, a->claimed, a->start_written);
  StepContext ctx{run.id, run.workflow_type, run.step_name, run.attempt, input,
                  state,  a->cancel,         &services,     woke,        &run.queue};
  StepResult result = StepResult::Fail("unreachable");
  try {
    result = step.handler(ctx);
  } catch (const StepFailure& e) {
    return StepResult::Fail(e.what());
  } catch (const std::exception& e) {
    return StepResult::Retry(std::string("step threw: ") + e.what());
  } catch (...) {
    return StepResult::Retry("step threw a non-standard exception");
  }
  if (result.kind() == StepResult::Kind::kWaitRuns) {
    // Waiting on runs that do not exist would never end: say which.
    for (const auto& id : result.runs()) {
      if (!RunId::Parse(id)) return StepResult::Fail("WaitForRuns: '" + id + "' is not a run id");
      if (id == run.id) return StepResult::Fail("WaitForRuns: a run cannot wait for itself");
    }
    auto found = services_.runs->GetMany(result.runs());
    if (!found.ok()) return StepResult::Retry("WaitForRuns: " + found.status().message());
    std::set<std::string> have;
    for (const auto& r : *found) have.insert(r.id);
    for (const auto& id : result.runs()) {
      if (!have.count(id)) return StepResult::Fail("WaitForRuns: no run with id " + id);
    }
  }
  return result;
}

}  // namespace cueball::engine
