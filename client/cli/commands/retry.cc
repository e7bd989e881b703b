// cueball retry ID [--reason R]: re-enqueues a failed run from its failed step.
// cueball retry FILTER... | --all [--dry-run] [--reason R]: retries every
// failed run the filter matches (filter_flags.h), in batches.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/commands/filter_flags.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Retry final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "retry", "re-enqueue a failed run from its failed step, or every one a filter matches");
    cmd->add_option("id", o_.id, "run id (or give a filter, or --all)");
    cmd->add_option("--reason", o_.reason, "why (recorded in the history)");
    o_.bulk.Add(cmd, "retry");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    const bool bulk = o_.bulk.filter.Given() || o_.bulk.all || o_.bulk.dry_run;
    if (!o_.id.empty() && bulk) return Usage("give a run id or a filter, not both");
    if (bulk) {
      return RunBulk<v1::RetryRunsRequest, v1::RetryRunsResponse>(
          o_.bulk, o_.reason, "retried", g.json,
          [&](const auto& req, auto* resp) { return c.RetryRuns(req, resp); });
    }
    if (o_.id.empty()) return Usage("give a run id, a filter (--filter, --type, ...) or --all");
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
    BulkFlags bulk;
  } o_;
};

}  // namespace

std::unique_ptr<Command> RetryCommand() { return std::make_unique<Retry>(); }

}  // namespace cueball::cli
