#include "server/engine/run_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "server/domain/utf8.h"
#include "server/engine/cron.h"
#include "server/engine/new_run.h"
#include "server/logging/logging.h"

namespace cueball::engine {
namespace {

constexpr size_t kMaxReasonBytes = 1000;
constexpr int kMaxPriority = 1000;

Status ParseId(const std::string& id, const std::string& field, std::string* out) {
  if (id.empty()) return InvalidArgument(field + ": required");
  auto parsed = RunId::Parse(id);
  if (!parsed) {
    return InvalidArgument(field + ": '" + id.substr(0, 64) + "' is not a run id (UUID)");
  }
  *out = parsed->str();
  return Status::Ok();
}

// JSON nested deeper than this is refused: PostgreSQL's jsonb parser stops
// at its stack limit (an INTERNAL error about the statement), and a
// recursive dump of it ends the process that makes it.
constexpr int kMaxJsonDepth = 128;

// Checks the nesting of JSON text without parsing it (brackets outside
// strings), so that no parser recurses into it first.
Status CheckJsonDepth(const std::string& field, const std::string& json) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return InvalidArgument(field + ": JSON nested deeper than " +
                               std::to_string(kMaxJsonDepth) + " levels");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

// PostgreSQL's text and jsonb cannot hold U+0000: say which field has one,
// instead of the database's error about the statement.
Status CheckNoNul(const std::string& field, const std::string& text) {
  if (text.find('\0') == std::string::npos) return Status::Ok();
  return InvalidArgument(field + ": must not contain the character U+0000");
}

// A client's JSON text (run input, signal payload): nested at most
// kMaxJsonDepth levels (checked on the text, before the parser), valid, and
// with no U+0000 in a string, which PostgreSQL's jsonb cannot store (it can
// only be written as an escape, so the parsed value is dumped and looked at
// only when the text holds "u0000"). `normalized`, if given, gets the text
// as nlohmann dumps it.
Status CheckJson(const std::string& field, const std::string& text,
                 std::string* normalized = nullptr) {
  if (Status st = CheckJsonDepth(field, text); !st.ok()) return st;
  Json parsed;
  try {
    parsed = Json::parse(text);
  } catch (const Json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    return InvalidArgument(field + ": not valid JSON: " + what);
  } catch (const Json::out_of_range& e) {
    // Valid JSON, but a number beyond a double (e.g. 1e400): steps read
    // input as doubles, so it is refused rather than rounded to infinity.
    std::string what = e.what();
    auto pos = what.find("] ");
    if (pos != std::string::npos) what = what.substr(pos + 2);
    return InvalidArgument(field + ": " + what +
                           " (JSON numbers must fit a 64-bit floating point number)");
  } catch (const Json::exception& e) {
    return InvalidArgument(field + ": not accepted as JSON: " + std::string(e.what()));
  }
  const bool may_hold_nul = text.find("u0000") != std::string::npos;
  if (!may_hold_nul && !normalized) return Status::Ok();
  std::string dumped = parsed.dump();
  if (may_hold_nul && StorableJson(dumped) != dumped) {
    return InvalidArgument(field +
                           ": JSON strings must not contain \\u0000 (PostgreSQL's jsonb cannot "
                           "store it)");
  }
  if (normalized) *normalized = std::move(dumped);
  return Status::Ok();
}

// An operator's reason (cancel, retry, bulk actions, pausing a queue).
Status CheckReason(const std::string& reason) {
  if (reason.size() > kMaxReasonBytes) return InvalidArgument("reason: must be at most 1000 bytes");
  return CheckNoNul("reason", reason);
}

// The arguments of Cancel and Retry: a run id and an optional reason.
Status ParseIdAndReason(const std::string& id, const std::string& reason, std::string* out) {
  Status st = ParseId(id, "id", out);
  if (!st.ok()) return st;
  return CheckReason(reason);
}

// A name field (queue, signal, schedule, workflow type in a filter):
// 1-128 name characters.
Status CheckName(const std::string& field, const std::string& value) {
  if (ValidName(value)) return Status::Ok();
  return InvalidArgument(field + ": must be 1-128 characters of A-Z a-z 0-9 _ . : -");
}

// An idempotency key (of a run or a signal): at most 255 bytes, no NUL.
Status CheckIdempotencyKey(const std::string& field, const std::string& key) {
  if (key.size() > kMaxIdempotencyKeyBytes) {
    return InvalidArgument(field + ": must be at most " + std::to_string(kMaxIdempotencyKeyBytes) +
                           " bytes");
  }
  return CheckNoNul(field, key);
}

// Tags given at enqueue or in a filter: bounded in number and size, keys
// are names, values UTF-8 text.
Status CheckTags(const std::map<std::string, std::string>& tags, const std::string& field) {
  if (tags.size() > kMaxTags) {
    return InvalidArgument(field + ": " + std::to_string(tags.size()) +
                           " tags exceeds the limit of " + std::to_string(kMaxTags));
  }
  for (const auto& [k, v] : tags) {
    if (k.size() > kMaxTagKeyBytes || !ValidName(k)) {
      return InvalidArgument(field + ": key '" + StorableText(k.substr(0, 80)) +
                             "' must be 1-64 characters of A-Z a-z 0-9 _ . : -");
    }
    if (v.size() > kMaxTagValueBytes) {
      return InvalidArgument(field + "[" + k + "]: value of " + std::to_string(v.size()) +
                             " bytes exceeds the limit of " + std::to_string(kMaxTagValueBytes));
    }
    if (!IsValidUtf8(v)) return InvalidArgument(field + "[" + k + "]: value is not UTF-8 text");
    if (Status st = CheckNoNul(field + "[" + k + "]", v); !st.ok()) return st;
  }
  return Status::Ok();
}

// "enqueued, running or waiting".
std::string StatusNames(const std::vector<RunStatus>& statuses) {
  std::string out;
  for (size_t i = 0; i < statuses.size(); ++i) {
    if (i > 0) out += i + 1 == statuses.size() ? " or " : ", ";
    out += RunStatusName(statuses[i]);
  }
  return out;
}

// Runs per transaction of a bulk action: small enough that a batch holds
// its rows' locks for milliseconds, large enough that a million runs take
// a few thousand round trips.
constexpr int kBulkBatch = 500;

}  // namespace

RunService::RunService(store::RunStore* store, store::WaitStore* waits, const Registry* registry,
                       WaitHub* hub, Dispatcher* dispatcher, Limits limits)
    : store_(store),
      waits_(waits),
      registry_(registry),
      hub_(hub),
      dispatcher_(dispatcher),
      limits_(limits) {}

Status RunService::Validate(const EnqueueSpec& s, const std::string& p) const {
  if (s.workflow_type.empty()) return InvalidArgument(p + "workflow_type: required");
  if (!registry_->Find(s.workflow_type)) {
    std::string known;
    for (const auto& n : registry_->Names()) known += (known.empty() ? "" : ", ") + n;
    return NotFound(p + "workflow_type: no workflow type named '" + s.workflow_type.substr(0, 128) +
                    "' is registered (known: " + known + ")");
  }
  if (s.input.size() > limits_.max_payload_bytes) {
    return ResourceExhausted(p + "input: " + std::to_string(s.input.size()) +
                             " bytes exceeds the limit of " +
                             std::to_string(limits_.max_payload_bytes) + " bytes");
  }
  if (!s.input.empty()) {
    if (Status st = CheckJson(p + "input", s.input); !st.ok()) return st;
  }
  if (!s.queue.empty()) {
    if (Status st = CheckName(p + "queue", s.queue); !st.ok()) return st;
  }
  if (s.priority < -kMaxPriority || s.priority > kMaxPriority) {
    return InvalidArgument(p + "priority: must be between -1000 and 1000, got " +
                           std::to_string(s.priority));
  }
  if (s.run_at && s.delay)
    return InvalidArgument(p + "delay: give either run_at or delay, not both");
  if (s.delay) {
    if (s.delay->count() < 0) return InvalidArgument(p + "delay: must not be negative");
    if (*s.delay > limits_.max_delay) {
      return InvalidArgument(p + "delay: must be at most " +
                             std::to_string(limits_.max_delay.count() / 86400000) + " days");
    }
  }
  if (s.run_at && *s.run_at - Now() > limits_.max_delay) {
    return InvalidArgument(p + "run_at: must be at most " +
                           std::to_string(limits_.max_delay.count() / 86400000) +
                           " days in the future");
  }
  if (Status st = CheckIdempotencyKey(p + "idempotency_key", s.idempotency_key); !st.ok()) {
    return st;
  }
  if (Status st = CheckTags(s.tags, p + "tags"); !st.ok()) return st;
  return CheckDeadline(s, p);
}

Status RunService::CheckDeadline(const EnqueueSpec& s, const std::string& p) const {
  const std::string days = std::to_string(limits_.max_delay.count() / 86400000);
  if (s.deadline && s.timeout) {
    return InvalidArgument(p + "timeout: give either deadline or timeout, not both");
  }
  if (s.timeout) {
    if (s.timeout->count() <= 0) return InvalidArgument(p + "timeout: must be positive");
    if (*s.timeout > limits_.max_delay) {
      return InvalidArgument(p + "timeout: must be at most " + days + " days");
    }
  }
  if (s.deadline) {
    const TimePoint now = Now();
    if (*s.deadline <= now) {
      return InvalidArgument(p + "deadline: " + FormatTime(*s.deadline) + " is in the past");
    }
    if (*s.deadline - now > limits_.max_delay) {
      return InvalidArgument(p + "deadline: must be at most " + days + " days ahead");
    }
    if (s.run_at && *s.run_at >= *s.deadline) {
      return InvalidArgument(p + "deadline: must be later than run_at");
    }
  }
  if (s.timeout && s.delay && *s.delay >= *s.timeout) {
    return InvalidArgument(p + "timeout: must be longer than delay");
  }
  if (!s.deadline_action.empty()) {
    if (s.deadline_action != "fail" && s.deadline_action != "cancel") {
      return InvalidArgument(p + "deadline_action: must be fail or cancel, got '" +
                             StorableText(s.deadline_action.substr(0, 32)) + "'");
    }
    if (!s.deadline && !s.timeout) {
      return InvalidArgument(p + "deadline_action: needs a deadline or a timeout");
    }
  }
  return Status::Ok();
}

Status RunService::MakeFilter(const FilterSpec& spec, const std::string& p,
                              store::RunFilter* f) const {
  if (!spec.workflow_type.empty()) {
    if (Status st = CheckName(p + "workflow_type", spec.workflow_type); !st.ok()) return st;
    f->workflow_type = spec.workflow_type;
  }
  if (!spec.queue.empty()) {
    if (Status st = CheckName(p + "queue", spec.queue); !st.ok()) return st;
    f->queue = spec.queue;
  }
  f->statuses = spec.statuses;
  f->created_after = spec.created_after;
  f->created_before = spec.created_before;
  if (f->created_after && f->created_before && *f->created_after >= *f->created_before) {
    return InvalidArgument(p + "created_before: must be later than created_after");
  }
  if (Status st = CheckTags(spec.tags, p + "tags"); !st.ok()) return st;
  f->tags = spec.tags;
  if (!spec.idempotency_key.empty()) {
    if (Status st = CheckIdempotencyKey(p + "idempotency_key", spec.idempotency_key); !st.ok()) {
      return st;
    }
    f->idempotency_key = spec.idempotency_key;
  }
  return Status::Ok();
}

StatusOr<std::vector<store::EnqueueResult>> RunService::Enqueue(
    const std::vector<EnqueueSpec>& specs, bool batch) {
  if (specs.empty()) return InvalidArgument("runs: at least one run is required");
  if (static_cast<int>(specs.size()) > limits_.max_batch) {
    return InvalidArgument("runs: " + std::to_string(specs.size()) + " runs exceeds the limit of " +
                           std::to_string(limits_.max_batch) + " per batch");
  }
  std::vector<store::NewRun> rows;
  rows.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const EnqueueSpec& s = specs[i];
    const std::string prefix = batch ? "runs[" + std::to_string(i) + "]." : "";
    Status st = Validate(s, prefix);
    if (!st.ok()) return st;
    store::NewRun r = MakeNewRun(*registry_->Find(s.workflow_type), s.queue, s.priority, s.input);
    if (s.run_at) r.run_at = *s.run_at;
    if (s.delay && s.delay->count() > 0) {
      r.run_at = Now() + std::chrono::duration_cast<std::chrono::microseconds>(*s.delay);
    }
    if (!s.idempotency_key.empty()) r.idempotency_key = s.idempotency_key;
    r.tags = s.tags;
    if (s.deadline) r.deadline = *s.deadline;
    if (s.timeout) {
      r.deadline = Now() + std::chrono::duration_cast<std::chrono::microseconds>(*s.timeout);
    }
    if (!s.deadline_action.empty()) r.deadline_action = s.deadline_action;
    r.field_prefix = prefix;
    rows.push_back(std::move(r));
  }
  Status depth = CheckQueuedDepth(rows.size());
  if (!depth.ok()) return depth;
  auto result = store_->Enqueue(rows);
  if (!result.ok()) return result;
  size_t created = 0;
  for (const auto& r : *result) {
    if (!r.created) continue;
    ++created;
    if (metrics_) metrics_->RunsEnqueued(r.run.workflow_type, r.run.queue);
    if (auto log = spdlog::get("engine"); log && log->should_log(spdlog::level::debug)) {
      logging::Debug(log, "run enqueued",
                     {{"run", r.run.id}, {"type", r.run.workflow_type}, {"queue", r.run.queue}});
    }
  }
  CountEnqueued(created);
  PokeReady();
  return result;
}

Status RunService::CheckQueuedDepth(size_t adding) {
  if (limits_.max_queued <= 0) return Status::Ok();
  std::lock_guard<std::mutex> lock(depth_mu_);
  auto now = std::chrono::steady_clock::now();
  if (now - depth_read_at_ >= std::chrono::seconds(1)) {
    auto n = store_->CountEnqueued();
    if (!n.ok()) return n.status();
    depth_ = *n;
    depth_read_at_ = now;
  }
  if (depth_ + static_cast<int64_t>(adding) > limits_.max_queued) {
    return ResourceExhausted("runs: " + std::to_string(depth_) +
                             " runs are already queued (limit " +
                             std::to_string(limits_.max_queued) + "); retry later");
  }
  return Status::Ok();
}

void RunService::CountEnqueued(size_t added) {
  std::lock_guard<std::mutex> lock(depth_mu_);
  depth_ += static_cast<int64_t>(added);
}

StatusOr<Run> RunService::Get(const std::string& id, bool with_history) {
  std::string canonical;
  Status st = ParseId(id, "id", &canonical);
  if (!st.ok()) return st;
  return store_->Get(canonical, with_history);
}

StatusOr<store::SignalResult> RunService::Signal(const std::string& run_id, const std::string& name,
                                                 const std::string& payload,
                                                 const std::string& idempotency_key) {
  std::string id;
  Status st = ParseId(run_id, "run_id", &id);
  if (!st.ok()) return st;
  if (name.empty()) return InvalidArgument("name: required");
  if (Status st = CheckName("name", name); !st.ok()) return st;
  if (payload.size() > limits_.max_payload_bytes) {
    return ResourceExhausted("payload: " + std::to_string(payload.size()) +
                             " bytes exceeds the limit of " +
                             std::to_string(limits_.max_payload_bytes) + " bytes");
  }
  std::string json;
  if (Status st = CheckJson("payload", payload.empty() ? "null" : payload, &json); !st.ok()) {
    return st;
  }
  if (Status st = CheckIdempotencyKey("idempotency_key", idempotency_key); !st.ok()) return st;
  std::optional<std::string> key;
  if (!idempotency_key.empty()) key = idempotency_key;
  auto res = waits_->Signal(id, name, json, key);
  if (res.ok() && res->resumed) PokeReady();
  return res;
}

StatusOr<std::vector<store::BlobInfo>> RunService::ListBlobs(const std::string& run_id) {
  if (!blobs_) return Unimplemented("blobs are not available in this daemon");
  std::string id;
  Status st = ParseId(run_id, "run_id", &id);
  if (!st.ok()) return st;
  return blobs_->ListBlobs(id);
}

StatusOr<store::StoredBlob> RunService::GetBlob(const std::string& run_id,
                                                const std::string& name) {
  if (!blobs_) return Unimplemented("blobs are not available in this daemon");
  std::string id;
  Status st = ParseId(run_id, "run_id", &id);
  if (!st.ok()) return st;
  if (name.empty()) return InvalidArgument("name: required");
  std::string bad = BadBlobName(name);
  if (!bad.empty()) return InvalidArgument("name: " + bad);
  return blobs_->GetBlob(id, name);
}

StatusOr<RunPage> RunService::List(const ListSpec& spec) {
  store::RunFilter f;
  int size = spec.page_size == 0 ? limits_.default_page_size : spec.page_size;
  if (size < 1 || size > limits_.max_page_size) {
    return InvalidArgument("page_size: must be between 1 and " +
                           std::to_string(limits_.max_page_size) + ", got " +
                           std::to_string(spec.page_size));
  }
  if (!spec.page_token.empty()) {
    std::string id;
    if (!ParseId(spec.page_token, "page_token", &id).ok()) {
      return InvalidArgument("page_token: not a token returned by List");
    }
    f.before_id = id;
  }
  if (Status st = MakeFilter(spec, "", &f); !st.ok()) return st;
  // Read one extra row to learn whether another page exists.
  f.limit = size + 1;
  auto runs = store_->List(f);
  if (!runs.ok()) return runs.status();
  RunPage page;
  page.runs = std::move(runs).value();
  if (static_cast<int>(page.runs.size()) > size) {
    page.runs.resize(size);
    page.next_page_token = page.runs.back().id;
  }
  return page;
}

StatusOr<Run> RunService::Cancel(const std::string& id, const std::string& reason) {
  std::string canonical;
  Status st = ParseIdAndReason(id, reason, &canonical);
  if (!st.ok()) return st;
  // Canceling a parent locks its children too; a batch of outcomes holding
  // one of them can meet it in the other order. PostgreSQL then aborts one
  // side (ABORTED): the transaction changed nothing, so try again.
  auto run = store_->Cancel(canonical, reason.empty() ? "canceled by request" : reason);
  for (int tries = 1; !run.ok() && run.status().code() == StatusCode::kAborted && tries < 5;
       ++tries) {
    std::this_thread::sleep_for(Millis(10 * tries));
    run = store_->Cancel(canonical, reason.empty() ? "canceled by request" : reason);
  }
  if (run.ok()) {
    if (dispatcher_) dispatcher_->OnRunFinished(canonical);
    if (metrics_) metrics_->RunFinished(run->workflow_type, RunStatusName(RunStatus::kCanceled));
  }
  return run;
}

StatusOr<Run> RunService::Retry(const std::string& id, const std::string& reason) {
  std::string canonical;
  Status st = ParseIdAndReason(id, reason, &canonical);
  if (!st.ok()) return st;
  auto run = store_->Retry(canonical, reason.empty() ? "retried by request" : reason);
  if (run.ok()) PokeReady();
  return run;
}

StatusOr<BulkResult> RunService::Bulk(const BulkSpec& spec, const BulkAction& action,
                                      const std::function<bool()>& stop) {
  const std::vector<RunStatus>& allowed = action.allowed;
  const std::string verb = action.verb;
  if (spec.filter.empty() && !spec.all) {
    return InvalidArgument("filter: empty; name at least one field, or set all to " + verb +
                           " every run that can be");
  }
  if (Status st = CheckReason(spec.reason); !st.ok()) return st;
  store::RunFilter f;
  if (Status st = MakeFilter(spec.filter, "filter.", &f); !st.ok()) return st;
  for (RunStatus st : f.statuses) {
    if (std::find(allowed.begin(), allowed.end(), st) == allowed.end()) {
      return InvalidArgument(std::string("filter.statuses: ") + RunStatusName(st) +
                             " runs cannot be " + action.past + "; only " + StatusNames(allowed) +
                             " ones");
    }
  }
  if (f.statuses.empty()) f.statuses = allowed;
  BulkResult result;
  result.dry_run = spec.dry_run;
  auto nothing = [&] {
    return NotFound(std::string("filter: no ") + StatusNames(f.statuses) +
                    " run matches the filter; nothing changed");
  };
  if (spec.dry_run) {
    auto n = store_->Count(f);
    if (!n.ok()) return n.status();
    if (*n == 0) return nothing();
    result.count = *n;
    return result;
  }
  f.limit = kBulkBatch;
  while (true) {
    auto b = action.batch(f);
    // A batch that met another transaction's locks the other way round
    // (a record of outcomes, a cancel of a parent) was rolled back whole:
    // try it again.
    for (int tries = 1; !b.ok() && b.status().code() == StatusCode::kAborted && tries < 5;
         ++tries) {
      std::this_thread::sleep_for(Millis(10 * tries));
      b = action.batch(f);
    }
    if (!b.ok()) {
      if (result.count == 0) return b.status();
      // Some batches are done: say how far it got.
      return Status(b.status().code(), b.status().message() + " (after " +
                                           std::to_string(result.count) + " runs were changed)");
    }
    result.count += static_cast<int64_t>(b->changed.size());
    if (!b->changed.empty()) action.changed(b->changed);
    if (!b->next_before_id || (stop && stop())) break;
    f.before_id = b->next_before_id;
  }
  if (result.count == 0) return nothing();
  return result;
}

StatusOr<BulkResult> RunService::CancelRuns(const BulkSpec& spec,
                                            const std::function<bool()>& stop) {
  const std::string reason = spec.reason.empty() ? "canceled by request" : spec.reason;
  BulkAction action;
  action.allowed = {RunStatus::kEnqueued, RunStatus::kRunning, RunStatus::kWaiting};
  action.verb = "cancel";
  action.past = "canceled";
  action.batch = [&](const store::RunFilter& f) { return store_->CancelBatch(f, reason); };
  action.changed = [&](const std::vector<Run>& runs) {
    for (const Run& r : runs) {
      if (dispatcher_) dispatcher_->OnRunFinished(r.id);
      if (metrics_) metrics_->RunFinished(r.workflow_type, RunStatusName(RunStatus::kCanceled));
    }
  };
  return Bulk(spec, action, stop);
}

StatusOr<BulkResult> RunService::RetryRuns(const BulkSpec& spec,
                                           const std::function<bool()>& stop) {
  const std::string reason = spec.reason.empty() ? "retried by request" : spec.reason;
  BulkAction action;
  action.allowed = {RunStatus::kFailed};
  action.verb = "retry";
  action.past = "retried";
  action.batch = [&](const store::RunFilter& f) { return store_->RetryBatch(f, reason); };
  action.changed = [&](const std::vector<Run>&) { PokeReady(); };
  return Bulk(spec, action, stop);
}

namespace {

Status CheckScheduleName(const std::string& name) {
  if (name.empty()) return InvalidArgument("name: required");
  return CheckName("name", name);
}

}  // namespace

StatusOr<store::Schedule> RunService::CreateSchedule(const ScheduleSpec& spec) {
  if (!schedules_) return Unimplemented("schedules are not available in this daemon");
  if (Status st = CheckScheduleName(spec.name); !st.ok()) return st;
  if (spec.cron.empty()) return InvalidArgument("cron: required (e.g. \"*/5 * * * *\")");
  if (spec.cron.size() > 200) return InvalidArgument("cron: must be at most 200 bytes");
  const std::string tz = spec.timezone.empty() ? "UTC" : spec.timezone;
  auto cron = CronSchedule::Parse(spec.cron, tz);
  if (!cron.ok()) return cron.status();
  const std::string catch_up = spec.catch_up.empty() ? "one" : spec.catch_up;
  if (catch_up != "one" && catch_up != "skip") {
    return InvalidArgument("catch_up: must be one or skip, got '" + catch_up.substr(0, 32) + "'");
  }
  if (spec.run.run_at || spec.run.delay) {
    return InvalidArgument("run_at: a schedule's runs start at their tick");
  }
  if (!spec.run.idempotency_key.empty()) {
    return InvalidArgument("idempotency_key: a schedule's runs are keyed by their tick");
  }
  if (spec.run.tags.count("schedule")) {
    return InvalidArgument("tags: 'schedule' is set by the schedule itself");
  }
  if (spec.run.tags.size() >= kMaxTags) {
    return InvalidArgument("tags: at most " + std::to_string(kMaxTags - 1) +
                           " (a schedule's runs also get the tag schedule=NAME)");
  }
  if (Status st = Validate(spec.run, ""); !st.ok()) return st;
  store::Schedule s;
  s.name = spec.name;
  s.cron = spec.cron;
  s.timezone = tz;
  s.workflow_type = spec.run.workflow_type;
  s.input = spec.run.input.empty() ? "{}" : spec.run.input;
  s.queue = spec.run.queue.empty() ? "default" : spec.run.queue;
  s.priority = spec.run.priority;
  s.tags = spec.run.tags;
  s.catch_up = catch_up;
  auto next = cron->Next(Now());
  if (!next) return InvalidArgument("cron: '" + spec.cron + "' never fires");
  s.next_at = *next;
  return schedules_->CreateSchedule(s);
}

StatusOr<std::vector<store::Schedule>> RunService::ListSchedules() {
  if (!schedules_) return Unimplemented("schedules are not available in this daemon");
  return schedules_->ListSchedules();
}

StatusOr<store::Schedule> RunService::PauseSchedule(const std::string& name) {
  if (!schedules_) return Unimplemented("schedules are not available in this daemon");
  if (Status st = CheckScheduleName(name); !st.ok()) return st;
  return schedules_->SetSchedulePaused(name, true, std::nullopt);
}

StatusOr<store::Schedule> RunService::ResumeSchedule(const std::string& name) {
  if (!schedules_) return Unimplemented("schedules are not available in this daemon");
  if (Status st = CheckScheduleName(name); !st.ok()) return st;
  auto s = schedules_->GetSchedule(name);
  if (!s.ok()) return s.status();
  if (!s->paused_at) return s;  // not paused: its next tick stays as it is
  auto cron = CronSchedule::Parse(s->cron, s->timezone);
  if (!cron.ok()) return cron.status();
  auto next = cron->Next(Now());
  if (!next) return FailedPrecondition("cron: '" + s->cron + "' never fires");
  return schedules_->SetSchedulePaused(name, false, *next);
}

Status RunService::DeleteSchedule(const std::string& name) {
  if (!schedules_) return Unimplemented("schedules are not available in this daemon");
  if (Status st = CheckScheduleName(name); !st.ok()) return st;
  return schedules_->DeleteSchedule(name);
}

StatusOr<std::vector<store::QueueInfo>> RunService::ListQueues() {
  if (!queues_) return Unimplemented("queues are not available in this daemon");
  return queues_->ListQueues(node_window_);
}

StatusOr<store::QueueInfo> RunService::PauseQueue(const std::string& queue,
                                                  const std::string& reason) {
  if (!queues_) return Unimplemented("queues are not available in this daemon");
  if (queue.empty()) return InvalidArgument("queue: required");
  if (Status st = CheckName("queue", queue); !st.ok()) return st;
  if (Status st = CheckReason(reason); !st.ok()) return st;
  if (!IsValidUtf8(reason)) return InvalidArgument("reason: not UTF-8 text");
  return queues_->SetPaused(queue, true, reason, node_window_);
}

StatusOr<store::QueueInfo> RunService::ResumeQueue(const std::string& queue) {
  if (!queues_) return Unimplemented("queues are not available in this daemon");
  if (queue.empty()) return InvalidArgument("queue: required");
  if (Status st = CheckName("queue", queue); !st.ok()) return st;
  auto q = queues_->SetPaused(queue, false, "", node_window_);
  if (q.ok()) PokeReady();
  return q;
}

uint64_t RunService::Wait(const std::vector<std::string>& ids, bool any,
                          std::optional<Millis> timeout, WaitHub::Done done) {
  if (ids.empty()) {
    done(InvalidArgument("ids: at least one run id is required"));
    return 0;
  }
  if (static_cast<int>(ids.size()) > limits_.max_wait_ids) {
    done(InvalidArgument("ids: " + std::to_string(ids.size()) + " ids exceeds the limit of " +
                         std::to_string(limits_.max_wait_ids)));
    return 0;
  }
  std::vector<std::string> canonical;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string id;
    Status st = ParseId(ids[i], "ids[" + std::to_string(i) + "]", &id);
    if (!st.ok()) {
      done(st);
      return 0;
    }
    canonical.push_back(id);
  }
  Millis t = timeout.value_or(limits_.default_wait_timeout);
  if (t.count() < 0) {
    done(InvalidArgument("timeout: must not be negative"));
    return 0;
  }
  if (t > limits_.max_wait_timeout) {
    done(InvalidArgument("timeout: must be at most " +
                         std::to_string(limits_.max_wait_timeout.count() / 1000) + " seconds"));
    return 0;
  }
  if (hub_->waiting() >= limits_.max_waiters) {
    done(ResourceExhausted("ids: " + std::to_string(limits_.max_waiters) +
                           " Wait calls are already waiting on this daemon; retry later"));
    return 0;
  }
  return hub_->Wait(std::move(canonical), any, t, std::move(done));
}

void RunService::AbortWait(uint64_t handle) {
  if (handle) hub_->Abort(handle);
}

}  // namespace cueball::engine
