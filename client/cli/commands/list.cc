// cueball list [--status S,...] [--type T] [--queue Q] [--limit N]
//              [--page-token T] [--all]: lists runs, newest first.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class List final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("list", "list runs, newest first");
    cmd->add_option("--status", o_.statuses, "enqueued|running|waiting|succeeded|failed|canceled")
        ->delimiter(',');
    cmd->add_option("--type", o_.type, "workflow type");
    cmd->add_option("--queue", o_.queue, "queue");
    cmd->add_option("--limit", o_.limit, "runs per page (1..1000)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_option("--page-token", o_.page_token, "continue from a previous page");
    cmd->add_flag("--all", o_.all, "follow every page");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::ListRequest req;
    req.set_workflow_type(o_.type);
    req.set_queue(o_.queue);
    req.set_page_size(o_.limit);
    req.set_page_token(o_.page_token);
    for (const auto& name : o_.statuses) {
      static const std::pair<const char*, v1::RunStatus> kNames[] = {
          {"enqueued", v1::RUN_STATUS_ENQUEUED}, {"running", v1::RUN_STATUS_RUNNING},
          {"waiting", v1::RUN_STATUS_WAITING},   {"succeeded", v1::RUN_STATUS_SUCCEEDED},
          {"failed", v1::RUN_STATUS_FAILED},     {"canceled", v1::RUN_STATUS_CANCELED}};
      bool found = false;
      for (const auto& [n, v] : kNames) {
        if (name == n) {
          req.add_statuses(v);
          found = true;
        }
      }
      if (!found) {
        return Usage("--status: '" + name +
                     "' is not one of enqueued, running, waiting, succeeded, failed, canceled");
      }
    }
    std::vector<v1::ListResponse> pages;
    while (true) {
      v1::ListResponse resp;
      auto s = c.List(req, &resp);
      if (!s.ok()) return Fail(s);
      pages.push_back(resp);
      if (!o_.all || resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    const std::string next = pages.back().next_page_token();
    if (g.json) {
      nlohmann::json out = {{"runs", nlohmann::json::array()}, {"next_page_token", next}};
      for (const auto& p : pages) {
        for (const auto& r : p.runs()) out["runs"].push_back(ToJson(r));
      }
      std::cout << out.dump(2) << "\n";
    } else {
      std::vector<const v1::Run*> runs;
      for (const auto& p : pages) {
        for (const auto& r : p.runs()) runs.push_back(&r);
      }
      PrintRunTable(runs, std::cout);
      if (!next.empty()) std::cerr << "more: --page-token " << next << "\n";
    }
    return 0;
  }

 private:
  struct Options {
    std::vector<std::string> statuses;
    std::string type, queue, page_token;
    int limit = 50;
    bool all = false;
  } o_;
};

}  // namespace

std::unique_ptr<Command> ListCommand() { return std::make_unique<List>(); }

}  // namespace cueball::cli
