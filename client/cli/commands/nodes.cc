// cueball nodes [--all]: lists the daemons sharing the database.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Nodes final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("nodes", "list the daemons sharing the database");
    cmd->add_flag("--all", all_, "include stopped and silent daemons (seen in the last hour)");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::ListNodesResponse resp;
    auto s = c.ListNodes(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"ID", "ALIVE", "HOST", "PID", "LISTEN", "WORKERS", "QUEUES", "VERSION", "STARTED",
             "LAST SEEN"});
    for (const auto& n : resp.nodes()) {
      if (!all_ && !n.alive()) continue;
      std::string queues;
      for (const auto& q : n.queues()) queues += (queues.empty() ? "" : ",") + q;
      t.Add({n.id(), n.alive() ? "yes" : "no", n.host(), std::to_string(n.pid()), n.listen(),
             std::to_string(n.workers()), queues, n.version(), FormatTimestamp(n.started_at()),
             FormatTimestamp(n.last_seen_at())});
    }
    t.Print(std::cout);
    return 0;
  }

 private:
  bool all_ = false;
};

}  // namespace

std::unique_ptr<Command> NodesCommand() { return std::make_unique<Nodes>(); }

}  // namespace cueball::cli
