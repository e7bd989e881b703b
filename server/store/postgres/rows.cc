#include "server/store/postgres/rows.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace cueball::store::pg {

Columns::Columns(const pqxx::result& res) {
  names_.reserve(static_cast<size_t>(res.columns()));
  for (pqxx::row::size_type i = 0; i < res.columns(); ++i) names_.emplace_back(res.column_name(i));
}

int Columns::Find(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int Columns::Need(std::string_view name) const {
  int i = Find(name);
  if (i < 0) throw pqxx::usage_error("result has no column '" + std::string(name) + "'");
  return i;
}

pqxx::field Field(const pqxx::result& res, int row, std::string_view name) {
  return res[row][Columns(res).Need(name)];
}

std::vector<std::string> ParseTextArray(const std::string& json_array) {
  return nlohmann::json::parse(json_array).get<std::vector<std::string>>();
}

std::vector<std::string> ReadTexts(const pqxx::result& res, std::string_view name) {
  std::vector<std::string> out;
  if (res.empty()) return out;
  const int col = Columns(res).Need(name);
  out.reserve(res.size());
  for (const auto& row : res) out.push_back(Text(row[col]));
  return out;
}

std::string Text(const pqxx::field& f) {
  if (f.is_null()) throw pqxx::conversion_error("NULL in column " + std::string(f.name()));
  return std::string(f.c_str(), f.size());
}

int64_t Int(const pqxx::field& f) {
  int64_t v = 0;
  const char* s = f.c_str();
  auto [end, ec] = std::from_chars(s, s + f.size(), v);
  if (f.is_null() || ec != std::errc() || end != s + f.size()) {
    throw pqxx::conversion_error("not an integer in column " + std::string(f.name()));
  }
  return v;
}

std::optional<std::string> OptText(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return Text(f);
}

// A run's tags column: a JSON object of strings (migration 0013), written
// only by enqueue from validated tags.
std::map<std::string, std::string> ParseTags(const pqxx::field& f) {
  std::map<std::string, std::string> tags;
  auto obj = nlohmann::json::parse(std::string_view(f.c_str(), f.size()), nullptr, false);
  if (!obj.is_object()) return tags;
  for (auto& [k, v] : obj.items()) {
    if (v.is_string()) tags.emplace(k, v.get<std::string>());
  }
  return tags;
}

std::optional<TimePoint> OptTime(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return FromMicros(Int(f));
}

RunReader::RunReader(const pqxx::result& res) {
  Columns c(res);
  id_ = c.Need("id");
  workflow_type_ = c.Need("workflow_type");
  queue_ = c.Need("queue");
  status_ = c.Need("status");
  step_index_ = c.Need("step_index");
  step_name_ = c.Need("step_name");
  attempt_ = c.Need("attempt");
  // What a statement may leave out.
  priority_ = c.Find("priority");
  input_ = c.Find("input");
  state_ = c.Find("state");
  result_ = c.Find("result");
  error_ = c.Find("error");
  idempotency_key_ = c.Find("idempotency_key");
  created_ = c.Find("created_us");
  updated_ = c.Find("updated_us");
  run_at_ = c.Find("run_us");
  started_ = c.Find("started_us");
  finished_ = c.Find("finished_us");
  parent_id_ = c.Find("parent_id");
  wait_ = c.Find("wait");
  tags_ = c.Find("tags");
  deadline_ = c.Find("deadline_us");
  deadline_action_ = c.Find("deadline_action");
}

Run RunReader::Read(const pqxx::row& row) const {
  Run r;
  r.id = Text(row[id_]);
  r.workflow_type = Text(row[workflow_type_]);
  r.queue = Text(row[queue_]);
  const pqxx::field status = row[status_];
  r.status =
      ParseRunStatus(std::string_view(status.c_str(), status.size())).value_or(RunStatus::kFailed);
  r.step_index = static_cast<int>(Int(row[step_index_]));
  r.step_name = Text(row[step_name_]);
  r.attempt = static_cast<int>(Int(row[attempt_]));
  if (priority_ >= 0) r.priority = static_cast<int>(Int(row[priority_]));
  if (input_ >= 0) r.input = Text(row[input_]);
  if (state_ >= 0) r.state = Text(row[state_]);
  if (result_ >= 0) r.result = OptText(row[result_]);
  if (error_ >= 0) r.error = OptText(row[error_]);
  if (idempotency_key_ >= 0) r.idempotency_key = OptText(row[idempotency_key_]);
  if (created_ >= 0) r.created_at = FromMicros(Int(row[created_]));
  if (updated_ >= 0) r.updated_at = FromMicros(Int(row[updated_]));
  if (run_at_ >= 0) r.run_at = FromMicros(Int(row[run_at_]));
  if (started_ >= 0) r.started_at = OptTime(row[started_]);
  if (finished_ >= 0) r.finished_at = OptTime(row[finished_]);
  if (parent_id_ >= 0) r.parent_id = OptText(row[parent_id_]);
  if (wait_ >= 0) r.wait = OptText(row[wait_]);
  if (tags_ >= 0 && !row[tags_].is_null()) r.tags = ParseTags(row[tags_]);
  if (deadline_ >= 0) r.deadline = OptTime(row[deadline_]);
  if (deadline_action_ >= 0 && !row[deadline_action_].is_null()) {
    r.deadline_action = Text(row[deadline_action_]);
  }
  return r;
}

std::vector<Run> ReadRuns(const pqxx::result& res, bool pruned) {
  std::vector<Run> runs;
  if (res.empty()) return runs;
  const RunReader reader(res);
  for (const auto& row : res) {
    runs.push_back(reader.Read(row));
    runs.back().pruned = pruned;
  }
  return runs;
}

ClaimedReader::ClaimedReader(const pqxx::result& res) : run_(res) {
  Columns c(res);
  lease_id_ = c.Need("lease_id");
  lease_expires_ = c.Need("lease_expires_us");
  lease_owner_ = c.Need("lease_owner");
}

ClaimedRun ClaimedReader::Read(const pqxx::row& row) const {
  ClaimedRun cr;
  cr.run = run_.Read(row);
  cr.lease_id = Text(row[lease_id_]);
  cr.lease_expires_at = FromMicros(Int(row[lease_expires_]));
  cr.lease_owner = Text(row[lease_owner_]);
  return cr;
}

std::vector<ChildRun> ReadChildren(const pqxx::result& res) {
  Columns c(res);
  const int id = c.Need("id"), type = c.Need("workflow_type"), status = c.Need("status");
  std::vector<ChildRun> out;
  for (const auto& row : res) {
    out.push_back({Text(row[id]), Text(row[type]),
                   ParseRunStatus(Text(row[status])).value_or(RunStatus::kFailed)});
  }
  return out;
}

std::vector<Event> ReadHistory(const pqxx::result& res, const std::string& run_id,
                               const std::string& workflow_type) {
  Columns c(res);
  const int seq = c.Need("seq"), kind = c.Need("kind"), step = c.Need("step"),
            attempt = c.Need("attempt"), data = c.Need("data"), created = c.Need("created_us"),
            position = c.Need("position");
  std::vector<Event> out;
  for (const auto& row : res) {
    Event e;
    e.seq = Int(row[seq]);
    e.run_id = run_id;
    e.kind = Text(row[kind]);
    e.step = Text(row[step]);
    e.attempt = static_cast<int>(Int(row[attempt]));
    e.data = Text(row[data]);
    e.created_at = FromMicros(Int(row[created]));
    e.position = Int(row[position]);
    e.workflow_type = workflow_type;
    out.push_back(std::move(e));
  }
  return out;
}

StoredSignal ReadSignal(const pqxx::result& res, int row) {
  Columns c(res);
  StoredSignal s;
  s.seq = Int(res[row][c.Need("seq")]);
  s.name = Text(res[row][c.Need("name")]);
  s.payload = Text(res[row][c.Need("payload")]);
  s.created_at = FromMicros(Int(res[row][c.Need("created_us")]));
  return s;
}

std::vector<BlobInfo> ReadBlobInfos(const pqxx::result& res) {
  const Columns c(res);
  const int name = c.Need("name"), type = c.Need("content_type"), size = c.Need("size"),
            sha = c.Need("sha256"), created = c.Need("created_us"), updated = c.Need("updated_us");
  std::vector<BlobInfo> out;
  for (const auto& row : res) {
    BlobInfo b;
    b.name = Text(row[name]);
    b.content_type = Text(row[type]);
    b.size = Int(row[size]);
    b.sha256 = Text(row[sha]);
    b.created_at = FromMicros(Int(row[created]));
    b.updated_at = FromMicros(Int(row[updated]));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace cueball::store::pg
