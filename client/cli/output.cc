#include "client/cli/output.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <ostream>

#include "client/client.h"

namespace cueball::cli {
namespace {

using nlohmann::json;

// Replaces string fields holding JSON text with the JSON they hold.
void EmbedJsonText(json& j) {
  static const char* kFields[] = {"input", "state", "result", "data"};
  if (j.is_object()) {
    for (const char* f : kFields) {
      auto it = j.find(f);
      if (it != j.end() && it->is_string()) {
        try {
          *it = json::parse(it->get<std::string>());
        } catch (const json::parse_error&) {
          // leave it as text
        }
      }
    }
    // 64-bit counters are strings in proto's JSON mapping; numbers are what
    // scripts (jq) expect, and positions stay far below 2^53.
    static const char* kCounters[] = {"position", "seq",     "head",
                                      "lag",      "through", "pruned_through"};
    for (const char* f : kCounters) {
      auto it = j.find(f);
      if (it != j.end() && it->is_string()) {
        try {
          *it = std::stoll(it->get<std::string>());
        } catch (const std::exception&) {
          // leave it as text
        }
      }
    }
    for (auto& [k, v] : j.items()) EmbedJsonText(v);
  } else if (j.is_array()) {
    for (auto& v : j) EmbedJsonText(v);
  }
}

std::string Compact(const std::string& json_text, size_t max = 80) {
  std::string s = json_text;
  try {
    s = json::parse(json_text).dump();
  } catch (const json::parse_error&) {
  }
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

}  // namespace

void Table::Print(std::ostream& out) const {
  std::vector<size_t> width(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out << line << "\n";
  };
  print(header_);
  for (const auto& r : rows_) print(r);
}

json ToJson(const google::protobuf::Message& msg) {
  std::string text;
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  opts.always_print_enums_as_ints = false;
  (void)google::protobuf::util::MessageToJsonString(msg, &text, opts);
  json j = json::parse(text);
  EmbedJsonText(j);
  return j;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return google::protobuf::util::TimeUtil::ToString(t);
}

void PrintRunDetail(const v1::Run& r, std::ostream& out) {
  Table t({"FIELD", "VALUE"});
  t.Add({"id", r.id()});
  t.Add({"type", r.workflow_type()});
  t.Add({"status", client::StatusName(r.status())});
  if (r.unserved()) {
    t.Add({"served", "no: no live daemon runs type " + r.workflow_type() + " on queue " +
                         r.queue() + "; the run waits until one starts"});
  }
  t.Add({"step", r.step() + " (" + std::to_string(r.step_index() + 1) + "/" +
                     std::to_string(r.step_count()) + ")"});
  t.Add({"attempt", std::to_string(r.attempt())});
  t.Add({"queue", r.queue()});
  t.Add({"priority", std::to_string(r.priority())});
  if (!r.idempotency_key().empty()) t.Add({"idempotency_key", r.idempotency_key()});
  t.Add({"created", FormatTimestamp(r.created_at())});
  t.Add({"updated", FormatTimestamp(r.updated_at())});
  t.Add({"run_at", FormatTimestamp(r.run_at())});
  t.Add({"started", FormatTimestamp(r.started_at())});
  t.Add({"finished", FormatTimestamp(r.finished_at())});
  if (r.has_deadline()) {
    t.Add({"deadline", FormatTimestamp(r.deadline()) + " (then " +
                           (r.deadline_action().empty() ? "fail" : r.deadline_action()) + ")"});
  }
  if (r.tags_size() > 0) {
    std::map<std::string, std::string> sorted(r.tags().begin(), r.tags().end());
    std::string tags;
    for (const auto& [k, v] : sorted) tags += (tags.empty() ? "" : " ") + k + "=" + v;
    t.Add({"tags", tags});
  }
  if (r.pruned()) {
    t.Add({"pruned", "yes: retention removed the record; this is its summary"});
    t.Print(out);
    return;
  }
  t.Add({"input", Compact(r.input(), 200)});
  t.Add({"state", Compact(r.state(), 200)});
  t.Add({"result", r.result().empty() ? "-" : Compact(r.result(), 200)});
  t.Add({"error", r.error().empty() ? "-" : r.error()});
  if (!r.parent_id().empty()) t.Add({"parent", r.parent_id()});
  if (!r.wait().empty()) t.Add({"wait", Compact(r.wait(), 200)});
  t.Print(out);
  if (r.children_size() > 0) {
    out << "\nchildren:\n";
    Table c({"ID", "TYPE", "STATUS"});
    for (const auto& ch : r.children()) {
      c.Add({ch.id(), ch.workflow_type(), client::StatusName(ch.status())});
    }
    c.Print(out);
  }
  if (r.history_size() > 0) {
    out << "\nhistory:\n";
    Table h({"POSITION", "TIME", "EVENT", "STEP", "ATTEMPT", "DATA"});
    for (const auto& e : r.history()) {
      h.Add({e.position() ? std::to_string(e.position()) : "-", FormatTimestamp(e.created_at()),
             e.kind(), e.step(), std::to_string(e.attempt()), Compact(e.data())});
    }
    h.Print(out);
  }
}

void PrintRunTable(const std::vector<const v1::Run*>& runs, std::ostream& out) {
  Table t({"ID", "TYPE", "STATUS", "STEP", "ATTEMPT", "QUEUE", "CREATED", "ERROR"});
  for (const auto* r : runs) {
    std::string status = client::StatusName(r->status());
    if (r->unserved()) status += " (unserved)";
    t.Add({r->id(), r->workflow_type(), status, r->step(), std::to_string(r->attempt()), r->queue(),
           FormatTimestamp(r->created_at()), r->error().empty() ? "" : r->error().substr(0, 60)});
  }
  t.Print(out);
}

}  // namespace cueball::cli

namespace cueball::cli {

void PrintEventLine(const v1::Event& e, std::ostream& out) {
  char pos[24];
  snprintf(pos, sizeof pos, "%10lld", static_cast<long long>(e.position()));
  out << pos << "  " << FormatTimestamp(e.created_at()) << "  " << e.run_id() << "  "
      << e.workflow_type() << "  " << e.kind();
  if (!e.step().empty()) out << "  " << e.step() << "#" << e.attempt();
  if (!e.data().empty() && e.data() != "{}") out << "  " << Compact(e.data(), 120);
  out << "\n";
}

}  // namespace cueball::cli
