// cueball subscriptions [ack NAME POSITION | delete NAME]: lists durable
// subscriptions with their lag, acknowledges one, or deletes one.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Subscriptions final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd =
        app.add_subcommand("subscriptions", "list, acknowledge or delete durable subscriptions");
    ack_ = cmd->add_subcommand("ack", "acknowledge events up to a position");
    ack_->add_option("name", o_.name, "subscription name")->required();
    ack_->add_option("position", o_.position, "position processed")->required();
    delete_ = cmd->add_subcommand("delete", "delete a subscription (releases retention)");
    delete_->add_option("name", o_.name, "subscription name")->required();
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    if (ack_->parsed()) {
      v1::AckEventsRequest req;
      req.set_subscription(o_.name);
      req.set_position(o_.position);
      v1::AckEventsResponse resp;
      auto s = c.AckEvents(req, &resp);
      if (!s.ok()) return Fail(s);
      if (g.json) {
        std::cout << ToJson(resp.subscription()).dump(2) << "\n";
      } else {
        std::cout << resp.subscription().name() << " at position " << resp.subscription().position()
                  << "\n";
      }
      return 0;
    }
    if (delete_->parsed()) {
      auto s = c.DeleteSubscription(o_.name);
      if (!s.ok()) return Fail(s);
      if (!g.json) std::cout << o_.name << " deleted\n";
      return 0;
    }
    v1::ListSubscriptionsResponse resp;
    auto s = c.ListSubscriptions(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"NAME", "POSITION", "LAG", "CREATED", "ACKED"});
    for (const auto& sub : resp.subscriptions()) {
      t.Add({sub.name(), std::to_string(sub.position()), std::to_string(sub.lag()),
             FormatTimestamp(sub.created_at()), FormatTimestamp(sub.acked_at())});
    }
    t.Print(std::cout);
    std::cout << "head " << resp.head() << "\n";
    return 0;
  }

 private:
  struct Options {
    std::string name;
    int64_t position = 0;
  } o_;
  CLI::App* ack_ = nullptr;
  CLI::App* delete_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> SubscriptionsCommand() { return std::make_unique<Subscriptions>(); }

}  // namespace cueball::cli
