// cueball watch [--from N | --from-now | --subscription S [--new-from-now]]
//               [--type T] [--run ID] [--kind K,...] [--count N] [--no-follow]
// Follows the event stream: history from a position, then live (Ctrl-C
// stops). It reconnects by itself while the daemon is unavailable and
// resumes after the last position it received; with a subscription it
// acknowledges what it printed.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Watch final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "watch", "follow the event stream: history from a position, then live (Ctrl-C stops)");
    auto* from = cmd->add_option("--from", o_.from,
                                 "start after this position (0: the beginning, the default)");
    auto* now = cmd->add_flag("--from-now", o_.now, "only events from now on");
    auto* sub = cmd->add_option(
        "--subscription", o_.subscription,
        "durable subscription: resume after its acknowledged position and acknowledge what is "
        "printed");
    from->excludes(now)->excludes(sub);
    // -1 (the default) means "not given"; a negative position given was read
    // as 0 without a word.
    from->check([](const std::string& v) {
      return !v.empty() && v[0] == '-'
                 ? std::string("must be 0 or more (a position in the event log)")
                 : std::string();
    });
    now->excludes(sub);
    cmd->add_flag("--new-from-now", o_.new_from_now,
                  "a subscription that does not exist yet starts at the head, not the beginning")
        ->needs(sub);
    cmd->add_option("--type", o_.type, "only runs of this workflow type");
    cmd->add_option("--run", o_.run, "only this run");
    cmd->add_option("--kind", o_.kinds, "only these event kinds (repeat or comma-separate)")
        ->delimiter(',');
    cmd->add_option("--count", o_.count, "exit after this many events")
        ->check(CLI::Range(1, 1 << 30));
    cmd->add_flag("--no-follow", o_.no_follow, "exit once caught up with the head");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::WatchEventsRequest req;
    if (!o_.subscription.empty()) {
      req.set_subscription(o_.subscription);
      req.set_new_subscription_from_now(o_.new_from_now);
    } else if (o_.now) {
      req.set_from_now(true);
    } else {
      req.set_after_position(o_.from < 0 ? 0 : o_.from);
    }
    req.set_workflow_type(o_.type);
    req.set_run_id(o_.run);
    for (const auto& k : o_.kinds) req.add_kinds(k);
    client::EventWatcher watcher(&c, req);
    int64_t printed = 0;
    grpc::Status ack_error;
    auto s = watcher.Run([&](const v1::WatchEventsResponse& msg) {
      // Everything examined up to `through` counts as processed, unless
      // --count stops inside this batch: then up to the last event printed.
      int64_t upto = msg.through();
      for (const auto& e : msg.events()) {
        if (g.json) {
          std::cout << ToJson(e).dump() << "\n";
        } else {
          PrintEventLine(e, std::cout);
        }
        if (o_.count > 0 && ++printed >= o_.count) {
          upto = e.position();
          break;
        }
      }
      std::cout.flush();
      const bool done =
          (o_.count > 0 && printed >= o_.count) || (o_.no_follow && msg.through() >= msg.head());
      if (!o_.subscription.empty() && (msg.events_size() > 0 || done)) {
        v1::AckEventsRequest ack;
        ack.set_subscription(o_.subscription);
        ack.set_position(upto);
        v1::AckEventsResponse ack_resp;
        ack_error = c.AckEvents(ack, &ack_resp);
        if (!ack_error.ok()) return false;
      }
      return !done;
    });
    if (!ack_error.ok()) return Fail(ack_error);
    if (!s.ok()) return Fail(s);
    return 0;
  }

 private:
  struct Options {
    int64_t from = -1;
    bool now = false, new_from_now = false, no_follow = false;
    std::string subscription, type, run;
    std::vector<std::string> kinds;
    int64_t count = 0;
  } o_;
};

}  // namespace

std::unique_ptr<Command> WatchCommand() { return std::make_unique<Watch>(); }

}  // namespace cueball::cli
