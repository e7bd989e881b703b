// cueball cancel ID [--reason R]: cancels a run that has not finished.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Cancel final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("cancel", "cancel a run that has not finished");
    cmd->add_option("id", o_.id, "run id")->required();
    cmd->add_option("--reason", o_.reason, "why (recorded in the history)");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::CancelRequest req;
    req.set_id(o_.id);
    req.set_reason(o_.reason);
    v1::CancelResponse resp;
    auto s = c.Cancel(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp.run()).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << " canceled\n";
    }
    return 0;
  }

 private:
  struct Options {
    std::string id, reason;
  } o_;
};

}  // namespace

std::unique_ptr<Command> CancelCommand() { return std::make_unique<Cancel>(); }

}  // namespace cueball::cli
