// cueball types: lists the workflow types the daemon runs, with their steps
// and attempts.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Types final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    return app.add_subcommand("types", "list the workflow types the daemon runs");
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::ListWorkflowTypesResponse resp;
    auto s = c.ListWorkflowTypes(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"TYPE", "STEPS", "DESCRIPTION"});
    for (const auto& wt : resp.types()) {
      std::string steps;
      for (const auto& st : wt.steps()) {
        steps += (steps.empty() ? "" : " -> ") + st.name() + "(x" +
                 std::to_string(st.retry().max_attempts()) + ")";
      }
      t.Add({wt.name(), steps, wt.description()});
    }
    t.Print(std::cout);
    return 0;
  }
};

}  // namespace

std::unique_ptr<Command> TypesCommand() { return std::make_unique<Types>(); }

}  // namespace cueball::cli
