#include "client/cli/commands/filter_flags.h"

#include <google/protobuf/util/time_util.h>

namespace cueball::cli {
namespace {

using google::protobuf::util::TimeUtil;

std::string AddStatus(const std::string& name, const std::string& flag,
                      std::vector<v1::RunStatus>* out) {
  static const std::pair<const char*, v1::RunStatus> kNames[] = {
      {"enqueued", v1::RUN_STATUS_ENQUEUED}, {"running", v1::RUN_STATUS_RUNNING},
      {"waiting", v1::RUN_STATUS_WAITING},   {"succeeded", v1::RUN_STATUS_SUCCEEDED},
      {"failed", v1::RUN_STATUS_FAILED},     {"canceled", v1::RUN_STATUS_CANCELED}};
  for (const auto& [n, v] : kNames) {
    if (name == n) {
      out->push_back(v);
      return "";
    }
  }
  return flag + ": '" + name +
         "' is not one of enqueued, running, waiting, succeeded, failed, canceled";
}

std::string SetTime(const std::string& text, const std::string& flag,
                    google::protobuf::Timestamp* out, bool* has) {
  if (!TimeUtil::FromString(text, out)) {
    return flag + ": '" + text + "' is not an RFC 3339 time (e.g. 2026-12-06T10:00:00Z)";
  }
  *has = true;
  return "";
}

}  // namespace

bool ParseTag(const std::string& arg, std::string* key, std::string* value) {
  auto eq = arg.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *key = arg.substr(0, eq);
  *value = arg.substr(eq + 1);
  return true;
}

void FilterFlags::Add(CLI::App* cmd) {
  cmd->add_option("--status", statuses_, "enqueued|running|waiting|succeeded|failed|canceled")
      ->delimiter(',');
  cmd->add_option("--type", type_, "workflow type");
  cmd->add_option("--queue", queue_, "queue");
  cmd->add_option("--created-after", created_after_, "created after this RFC 3339 time");
  cmd->add_option("--created-before", created_before_, "created before this RFC 3339 time");
  cmd->add_option("--tag", tags_, "K=V: runs with this tag (repeatable)");
  cmd->add_option("--key", key_, "the run with this idempotency key");
  cmd->add_option("--filter", filters_,
                  "FIELD=VALUE, repeatable: status, type, queue, created_after, created_before, "
                  "key, tag.K");
}

bool FilterFlags::Given() const {
  return !statuses_.empty() || !type_.empty() || !queue_.empty() || !created_after_.empty() ||
         !created_before_.empty() || !tags_.empty() || !key_.empty() || !filters_.empty();
}

std::string FilterFlags::Parse(Parsed* p) const {
  for (const auto& s : statuses_) {
    if (auto e = AddStatus(s, "--status", &p->statuses); !e.empty()) return e;
  }
  p->type = type_;
  p->queue = queue_;
  p->key = key_;
  if (!created_after_.empty()) {
    if (auto e = SetTime(created_after_, "--created-after", &p->created_after, &p->has_after);
        !e.empty())
      return e;
  }
  if (!created_before_.empty()) {
    if (auto e = SetTime(created_before_, "--created-before", &p->created_before, &p->has_before);
        !e.empty())
      return e;
  }
  for (const auto& t : tags_) {
    std::string k, v;
    if (!ParseTag(t, &k, &v)) return "--tag: '" + t + "' is not KEY=VALUE";
    p->tags[k] = v;
  }
  for (const auto& f : filters_) {
    std::string field, value;
    if (!ParseTag(f, &field, &value)) return "--filter: '" + f + "' is not FIELD=VALUE";
    const std::string flag = "--filter " + field;
    if (field == "status") {
      std::stringstream ss(value);
      std::string one;
      while (std::getline(ss, one, ',')) {
        if (auto e = AddStatus(one, flag, &p->statuses); !e.empty()) return e;
      }
    } else if (field == "type") {
      p->type = value;
    } else if (field == "queue") {
      p->queue = value;
    } else if (field == "key") {
      p->key = value;
    } else if (field == "created_after") {
      if (auto e = SetTime(value, flag, &p->created_after, &p->has_after); !e.empty()) return e;
    } else if (field == "created_before") {
      if (auto e = SetTime(value, flag, &p->created_before, &p->has_before); !e.empty()) return e;
    } else if (field.rfind("tag.", 0) == 0 && field.size() > 4) {
      p->tags[field.substr(4)] = value;
    } else {
      return "--filter: '" + field +
             "' is not one of status, type, queue, created_after, created_before, key, tag.K";
    }
  }
  return "";
}

}  // namespace cueball::cli
