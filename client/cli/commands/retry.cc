// cueball retry ID [--reason R]: re-enqueues a failed run from its failed step.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Retry final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("retry", "re-enqueue a failed run from its failed step");
    cmd->add_option("id", o_.id, "run id")->required();
    cmd->add_option("--reason", o_.reason, "why (recorded in the history)");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::RetryRequest req;
    req.set_id(o_.id);
    req.set_reason(o_.reason);
    v1::RetryResponse resp;
    auto s = c.Retry(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp.run()).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << " retrying from step " << resp.run().step() << "\n";
    }
    return 0;
  }

 private:
  struct Options {
    std::string id, reason;
  } o_;
};

}  // namespace

std::unique_ptr<Command> RetryCommand() { return std::make_unique<Retry>(); }

}  // namespace cueball::cli
