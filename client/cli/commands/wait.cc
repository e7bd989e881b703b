// cueball wait ID... [--timeout D] [--any]: waits until the runs finish.
// Exit 0 when they succeeded (with --any: one of them), 3 when they finished
// otherwise, 4 when the timeout passed first.
#include <google/protobuf/util/time_util.h>

#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"
#include "server/domain/duration.h"

namespace cueball::cli {
namespace {

using google::protobuf::util::TimeUtil;

class Wait final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("wait", "wait until runs finish");
    cmd->add_option("ids", o_.ids, "run ids")->required();
    cmd->add_option("--timeout", o_.timeout, "give up after this long (e.g. 30s)")
        ->capture_default_str();
    cmd->add_flag("--any", o_.any, "return when any one run finishes");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    auto d = ParseDuration(o_.timeout);
    if (!d) return Usage("--timeout: '" + o_.timeout + "' is not a duration (e.g. 30s)");
    v1::WaitRequest req;
    for (const auto& id : o_.ids) req.add_ids(id);
    req.set_mode(o_.any ? v1::WAIT_MODE_ANY : v1::WAIT_MODE_ALL);
    *req.mutable_timeout() = TimeUtil::MillisecondsToDuration(d->count());
    v1::WaitResponse resp;
    auto s = c.Wait(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
    } else {
      std::vector<const v1::Run*> runs;
      for (const auto& r : resp.runs()) runs.push_back(&r);
      PrintRunTable(runs, std::cout);
    }
    if (!resp.satisfied()) {
      std::cerr << "cueball: timed out after " << o_.timeout << "\n";
      return kExitTimeout;
    }
    bool ok = !o_.any;
    for (const auto& r : resp.runs()) {
      const bool finished = r.status() == v1::RUN_STATUS_SUCCEEDED ||
                            r.status() == v1::RUN_STATUS_FAILED ||
                            r.status() == v1::RUN_STATUS_CANCELED;
      const bool succeeded = r.status() == v1::RUN_STATUS_SUCCEEDED;
      if (o_.any && finished && succeeded) ok = true;
      if (!o_.any && !succeeded) ok = false;
    }
    return ok ? 0 : kExitNotSucceeded;
  }

 private:
  struct Options {
    std::vector<std::string> ids;
    std::string timeout = "60s";
    bool any = false;
  } o_;
};

}  // namespace

std::unique_ptr<Command> WaitCommand() { return std::make_unique<Wait>(); }

}  // namespace cueball::cli
