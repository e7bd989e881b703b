// cueball get ID [--no-history]: shows a run and its history.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Get final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("get", "show a run and its history");
    cmd->add_option("id", o_.id, "run id")->required();
    cmd->add_flag("--no-history", o_.no_history, "omit the history");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::GetRequest req;
    req.set_id(o_.id);
    req.set_include_history(!o_.no_history);
    v1::GetResponse resp;
    auto s = c.Get(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp.run()).dump(2) << "\n";
    } else {
      PrintRunDetail(resp.run(), std::cout);
    }
    return 0;
  }

 private:
  struct Options {
    std::string id;
    bool no_history = false;
  } o_;
};

}  // namespace

std::unique_ptr<Command> GetCommand() { return std::make_unique<Get>(); }

}  // namespace cueball::cli
