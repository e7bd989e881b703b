// cueball enqueue TYPE [--input JSON|@FILE|@-] [--queue Q] [--priority N]
//                      [--delay D | --run-at TIME] [--key K] [--tag K=V ...]
//                      [--deadline TIME | --timeout D] [--on-deadline fail|cancel]
// Enqueues a run and prints its id.
#include <google/protobuf/util/time_util.h>

#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/commands/filter_flags.h"
#include "client/cli/output.h"
#include "server/domain/duration.h"

namespace cueball::cli {
namespace {

using google::protobuf::util::TimeUtil;

class Enqueue final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("enqueue", "enqueue a run; prints its id");
    cmd->add_option("type", o_.type, "workflow type")->required();
    cmd->add_option("--input", o_.input, "input as JSON text, @FILE or @- for stdin (default {})");
    cmd->add_option("--queue", o_.queue, "queue (default \"default\")");
    cmd->add_option("--priority", o_.priority, "-1000..1000, lower runs first");
    cmd->add_option("--delay", o_.delay, "start no sooner than this from now (e.g. 30s)");
    cmd->add_option("--run-at", o_.run_at, "start no sooner than this RFC 3339 time");
    cmd->add_option("--key", o_.key, "idempotency key: the same key always returns the same run");
    cmd->add_option("--tag", o_.tags, "K=V: a tag to find the run by (repeatable)");
    cmd->add_option("--deadline", o_.deadline, "the whole run must finish by this RFC 3339 time");
    cmd->add_option("--timeout", o_.timeout,
                    "or: the whole run must finish within this (e.g. 10m)");
    cmd->add_option("--on-deadline", o_.on_deadline, "past the deadline: fail (default) or cancel");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::EnqueueRequest req;
    req.set_workflow_type(o_.type);
    std::string input;
    if (!ReadInputArg(o_.input, &input)) return Usage("--input: cannot read " + o_.input.substr(1));
    req.set_input(input);
    req.set_queue(o_.queue);
    req.set_priority(o_.priority);
    req.set_idempotency_key(o_.key);
    for (const auto& t : o_.tags) {
      std::string k, v;
      if (!ParseTag(t, &k, &v)) return Usage("--tag: '" + t + "' is not KEY=VALUE");
      (*req.mutable_tags())[k] = v;
    }
    if (!o_.delay.empty()) {
      auto d = ParseDuration(o_.delay);
      if (!d) return Usage("--delay: '" + o_.delay + "' is not a duration (e.g. 500ms, 30s, 5m)");
      *req.mutable_delay() = TimeUtil::MillisecondsToDuration(d->count());
    }
    if (!o_.run_at.empty() && !TimeUtil::FromString(o_.run_at, req.mutable_run_at())) {
      return Usage("--run-at: '" + o_.run_at + "' is not an RFC 3339 time");
    }
    if (!o_.deadline.empty() && !TimeUtil::FromString(o_.deadline, req.mutable_deadline())) {
      return Usage("--deadline: '" + o_.deadline + "' is not an RFC 3339 time");
    }
    if (!o_.timeout.empty()) {
      auto d = ParseDuration(o_.timeout);
      if (!d) return Usage("--timeout: '" + o_.timeout + "' is not a duration (e.g. 30s, 10m)");
      *req.mutable_timeout() = TimeUtil::MillisecondsToDuration(d->count());
    }
    req.set_deadline_action(o_.on_deadline);
    v1::EnqueueResponse resp;
    auto s = c.Enqueue(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << "\n";
      if (!resp.created()) std::cerr << "cueball: idempotency key matched an existing run\n";
    }
    return 0;
  }

 private:
  struct Options {
    std::string type, input, queue, key, delay, run_at, deadline, timeout, on_deadline;
    std::vector<std::string> tags;
    int priority = 0;
  } o_;
};

}  // namespace

std::unique_ptr<Command> EnqueueCommand() { return std::make_unique<Enqueue>(); }

}  // namespace cueball::cli
