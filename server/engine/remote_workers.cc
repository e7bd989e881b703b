#include "server/engine/remote_workers.h"

#include <pthread.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <random>
#include <set>

#include "server/domain/duration.h"
#include "server/domain/utf8.h"
#include "server/engine/attempt.h"
#include "server/engine/decide.h"
#include "server/engine/new_run.h"
#include "server/engine/step_runner.h"
#include "server/logging/logging.h"

namespace cueball::engine {

using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kMostSlots = 10000;
constexpr size_t kMostTypes = 100;
constexpr size_t kMostSteps = 100;
constexpr size_t kMostIdentityBytes = 200;
constexpr size_t kMostOutcomes = 1000;
constexpr size_t kMostTokens = 10000;
constexpr Millis kLeastLease{1000};
constexpr Millis kMostLease{600000};
constexpr Millis kDefaultWait{20000};
constexpr Millis kMostWait{60000};
constexpr Millis kMostTimeout{int64_t{24} * 3600 * 1000};
constexpr Millis kMostDelay{int64_t{366} * 24 * 3600 * 1000};

// --- lease tokens ------------------------------------------------------------
// A token is the attempt as the claim handed it out, base64url-encoded so
// that clients treat it as opaque: version, run, lease, worker, type,
// queue, step index, attempt, claim time and deadline (us since the epoch).
// The lease id is what fences; the rest spares a read of the run when the
// outcome comes back.

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64Url(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> FromBase64Url(const std::string& in) {
  // Each character's 6 bits, or -1 (a table: decoding runs for every
  // outcome and heartbeat).
  static const auto kValue = [] {
    std::array<int8_t, 256> t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kB64[i])] = static_cast<int8_t>(i);
    return t;
  }();
  if (in.size() % 4 == 1 || in.size() > 2048) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int8_t v = kValue[static_cast<uint8_t>(c)];
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

bool ParseInt(const std::string& s, int64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  size_t i = s[0] == '-' ? 1 : 0;
  if (i == s.size()) return false;
  int64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = s[0] == '-' ? -v : v;
  return true;
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::string NewWorkerId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static const char kHex[] = "0123456789abcdef";
  std::string id = "w-";
  uint64_t v = rng();
  for (int i = 0; i < 16; ++i) id += kHex[(v >> (4 * i)) & 15];
  return id;
}

// --- definitions ---------------------------------------------------------------

Json RetryJson(const RetryPolicy& r) {
  return {{"max_attempts", r.max_attempts},
          {"backoff", BackoffName(r.backoff)},
          {"initial_ms", r.initial_delay.count()},
          {"max_ms", r.max_delay.count()}};
}

// The stored form of a definition (migration 0012).
Json DefinitionJson(const WorkflowType& t) {
  Json steps = Json::array();
  for (const auto& s : t.steps) {
    steps.push_back({{"name", s.name},
                     {"kind", s.traits.kind},
                     {"retry", RetryJson(s.retry)},
                     {"timeout_ms", s.timeout.count()}});
  }
  return {{"description", t.description}, {"steps", steps}};
}

StepDef RemoteStep(std::string name, RetryPolicy retry, Millis timeout) {
  return StepDef(std::move(name), RemoteStepHandler(), std::move(retry), timeout,
                 StepTraits("remote", "run by remote workers"));
}

// A remote type from its stored definition; nullopt when it does not read.
std::optional<WorkflowType> TypeFromDefinition(const std::string& name, const Json& d) {
  try {
    WorkflowType t;
    t.name = name;
    t.description = d.value("description", "");
    t.source = "remote workers";
    for (const auto& s : d.at("steps")) {
      const Json& r = s.at("retry");
      RetryPolicy retry;
      retry.max_attempts = r.at("max_attempts").get<int>();
      retry.backoff =
          r.at("backoff").get<std::string>() == "fixed" ? Backoff::kFixed : Backoff::kExponential;
      retry.initial_delay = Millis(r.at("initial_ms").get<int64_t>());
      retry.max_delay = Millis(r.at("max_ms").get<int64_t>());
      t.steps.push_back(RemoteStep(s.at("name").get<std::string>(), retry,
                                   Millis(s.at("timeout_ms").get<int64_t>())));
    }
    if (t.steps.empty()) return std::nullopt;
    return t;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string Quote(const Json& v) {
  return v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
}

// The first difference between two definitions' steps, said as a person
// would ("" when they do not differ; descriptions are not compared).
std::string DefinitionDiff(const Json& stored, const Json& declared) {
  const Json& a = stored.at("steps");
  const Json& b = declared.at("steps");
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    const std::string at = "step " + std::to_string(i + 1);
    if (a[i].value("name", "") != b[i].value("name", "")) {
      return at + " is " + Quote(a[i]["name"]) + " in the stored definition, " +
             Quote(b[i]["name"]) + " here";
    }
    const std::string step = "step '" + a[i].value("name", "") + "'";
    for (const char* k : {"max_attempts", "backoff", "initial_ms", "max_ms"}) {
      if (a[i]["retry"][k] != b[i]["retry"][k]) {
        return step + ": retry." + k + " is " + Quote(a[i]["retry"][k]) + " stored, " +
               Quote(b[i]["retry"][k]) + " here";
      }
    }
    if (a[i]["timeout_ms"] != b[i]["timeout_ms"]) {
      return step + ": timeout_ms is " + a[i]["timeout_ms"].dump() + " stored, " +
             b[i]["timeout_ms"].dump() + " here";
    }
  }
  if (a.size() != b.size()) {
    return "the stored definition has " + std::to_string(a.size()) + " steps, this one " +
           std::to_string(b.size());
  }
  return "";
}

Status CheckRetry(const RetryPolicy& r, const std::string& f) {
  if (r.max_attempts < 1 || r.max_attempts > 1000) {
    return InvalidArgument(f + ".max_attempts: must be 1..1000 (got " +
                           std::to_string(r.max_attempts) + ")");
  }
  if (r.initial_delay.count() < 0 || r.initial_delay > kMostTimeout) {
    return InvalidArgument(f + ".initial_delay: must be 0..24h");
  }
  if (r.max_delay.count() < 0 || r.max_delay > kMostTimeout) {
    return InvalidArgument(f + ".max_delay: must be 0..24h");
  }
  if (r.max_delay < r.initial_delay) {
    return InvalidArgument(f + ".max_delay: must not be less than initial_delay");
  }
  return Status::Ok();
}

// When a parked poll claims again without a poke: when the claim said the
// next run is due (at least 5 ms, so that a run another claimer holds
// locked does not make the loop spin), at most `poll`.
Millis ClaimAgainIn(const std::optional<Millis>& next_due, Millis poll) {
  if (!next_due) return poll;
  return std::clamp(*next_due, Millis(5), poll);
}

// The outcome of an attempt whose result the engine decides itself (a woken
// timer or timeout, a timed-out step, a give-back): the run's state is kept,
// and the attempt's start goes with it unless it is given back unstarted.
store::Outcome EngineOutcome(const store::ClaimedRun& c, const WorkflowType& type,
                             const StepResult& result) {
  store::Outcome o = Decide(c.run, c.lease_id, type, result, Json(), Now(), DispatchRng());
  o.state.reset();
  if (result.kind() != StepResult::Kind::kRelease) o.start = c.start();
  return o;
}

const char* LostReason(RunStatus s) {
  switch (s) {
    case RunStatus::kCanceled:
      return "canceled";
    case RunStatus::kSucceeded:
    case RunStatus::kFailed:
      return "finished";
    default:
      return "lease_lost";
  }
}

}  // namespace

// --- the parts -------------------------------------------------------------------

struct RemoteWorkers::Worker {
  store::WorkerInfo info;
  std::set<std::string> queues;
  std::set<std::string> served;  // "type" and "type/step"
  bool stopped = false;

  static Worker Of(const store::WorkerInfo& info) {
    return {info,
            {info.queues.begin(), info.queues.end()},
            {info.types.begin(), info.types.end()},
            false};
  }
};

struct RemoteWorkers::Token {
  std::string run_id, lease_id, worker_id, type, queue;
  int step_index = 0;
  int attempt = 0;
  int64_t start_us = 0;
  int64_t deadline_us = 0;

  std::string Encode() const {
    return Base64Url("1|" + run_id + "|" + lease_id + "|" + worker_id + "|" + type + "|" + queue +
                     "|" + std::to_string(step_index) + "|" + std::to_string(attempt) + "|" +
                     std::to_string(start_us) + "|" + std::to_string(deadline_us));
  }
  static std::optional<Token> Decode(const std::string& text) {
    auto raw = FromBase64Url(text);
    if (!raw) return std::nullopt;
    auto f = Split(*raw, '|');
    if (f.size() != 10 || f[0] != "1") return std::nullopt;
    Token t;
    int64_t step = 0, attempt = 0;
    if (!RunId::Parse(f[1]) || !RunId::Parse(f[2]) || f[3].empty() || !ValidName(f[4]) ||
        !ValidName(f[5]) || !ParseInt(f[6], &step) || !ParseInt(f[7], &attempt) ||
        !ParseInt(f[8], &t.start_us) || !ParseInt(f[9], &t.deadline_us) || step < 0 ||
        step > 100000 || attempt < 1 || attempt > 1000000) {
      return std::nullopt;
    }
    t.run_id = f[1];
    t.lease_id = f[2];
    t.worker_id = f[3];
    t.type = f[4];
    t.queue = f[5];
    t.step_index = static_cast<int>(step);
    t.attempt = static_cast<int>(attempt);
    return t;
  }
  // The run as far as Decide and the step services need it.
  store::ClaimedRun Claimed(const WorkflowType* wt) const {
    store::ClaimedRun c;
    c.run.id = run_id;
    c.run.workflow_type = type;
    c.run.queue = queue;
    c.run.status = RunStatus::kRunning;
    c.run.step_index = step_index;
    if (wt && step_index < static_cast<int>(wt->steps.size())) {
      c.run.step_name = wt->steps[step_index].name;
    }
    c.run.attempt = attempt;
    c.run.updated_at = FromMicros(start_us);
    c.lease_id = lease_id;
    c.lease_owner = worker_id;
    return c;
  }
};

struct RemoteWorkers::Pending {
  std::shared_ptr<const Worker> worker;
  std::vector<std::string> queues, types;
  int max = 1;
  SteadyClock::time_point until;     // the poll's wait ends: answered empty
  SteadyClock::time_point next_try;  // claim again then, poked or not
  std::string scope;
  std::function<void(StatusOr<std::vector<RemoteAttempt>>)> done;
};

RemoteWorkers::RemoteWorkers(Stores stores, Registry* registry, Options options)
    : stores_(stores),
      registry_(registry),
      opts_(std::move(options)),
      services_{stores.runs, stores.waits, stores.dispatch, stores.blobs, opts_.max_blob_bytes} {
  registry_->SetLoader([this](const std::string& name) { LoadTypes(name); });
}

RemoteWorkers::~RemoteWorkers() { Stop(); }

void RemoteWorkers::Start() {
  Status st = PublishOwnTypes();
  if (!st.ok()) {
    logging::Warn(DispatchLog(), "storing this daemon's type definitions failed",
                  {{"error", st.message()}});
  }
  st = LoadTypes("");
  if (!st.ok()) {
    logging::Warn(DispatchLog(), "loading remote types failed", {{"error", st.message()}});
  }
  thread_ = std::thread([this] { Loop(); });
}

void RemoteWorkers::Stop() {
  std::map<uint64_t, std::unique_ptr<Pending>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    left.swap(pending_);
  }
  cv_.notify_all();
  for (auto& [id, p] : left) p->done(std::vector<RemoteAttempt>{});
  if (thread_.joinable()) thread_.join();
}

Status RemoteWorkers::PublishOwnTypes() {
  std::vector<store::TypeDefinition> defs;
  for (const auto& name : registry_->OwnNames()) {
    const WorkflowType* t = registry_->Find(name);
    defs.push_back({t->name, t->source, DefinitionJson(*t).dump()});
  }
  return stores_.workers->PutDefinitions(defs);
}

Status RemoteWorkers::LoadTypes(const std::string& name) {
  std::lock_guard<std::mutex> lock(load_mu_);
  if (!name.empty()) {
    // A name asked for again and again (an enqueue of a type nobody
    // registered) reads the database at most once a second.
    auto it = missed_.find(name);
    if (it != missed_.end() && SteadyClock::now() - it->second < std::chrono::seconds(1)) {
      return NotFound(name);
    }
    if (missed_.size() > 10000) missed_.clear();
  }
  auto defs = stores_.workers->GetDefinitions(name.empty() ? std::vector<std::string>{}
                                                           : std::vector<std::string>{name});
  if (!defs.ok()) return defs.status();
  bool found = false;
  for (const auto& d : *defs) {
    if (d.source != "worker" || registry_->IsOwn(d.name)) continue;
    Json j;
    try {
      j = Json::parse(d.definition);
    } catch (const std::exception&) {
      continue;
    }
    auto t = TypeFromDefinition(d.name, j);
    if (!t) continue;
    registry_->PutRemote(std::move(*t));
    found = true;
  }
  if (!name.empty() && !found) missed_[name] = SteadyClock::now();
  if (!name.empty() && found) missed_.erase(name);
  return Status::Ok();
}

StatusOr<Registration> RemoteWorkers::Register(const WorkerSpec& spec) {
  if (spec.identity.empty() || spec.identity.size() > kMostIdentityBytes) {
    return InvalidArgument("identity: must be 1.." + std::to_string(kMostIdentityBytes) + " bytes");
  }
  if (!IsValidUtf8(spec.identity)) return InvalidArgument("identity: must be UTF-8 text");
  if (spec.slots < 1 || spec.slots > kMostSlots) {
    return InvalidArgument("slots: must be 1.." + std::to_string(kMostSlots) + " (got " +
                           std::to_string(spec.slots) + ")");
  }
  const Millis lease = spec.lease.value_or(opts_.default_lease);
  if (lease < kLeastLease || lease > kMostLease) {
    return InvalidArgument("lease: must be 1s..10m (got " + FormatDuration(lease) + ")");
  }
  std::vector<std::string> queues = spec.queues;
  if (queues.empty()) queues.push_back("default");
  std::set<std::string> seen_queues;
  for (size_t i = 0; i < queues.size(); ++i) {
    if (!ValidName(queues[i])) {
      return InvalidArgument("queues[" + std::to_string(i) +
                             "]: must be 1-128 characters of A-Z a-z 0-9 _ . : -");
    }
    if (!seen_queues.insert(queues[i]).second) {
      return InvalidArgument("queues[" + std::to_string(i) + "]: '" + queues[i] +
                             "' is listed twice");
    }
  }
  if (spec.types.empty()) return InvalidArgument("types: a worker must serve at least one type");
  if (spec.types.size() > kMostTypes) {
    return InvalidArgument("types: at most " + std::to_string(kMostTypes) + " per worker");
  }

  store::WorkerInfo info;
  info.id = NewWorkerId();
  info.identity = spec.identity;
  info.node = opts_.node;
  info.queues = queues;
  info.slots = spec.slots;
  info.lease = lease;

  std::vector<std::string> names;
  std::set<std::string> seen_types;
  for (size_t i = 0; i < spec.types.size(); ++i) {
    const auto& t = spec.types[i];
    const std::string f = "types[" + std::to_string(i) + "]";
    if (!ValidName(t.name)) {
      return InvalidArgument(f + ".name: must be 1-128 characters of A-Z a-z 0-9 _ . : -");
    }
    if (!seen_types.insert(t.name).second) {
      return InvalidArgument(f + ".name: '" + t.name + "' is listed twice");
    }
    if (t.steps.empty()) return InvalidArgument(f + ".steps: a type needs at least one step");
    if (t.steps.size() > kMostSteps) {
      return InvalidArgument(f + ".steps: at most " + std::to_string(kMostSteps));
    }
    if (t.description.size() > 1000) return InvalidArgument(f + ".description: at most 1000 bytes");
    std::set<std::string> step_names;
    for (size_t j = 0; j < t.steps.size(); ++j) {
      const auto& s = t.steps[j];
      const std::string sf = f + ".steps[" + std::to_string(j) + "]";
      if (!ValidName(s.name)) {
        return InvalidArgument(sf + ".name: must be 1-128 characters of A-Z a-z 0-9 _ . : -");
      }
      if (!step_names.insert(s.name).second) {
        return InvalidArgument(sf + ".name: '" + s.name + "' is listed twice");
      }
      if (s.retry) {
        Status st = CheckRetry(*s.retry, sf + ".retry");
        if (!st.ok()) return st;
      }
      if (s.timeout && (s.timeout->count() <= 0 || *s.timeout > kMostTimeout)) {
        return InvalidArgument(sf + ".timeout: must be more than 0 and at most 24h");
      }
    }
    names.push_back(t.name);
  }

  for (int tries = 0;; ++tries) {
    auto stored = stores_.workers->GetDefinitions(names);
    if (!stored.ok()) return stored.status();
    std::map<std::string, store::TypeDefinition> by_name;
    for (auto& d : *stored) by_name.emplace(d.name, d);
    std::vector<store::DefinitionWrite> writes;
    std::vector<WorkflowType> remote_types;
    info.types.clear();
    for (size_t i = 0; i < spec.types.size(); ++i) {
      const auto& t = spec.types[i];
      const std::string f = "types[" + std::to_string(i) + "]";
      auto it = by_name.find(t.name);
      Json stored_def;
      if (it != by_name.end()) {
        try {
          stored_def = Json::parse(it->second.definition);
        } catch (const std::exception&) {
          return Internal("the stored definition of '" + t.name + "' does not parse");
        }
      }
      // A type a daemon defines: a worker may serve its remote steps only.
      const bool daemon_type =
          (it != by_name.end() && it->second.source != "worker") || registry_->IsOwn(t.name);
      if (daemon_type) {
        if (stored_def.is_null()) stored_def = DefinitionJson(*registry_->Find(t.name));
        std::map<std::string, Json> remote_steps;
        for (const auto& s : stored_def["steps"]) {
          if (s.value("kind", "") == "remote") remote_steps[s.value("name", "")] = s;
        }
        const std::string source =
            it != by_name.end() ? it->second.source : registry_->Find(t.name)->source;
        if (remote_steps.empty()) {
          return FailedPrecondition(f + ".name: workflow type '" + t.name +
                                    "' is run by daemons (defined in " + source +
                                    ") and has no remote steps; a worker cannot serve it");
        }
        for (size_t j = 0; j < t.steps.size(); ++j) {
          const auto& s = t.steps[j];
          const std::string sf = f + ".steps[" + std::to_string(j) + "]";
          auto rs = remote_steps.find(s.name);
          if (rs == remote_steps.end()) {
            std::string list;
            for (const auto& [n, _] : remote_steps) list += (list.empty() ? "" : ", ") + n;
            return FailedPrecondition(sf + ".name: '" + s.name + "' is not a remote step of '" +
                                      t.name + "' (" + source + "); its remote steps: " + list);
          }
          if (s.retry && RetryJson(*s.retry) != rs->second["retry"]) {
            return FailedPrecondition(sf + ".retry: differs from the retry policy of step '" +
                                      s.name + "' in " + source +
                                      " (leave it unset: the file's applies)");
          }
          if (s.timeout && s.timeout->count() != rs->second.value("timeout_ms", int64_t{0})) {
            return FailedPrecondition(sf + ".timeout: differs from the timeout of step '" + s.name +
                                      "' in " + source + " (leave it unset: the file's applies)");
          }
          info.types.push_back(t.name + "/" + s.name);
        }
        continue;
      }
      WorkflowType wt;
      wt.name = t.name;
      wt.description = t.description;
      wt.source = "remote workers";
      for (const auto& s : t.steps) {
        wt.steps.push_back(
            RemoteStep(s.name, s.retry.value_or(RetryPolicy{}), s.timeout.value_or(Millis(30000))));
      }
      const Json declared = DefinitionJson(wt);
      store::DefinitionWrite w{{t.name, "worker", declared.dump()}, std::nullopt, true};
      if (it != by_name.end()) {
        w.expected = it->second.definition;
        const std::string diff = DefinitionDiff(stored_def, declared);
        if (diff.empty()) {
          // The same steps: only a new description is written.
          w.write = stored_def.value("description", "") != t.description;
        } else {
          auto live = stores_.workers->LiveWorkersServing(t.name, info.id);
          if (!live.ok()) return live.status();
          if (*live > 0) {
            return FailedPrecondition(
                f + ": workflow type '" + t.name + "' differs from its stored definition: " + diff +
                ". " + std::to_string(*live) +
                " live worker(s) serve the stored one; stop them first, or register this "
                "definition under a new type name");
          }
          logging::Info(DispatchLog(), "workflow type redefined: no live worker served the old one",
                        {{"type", t.name}, {"difference", diff}, {"identity", spec.identity}});
        }
      }
      writes.push_back(std::move(w));
      remote_types.push_back(std::move(wt));
      info.types.push_back(t.name);
    }
    Status st = stores_.workers->RegisterWorker(info, writes);
    if (st.code() == StatusCode::kAborted && tries < 3) continue;  // raced another registration
    if (!st.ok()) return st;
    for (auto& t : remote_types) registry_->PutRemote(std::move(t));
    break;
  }
  auto w = std::make_shared<const Worker>(Worker::Of(info));
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    if (workers_.size() > 10000) workers_.clear();
    workers_[info.id] = w;
  }
  logging::Info(DispatchLog(), "remote worker registered",
                {{"worker", info.id},
                 {"identity", info.identity},
                 {"slots", info.slots},
                 {"types", Join(info.types, ",")}});
  Poke();
  return Registration{info.id, lease, Millis(std::max<int64_t>(lease.count() / 3, 1))};
}

StatusOr<std::shared_ptr<const RemoteWorkers::Worker>> RemoteWorkers::FindWorker(
    const std::string& id) {
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    auto it = workers_.find(id);
    if (it != workers_.end()) {
      if (it->second->stopped) {
        return NotFound("worker_id: worker '" + id + "' stopped; register again");
      }
      return it->second;
    }
  }
  if (id.empty()) return InvalidArgument("worker_id: required (from RegisterWorker)");
  if (id.size() > 64) return NotFound("worker_id: no worker with that id is registered");
  auto got = stores_.workers->GetWorker(id);
  if (!got.ok()) return got.status();
  if (!*got) return NotFound("worker_id: no worker '" + id + "' is registered; register first");
  if ((*got)->stopped_at) return NotFound("worker_id: worker '" + id + "' stopped; register again");
  auto w = std::make_shared<const Worker>(Worker::Of(**got));
  std::lock_guard<std::mutex> lock(workers_mu_);
  if (workers_.size() > 10000) workers_.clear();
  workers_[id] = w;
  return w;
}

Status RemoteWorkers::CheckToken(const Worker& w, const std::string& text, const std::string& field,
                                 Token* out) const {
  auto t = Token::Decode(text);
  if (!t) return InvalidArgument(field + ": not a lease token this daemon issued");
  if (t->worker_id != w.info.id) {
    return FailedPrecondition(field + ": the attempt of run " + t->run_id +
                              " is not held by this worker (its lease is " + t->worker_id + "'s)");
  }
  *out = std::move(*t);
  return Status::Ok();
}

StatusOr<std::vector<RemoteAttempt>> RemoteWorkers::ClaimFor(const Worker& w,
                                                             const std::vector<std::string>& queues,
                                                             const std::vector<std::string>& types,
                                                             int max,
                                                             std::optional<Millis>* next_due) {
  auto claimed = stores_.dispatch->Claim(w.info.id, queues, types, max, w.info.lease, next_due);
  if (!claimed.ok()) return claimed.status();
  std::vector<RemoteAttempt> out;
  std::vector<store::Outcome> own;
  for (auto& c : *claimed) {
    const Run& run = c.run;
    const WorkflowType* type = registry_->Find(run.workflow_type);
    const StepDef* step = type && run.step_index < static_cast<int>(type->steps.size())
                              ? &type->steps[run.step_index]
                              : nullptr;
    if (!step) {
      own.push_back(EngineOutcome(c, type ? *type : WorkflowType{run.workflow_type, "", {}},
                                  StepResult::Fail("step index out of range")));
      continue;
    }
    std::string woke;
    if (auto engine_result = WokenResult(run, *step, &woke)) {
      own.push_back(EngineOutcome(c, *type, *engine_result));
      continue;
    }
    Token t;
    t.run_id = run.id;
    t.lease_id = c.lease_id;
    t.worker_id = w.info.id;
    t.type = run.workflow_type;
    t.queue = run.queue;
    t.step_index = run.step_index;
    t.attempt = run.attempt;
    t.start_us = ToMicros(run.updated_at);
    const TimePoint deadline =
        Now() + std::chrono::duration_cast<std::chrono::microseconds>(step->timeout);
    t.deadline_us = ToMicros(deadline);
    RemoteAttempt a;
    a.token = t.Encode();
    a.run_id = run.id;
    a.workflow_type = run.workflow_type;
    a.queue = run.queue;
    a.step = step->name;
    a.step_index = run.step_index;
    a.attempt = run.attempt;
    a.priority = run.priority;
    a.input = run.input;
    a.state = run.state;
    a.deadline = deadline;
    a.woke = woke;
    out.push_back(std::move(a));
  }
  if (!own.empty()) RecordOwn(std::move(own));
  return out;
}

void RemoteWorkers::RecordOwn(std::vector<store::Outcome> outcomes) {
  bool waits = false, ready = false;
  for (const auto& o : outcomes) {
    waits |= o.status == RunStatus::kWaiting;
    ready |= o.status == RunStatus::kEnqueued;
  }
  auto res = stores_.dispatch->RecordOutcomes(outcomes);
  if (!res.ok()) {
    // Their leases expire and the rescuer takes them.
    logging::Warn(DispatchLog(), "recording outcomes for remote attempts failed",
                  {{"error", res.status().message()}, {"count", outcomes.size()}});
    return;
  }
  if (waits && opts_.on_waits_recorded) opts_.on_waits_recorded();
  if (ready) {
    if (opts_.on_ready) opts_.on_ready();
    Poke();
  }
}

uint64_t RemoteWorkers::StartPoll(const PollSpec& spec,
                                  std::function<void(StatusOr<std::vector<RemoteAttempt>>)> done) {
  auto fail = [&](Status st) {
    done(std::move(st));
    return uint64_t{0};
  };
  auto found = FindWorker(spec.worker_id);
  if (!found.ok()) return fail(found.status());
  const auto w = *found;
  if (spec.max_steps < 1 || spec.max_steps > w->info.slots) {
    return fail(InvalidArgument("max_steps: must be 1.." + std::to_string(w->info.slots) +
                                " (the worker's slots; got " + std::to_string(spec.max_steps) +
                                ")"));
  }
  const Millis wait = spec.wait.value_or(kDefaultWait);
  if (wait.count() < 0 || wait > kMostWait) return fail(InvalidArgument("wait: must be 0..60s"));
  std::vector<std::string> queues;
  for (size_t i = 0; i < spec.queues.size(); ++i) {
    if (!w->queues.count(spec.queues[i])) {
      return fail(InvalidArgument(
          "queues[" + std::to_string(i) + "]: this worker did not register queue '" +
          spec.queues[i].substr(0, 128) + "' (it registered: " + Join(w->info.queues, ", ") + ")"));
    }
    queues.push_back(spec.queues[i]);
  }
  if (queues.empty()) queues = w->info.queues;
  std::vector<std::string> types;
  for (size_t i = 0; i < spec.types.size(); ++i) {
    const std::string& t = spec.types[i];
    bool any = false;
    for (const auto& s : w->served) {
      if (s == t || s.rfind(t + "/", 0) == 0) {
        types.push_back(s);
        any = true;
      }
    }
    if (!any) {
      return fail(InvalidArgument("types[" + std::to_string(i) +
                                  "]: this worker did not register type '" + t.substr(0, 128) +
                                  "' (it serves: " + Join(w->info.types, ", ") + ")"));
    }
  }
  if (types.empty()) types = w->info.types;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return fail(Unavailable("the daemon is shutting down"));
  }
  std::optional<Millis> next_due;
  auto got = ClaimFor(*w, queues, types, spec.max_steps, &next_due);
  if (!got.ok()) return fail(got.status());
  if (!got->empty() || wait.count() == 0) {
    done(std::move(*got));
    return 0;
  }
  auto p = std::make_unique<Pending>();
  p->worker = w;
  p->queues = queues;
  p->types = types;
  p->max = spec.max_steps;
  p->until = SteadyClock::now() + wait;
  p->scope = Join(queues, ",") + "|" + Join(types, ",");
  p->next_try = SteadyClock::now() + ClaimAgainIn(next_due, opts_.poll_interval);
  p->done = std::move(done);
  uint64_t handle;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      p->done(std::vector<RemoteAttempt>{});
      return 0;
    }
    handle = next_handle_++;
    pending_[handle] = std::move(p);
    parked_ = true;
  }
  cv_.notify_all();
  return handle;
}

void RemoteWorkers::AbortPoll(uint64_t handle) {
  std::unique_ptr<Pending> p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(handle);
    if (it == pending_.end()) return;
    p = std::move(it->second);
    pending_.erase(it);
  }
  p->done(std::vector<RemoteAttempt>{});
}

void RemoteWorkers::GiveBack(const std::vector<RemoteAttempt>& attempts) {
  std::vector<store::Outcome> own;
  for (const auto& a : attempts) {
    auto t = Token::Decode(a.token);
    if (!t) continue;
    const WorkflowType* type = registry_->Find(t->type);
    if (!type) continue;
    own.push_back(EngineOutcome(t->Claimed(type), *type,
                                StepResult::Release("its poll's answer did not reach the worker")));
  }
  if (!own.empty()) RecordOwn(std::move(own));
}

void RemoteWorkers::Poke() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void RemoteWorkers::Loop() {
  pthread_setname_np(pthread_self(), "remote-polls");
  auto next_refresh = SteadyClock::now() + opts_.refresh_interval;
  while (true) {
    struct Job {
      uint64_t id;
      std::shared_ptr<const Worker> worker;
      std::vector<std::string> queues, types;
      int max;
      std::string scope;
    };
    std::vector<Job> jobs;
    std::vector<std::unique_ptr<Pending>> expired;
    bool refresh = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = next_refresh;
      for (const auto& [id, p] : pending_) wake = std::min({wake, p->until, p->next_try});
      cv_.wait_until(lock, wake, [&] { return stopping_ || poked_ || parked_; });
      if (stopping_) return;
      parked_ = false;  // a new poll: its wait's end is in `wake` now
      const auto now = SteadyClock::now();
      const bool poked = poked_;
      poked_ = false;
      for (auto it = pending_.begin(); it != pending_.end();) {
        Pending& p = *it->second;
        if (p.until <= now) {
          expired.push_back(std::move(it->second));
          it = pending_.erase(it);
          continue;
        }
        if (poked || p.next_try <= now) {
          p.next_try = now + opts_.poll_interval;
          jobs.push_back({it->first, p.worker, p.queues, p.types, p.max, p.scope});
        }
        ++it;
      }
      if (now >= next_refresh) {
        refresh = true;
        next_refresh = now + opts_.refresh_interval;
      }
    }
    for (auto& p : expired) p->done(std::vector<RemoteAttempt>{});
    // Polls of one scope (queues and steps) see the same runs: once one
    // comes back short, the others of its scope are not asked this round.
    std::set<std::string> drained;
    for (const Job& j : jobs) {
      if (drained.count(j.scope)) continue;
      std::optional<Millis> next_due;
      auto got = ClaimFor(*j.worker, j.queues, j.types, j.max, &next_due);
      if (!got.ok()) {
        logging::Warn(DispatchLog(), "claim for a remote worker failed",
                      {{"worker", j.worker->info.id}, {"error", got.status().message()}});
        break;  // each poll tries again at its next_try
      }
      if (static_cast<int>(got->size()) < j.max) drained.insert(j.scope);
      std::unique_ptr<Pending> answered;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = pending_.find(j.id);
        if (it != pending_.end()) {
          if (got->empty()) {
            it->second->next_try = SteadyClock::now() + ClaimAgainIn(next_due, opts_.poll_interval);
          } else {
            answered = std::move(it->second);
            pending_.erase(it);
          }
        }
      }
      if (got->empty()) continue;
      if (answered) {
        answered->done(std::move(*got));
      } else {
        GiveBack(*got);  // aborted while it claimed
      }
    }
    if (refresh) {
      Status st = LoadTypes("");
      if (!st.ok()) {
        logging::Debug(DispatchLog(), "reloading remote types failed", {{"error", st.message()}});
      }
    }
  }
}

StatusOr<std::vector<CancelledAttempt>> RemoteWorkers::Heartbeat(
    const std::string& worker_id, const std::vector<std::string>& tokens,
    std::optional<int> in_flight) {
  auto found = FindWorker(worker_id);
  if (!found.ok()) return found.status();
  const auto& w = **found;
  if (tokens.size() > kMostTokens) {
    return InvalidArgument("lease_tokens: at most " + std::to_string(kMostTokens));
  }
  if (in_flight && (*in_flight < 0 || static_cast<size_t>(*in_flight) > kMostTokens)) {
    return InvalidArgument("in_flight: must be 0.." + std::to_string(kMostTokens));
  }
  std::vector<Token> held(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    Status st = CheckToken(w, tokens[i], "lease_tokens[" + std::to_string(i) + "]", &held[i]);
    if (!st.ok()) return st;
  }
  Status st =
      stores_.workers->TouchWorker(w.info.id, in_flight.value_or(static_cast<int>(tokens.size())));
  if (st.code() == StatusCode::kNotFound) {
    std::lock_guard<std::mutex> lock(workers_mu_);
    workers_.erase(w.info.id);
    return NotFound("worker_id: worker '" + w.info.id + "' is not registered, or stopped");
  }
  if (!st.ok()) return st;
  std::vector<CancelledAttempt> out;
  if (held.empty()) return out;
  // Past its deadline (and a grace of a heartbeat): the attempt timed out,
  // as a step in a daemon would; its retry is recorded here.
  const int64_t now_us = ToMicros(Now());
  const int64_t grace_us = w.info.lease.count() * 1000 / 3;
  std::vector<store::AttemptRef> extend;
  std::vector<store::Outcome> timed_out;
  std::map<std::string, size_t> by_run;
  for (size_t i = 0; i < held.size(); ++i) {
    const Token& t = held[i];
    by_run[t.run_id] = i;
    const WorkflowType* type = registry_->Find(t.type);
    if (type && now_us > t.deadline_us + grace_us) {
      store::ClaimedRun c = t.Claimed(type);
      const Millis timeout = t.step_index < static_cast<int>(type->steps.size())
                                 ? type->steps[t.step_index].timeout
                                 : Millis(0);
      timed_out.push_back(
          EngineOutcome(c, *type,
                        StepResult::Retry("step '" + c.run.step_name + "' timed out after " +
                                          std::to_string(timeout.count()) + " ms")));
      out.push_back({tokens[i], t.run_id, "timed_out"});
      continue;
    }
    extend.push_back({t.run_id, t.lease_id});
  }
  if (!timed_out.empty()) RecordOwn(std::move(timed_out));
  if (extend.empty()) return out;
  auto lost = stores_.dispatch->ExtendLeases(extend, w.info.lease);
  if (!lost.ok()) return lost.status();
  if (lost->empty()) return out;
  // Why each was lost: the run was canceled, finished otherwise, or its
  // lease expired and it was rescued.
  std::map<std::string, RunStatus> status;
  auto runs = stores_.runs->GetMany(*lost);
  if (runs.ok()) {
    for (const auto& r : *runs) status[r.id] = r.status;
  }
  for (const auto& id : *lost) {
    auto it = status.find(id);
    out.push_back(
        {tokens[by_run[id]], id, it == status.end() ? "finished" : LostReason(it->second)});
  }
  return out;
}

StatusOr<std::vector<OutcomeAnswer>> RemoteWorkers::Complete(
    const std::string& worker_id, const std::vector<RemoteOutcome>& outcomes) {
  auto found = FindWorker(worker_id);
  if (!found.ok()) return found.status();
  const auto& w = **found;
  if (outcomes.empty()) return InvalidArgument("outcomes: at least one");
  if (outcomes.size() > kMostOutcomes) {
    return InvalidArgument("outcomes: at most " + std::to_string(kMostOutcomes) + " per call");
  }
  // Everything is checked before anything is recorded.
  struct Checked {
    Token token;
    const WorkflowType* type = nullptr;
    std::optional<StepResult> result;
    std::optional<Json> state;
  };
  std::vector<Checked> checked(outcomes.size());
  std::set<std::string> runs_seen;
  const auto parse_json = [&](const std::string& text, const std::string& field,
                              Json* out) -> Status {
    if (text.size() > opts_.max_payload_bytes) {
      return InvalidArgument(field + ": " + std::to_string(text.size()) + " bytes; the limit is " +
                             std::to_string(opts_.max_payload_bytes) + " (--max-payload-bytes)");
    }
    if (text.empty()) {
      *out = Json();
      return Status::Ok();
    }
    try {
      *out = Json::parse(text);
    } catch (const std::exception& e) {
      return InvalidArgument(field + ": not valid JSON: " + std::string(e.what()).substr(0, 200));
    }
    return Status::Ok();
  };
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const RemoteOutcome& o = outcomes[i];
    const std::string f = "outcomes[" + std::to_string(i) + "]";
    Checked& c = checked[i];
    Status st = CheckToken(w, o.token, f + ".lease_token", &c.token);
    if (!st.ok()) return st;
    if (!runs_seen.insert(c.token.run_id).second) {
      return InvalidArgument(f + ".lease_token: a second outcome for run " + c.token.run_id);
    }
    c.type = registry_->Find(c.token.type);
    if (!c.type) {
      return FailedPrecondition(f + ".lease_token: workflow type '" + c.token.type +
                                "' is not known to this daemon");
    }
    if (o.state) {
      Json s;
      st = parse_json(*o.state, f + ".state", &s);
      if (!st.ok()) return st;
      c.state = std::move(s);
    }
    Json result;
    if (o.kind == "next" || o.kind == "complete" || o.kind == "sleep") {
      st = parse_json(o.result, f + "." + o.kind + ".result", &result);
      if (!st.ok()) return st;
    }
    const auto need_until = [&]() -> Status {
      if (!o.until) return InvalidArgument(f + "." + o.kind + ".until: required");
      if (*o.until > Now() + kMostDelay) {
        return InvalidArgument(f + "." + o.kind + ".until: more than 366 days ahead");
      }
      return Status::Ok();
    };
    const auto check_delay = [&](const char* name) -> Status {
      if (o.delay && (o.delay->count() < 0 || *o.delay > kMostDelay)) {
        return InvalidArgument(f + "." + o.kind + "." + name + ": must be 0..366 days");
      }
      return Status::Ok();
    };
    if (o.error.size() > 64 * 1024) {
      return InvalidArgument(f + "." + o.kind + ".error: at most 65536 bytes");
    }
    if (o.kind == "next") {
      c.result = StepResult::Next(std::move(result));
    } else if (o.kind == "complete") {
      c.result = StepResult::Complete(std::move(result));
    } else if (o.kind == "retry") {
      if ((st = check_delay("delay")).ok()) c.result = StepResult::Retry(o.error, o.delay);
    } else if (o.kind == "fail") {
      c.result = StepResult::Fail(o.error);
    } else if (o.kind == "release") {
      c.result = StepResult::Release(o.error.empty() ? "released by its worker" : o.error);
    } else if (o.kind == "defer") {
      if ((st = need_until()).ok()) c.result = StepResult::Defer(*o.until);
    } else if (o.kind == "sleep") {
      if ((st = need_until()).ok()) c.result = StepResult::SleepUntil(*o.until, std::move(result));
    } else if (o.kind == "wait_signal") {
      if (o.signal.empty() || o.signal.size() > 128) {
        st = InvalidArgument(f + ".wait_signal.name: must be 1..128 characters");
      } else if ((st = check_delay("timeout")).ok()) {
        c.result = StepResult::WaitForSignal(o.signal, o.delay);
      }
    } else if (o.kind == "wait_runs") {
      if (o.runs.empty() || o.runs.size() > 1000) {
        st = InvalidArgument(f + ".wait_runs.run_ids: must name 1..1000 runs");
      } else if ((st = check_delay("timeout")).ok()) {
        c.result = StepResult::WaitForRuns(o.runs, o.any, o.delay);
      }
    } else {
      st = InvalidArgument(f +
                           ".outcome: exactly one outcome is required (next, complete, retry, "
                           "fail, defer, sleep, wait_signal, wait_runs or release)");
    }
    if (!st.ok()) return st;
  }

  // A remote step of a workflow file's type: its result goes into the
  // state under steps.NAME, where the file's later steps refer to it (as
  // every file step's does), merged into the state the worker sent or, when
  // it sent none, the stored one.
  const auto to_state = [&](const Checked& c) {
    const auto k = c.result->kind();
    return registry_->IsOwn(c.type->name) &&
           (k == StepResult::Kind::kNext || k == StepResult::Kind::kComplete ||
            k == StepResult::Kind::kSleep);
  };
  std::vector<std::string> merge_ids;
  for (const auto& c : checked) {
    if (to_state(c) && !c.state) merge_ids.push_back(c.token.run_id);
  }
  std::map<std::string, Json> stored_states;
  if (!merge_ids.empty()) {
    auto runs = stores_.runs->GetMany(merge_ids);
    if (!runs.ok()) return runs.status();
    for (const auto& r : *runs) {
      try {
        stored_states[r.id] = Json::parse(r.state);
      } catch (const std::exception&) {
        stored_states[r.id] = Json::object();
      }
    }
  }
  for (auto& c : checked) {
    if (!to_state(c)) continue;
    Json state = c.state ? *c.state : stored_states[c.token.run_id];
    if (!state.is_object()) state = Json::object();
    const std::string name = c.token.step_index < static_cast<int>(c.type->steps.size())
                                 ? c.type->steps[c.token.step_index].name
                                 : "";
    if (!state["steps"].is_object()) state["steps"] = Json::object();
    state["steps"][name] = c.result->result();
    c.state = std::move(state);
  }

  std::vector<store::Outcome> records;
  records.reserve(outcomes.size());
  bool waits = false, ready = false;
  const TimePoint now = Now();
  for (auto& c : checked) {
    store::ClaimedRun claimed = c.token.Claimed(c.type);
    const Run& run = claimed.run;
    if (auto refused = CheckWaitRuns(*c.result, run, stores_.runs)) c.result = *refused;
    store::Outcome o = Decide(run, claimed.lease_id, *c.type, *c.result, c.state.value_or(Json()),
                              now, DispatchRng());
    if (!c.state) o.state.reset();
    if (c.result->kind() != StepResult::Kind::kRelease) o.start = claimed.start();
    waits |= o.status == RunStatus::kWaiting;
    ready |= o.status == RunStatus::kEnqueued;
    if (opts_.metrics) {
      opts_.metrics->StepFinished(
          run.workflow_type, run.step_name, c.result->kind_name(),
          std::max(0.0, std::chrono::duration<double>(now - run.updated_at).count()));
      if (c.result->kind() == StepResult::Kind::kRetry && o.status == RunStatus::kEnqueued) {
        opts_.metrics->StepRetried(run.workflow_type, run.step_name);
      }
    }
    records.push_back(std::move(o));
  }
  auto accepted = stores_.dispatch->RecordOutcomes(records);
  if (!accepted.ok()) return accepted.status();
  std::vector<OutcomeAnswer> out;
  out.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    if (i < accepted->size() && (*accepted)[i]) {
      out.push_back({true, ""});
    } else {
      out.push_back({false, "lease lost: run " + records[i].run_id +
                                " is no longer held by this attempt (its lease expired and "
                                "the step was retried elsewhere, or the run was canceled); "
                                "the outcome was not recorded"});
    }
  }
  if (waits && opts_.on_waits_recorded) opts_.on_waits_recorded();
  if (ready) {
    if (opts_.on_ready) opts_.on_ready();
    Poke();
  }
  return out;
}

StatusOr<int> RemoteWorkers::StopWorker(const std::string& worker_id,
                                        const std::vector<std::string>& tokens) {
  auto found = FindWorker(worker_id);
  if (!found.ok()) return found.status();
  const auto& w = **found;
  if (tokens.size() > kMostTokens) {
    return InvalidArgument("lease_tokens: at most " + std::to_string(kMostTokens));
  }
  int released = 0;
  if (!tokens.empty()) {
    std::vector<RemoteOutcome> give_back;
    for (const auto& t : tokens) {
      RemoteOutcome o;
      o.token = t;
      o.kind = "release";
      o.error = "its worker stopped before running it";
      give_back.push_back(std::move(o));
    }
    auto res = Complete(worker_id, give_back);
    if (!res.ok()) return res.status();
    for (const auto& a : *res) released += a.accepted ? 1 : 0;
  }
  Status st = stores_.workers->StopWorker(w.info.id);
  if (!st.ok()) return st;
  {
    std::lock_guard<std::mutex> lock(workers_mu_);
    auto stopped = std::make_shared<Worker>(w);
    stopped->stopped = true;
    workers_[w.info.id] = stopped;
  }
  logging::Info(DispatchLog(), "remote worker stopped",
                {{"worker", w.info.id}, {"identity", w.info.identity}, {"released", released}});
  return released;
}

StatusOr<std::vector<store::WorkerInfo>> RemoteWorkers::List() {
  return stores_.workers->ListWorkers(Millis(3600 * 1000));
}

StatusOr<std::unique_ptr<RemoteWorkers::Services>> RemoteWorkers::ServicesFor(
    const std::string& worker_id, const std::string& token, const std::string& field) {
  const auto t = Token::Decode(token);
  if (!t) return InvalidArgument(field + ": not a lease token this daemon issued");
  auto found = FindWorker(t->worker_id);
  if (!found.ok()) return found.status();
  if (!worker_id.empty() && worker_id != t->worker_id) {
    return FailedPrecondition(field + ": the attempt is not held by worker " + worker_id);
  }
  const WorkflowType* type = registry_->Find(t->type);
  if (!type) {
    return FailedPrecondition(field + ": workflow type '" + t->type +
                              "' is not known to this daemon");
  }
  return std::make_unique<Services>(services_, registry_, t->Claimed(type));
}

}  // namespace cueball::engine
