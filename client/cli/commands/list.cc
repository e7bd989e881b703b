// cueball list [FILTER...] [--limit N] [--page-token T] [--all]: lists runs,
// newest first; the filter flags are filter_flags.h's.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/commands/filter_flags.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class List final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("list", "list runs, newest first");
    o_.filter.Add(cmd);
    cmd->add_option("--limit", o_.limit, "runs per page (1..1000)")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    cmd->add_option("--page-token", o_.page_token, "continue from a previous page");
    cmd->add_flag("--all", o_.all, "follow every page");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::ListRequest req;
    if (auto e = o_.filter.Fill(&req); !e.empty()) return Usage(e);
    req.set_page_size(o_.limit);
    req.set_page_token(o_.page_token);
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
    FilterFlags filter;
    std::string page_token;
    int limit = 50;
    bool all = false;
  } o_;
};

}  // namespace

std::unique_ptr<Command> ListCommand() { return std::make_unique<List>(); }

}  // namespace cueball::cli
