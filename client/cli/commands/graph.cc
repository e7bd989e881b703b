// cueball graph TYPE [--run ID]: prints a workflow type as Graphviz DOT,
// colouring the path a run took (client/cli/graph.h writes the DOT).
#include "client/cli/graph.h"

#include <iostream>
#include <optional>

#include "client/cli/commands/command.h"

namespace cueball::cli {
namespace {

class Graph final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "graph", "print a workflow type as Graphviz DOT (--run ID colours the path a run took)");
    cmd->add_option("type", o_.type, "workflow type")->required();
    cmd->add_option("--run", o_.run, "colour the path this run took");
    return cmd;
  }

  int Run(client::Client& c, const Globals&) override {
    v1::ListWorkflowTypesResponse resp;
    auto s = c.ListWorkflowTypes(&resp);
    if (!s.ok()) return Fail(s);
    const v1::WorkflowType* found = nullptr;
    std::string known;
    for (const auto& t : resp.types()) {
      if (t.name() == o_.type) found = &t;
      known += (known.empty() ? "" : ", ") + t.name();
    }
    if (!found) {
      std::cerr << "cueball: NOT_FOUND: type: no workflow type named '" << o_.type
                << "' (known: " << known << ")\n";
      return kExitError;
    }
    std::optional<v1::Run> run;
    if (!o_.run.empty()) {
      v1::GetRequest req;
      req.set_id(o_.run);
      req.set_include_history(true);
      v1::GetResponse got;
      auto gs = c.Get(req, &got);
      if (!gs.ok()) return Fail(gs);
      if (got.run().workflow_type() != o_.type) {
        return Usage("--run: run " + o_.run + " is of type '" + got.run().workflow_type() +
                     "', not '" + o_.type + "'");
      }
      run = got.run();
    }
    WriteGraph(*found, run ? &*run : nullptr, std::cout);
    return 0;
  }

 private:
  struct Options {
    std::string type, run;
  } o_;
};

}  // namespace

std::unique_ptr<Command> GraphCommand() { return std::make_unique<Graph>(); }

}  // namespace cueball::cli
