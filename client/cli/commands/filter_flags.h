// The run filter that `list`, `cancel` and `retry` share: the flags
// --status, --type, --queue, --created-after, --created-before, --tag K=V,
// --key, and the same as --filter FIELD=VALUE (repeatable; fields status,
// type, queue, created_after, created_before, key, tag.K).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"
#include "cueball/v1/workflows.pb.h"

namespace cueball::cli {

// "K=V" as a tag: false when there is no '=' or the key is empty.
bool ParseTag(const std::string& arg, std::string* key, std::string* value);

class FilterFlags {
 public:
  void Add(CLI::App* cmd);
  // Whether any filter flag was given.
  bool Given() const;
  // Fills the filter fields of a ListRequest or RunFilter; an error for
  // `Usage` (naming the flag), or "" when all is well.
  template <class Msg>
  std::string Fill(Msg* m) const {
    Parsed p;
    if (auto e = Parse(&p); !e.empty()) return e;
    for (auto st : p.statuses) m->add_statuses(st);
    m->set_workflow_type(p.type);
    m->set_queue(p.queue);
    m->set_idempotency_key(p.key);
    if (p.has_after) *m->mutable_created_after() = p.created_after;
    if (p.has_before) *m->mutable_created_before() = p.created_before;
    m->mutable_tags()->insert(p.tags.begin(), p.tags.end());
    return "";
  }

 private:
  struct Parsed {
    std::vector<v1::RunStatus> statuses;
    std::string type, queue, key;
    google::protobuf::Timestamp created_after, created_before;
    bool has_after = false, has_before = false;
    std::map<std::string, std::string> tags;
  };
  std::string Parse(Parsed* out) const;

  std::vector<std::string> statuses_, tags_, filters_;
  std::string type_, queue_, created_after_, created_before_, key_;
};

// The flags of a bulk action (`cancel` and `retry` without an id).
struct BulkFlags {
  FilterFlags filter;
  bool all = false, dry_run = false;
  void Add(CLI::App* cmd, const std::string& verb) {
    filter.Add(cmd);
    cmd->add_flag("--all", all, "with no filter: " + verb + " every run that can be");
    cmd->add_flag("--dry-run", dry_run, "only count the runs it would " + verb);
  }
};

// Sends a CancelRunsRequest or RetryRunsRequest built from the flags and
// prints how many runs it changed (`past`: "canceled", "retried").
template <class Req, class Resp>
int RunBulk(const BulkFlags& f, const std::string& reason, const char* past, bool json,
            const std::function<grpc::Status(const Req&, Resp*)>& call) {
  Req req;
  if (auto e = f.filter.Fill(req.mutable_filter()); !e.empty()) return Usage(e);
  req.set_all(f.all);
  req.set_dry_run(f.dry_run);
  req.set_reason(reason);
  Resp resp;
  auto s = call(req, &resp);
  if (!s.ok()) return Fail(s);
  if (json) {
    std::cout << ToJson(resp).dump(2) << "\n";
  } else if (resp.dry_run()) {
    std::cout << resp.count() << " runs would be " << past << " (dry run)\n";
  } else {
    std::cout << resp.count() << " runs " << past << "\n";
  }
  return 0;
}

}  // namespace cueball::cli
