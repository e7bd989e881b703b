// cueball queue list | pause QUEUE [--reason R] | resume QUEUE: the queues
// with their depth and paused state; pausing stops every daemon and worker
// from starting steps of the queue's runs (enqueue still accepts them).
#include <cstdio>
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Queue final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("queue", "list queues, or pause or resume one");
    cmd->require_subcommand(1);
    list_ = cmd->add_subcommand("list", "queues with depth, running, waiting and paused state");
    pause_ = cmd->add_subcommand("pause", "start nothing new from a queue (runs still enqueue)");
    pause_->add_option("queue", o_.queue, "queue name")->required();
    pause_->add_option("--reason", o_.reason, "why (shown by queue list)");
    resume_ = cmd->add_subcommand("resume", "resume a paused queue");
    resume_->add_option("queue", o_.queue, "queue name")->required();
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    if (pause_->parsed() || resume_->parsed()) {
      v1::Queue q;
      grpc::Status s;
      if (pause_->parsed()) {
        v1::PauseQueueRequest req;
        req.set_queue(o_.queue);
        req.set_reason(o_.reason);
        v1::PauseQueueResponse resp;
        s = c.PauseQueue(req, &resp);
        q = resp.queue();
      } else {
        v1::ResumeQueueRequest req;
        req.set_queue(o_.queue);
        v1::ResumeQueueResponse resp;
        s = c.ResumeQueue(req, &resp);
        q = resp.queue();
      }
      if (!s.ok()) return Fail(s);
      if (g.json) {
        std::cout << ToJson(q).dump(2) << "\n";
      } else {
        std::cout << q.name() << (q.paused() ? " paused" : " resumed") << " (" << q.ready()
                  << " ready, " << q.running() << " running)\n";
      }
      return 0;
    }
    v1::ListQueuesResponse resp;
    auto s = c.ListQueues(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"QUEUE", "PAUSED", "READY", "SCHEDULED", "RUNNING", "WAITING", "OLDEST READY", "NODES",
             "WORKERS", "REASON"});
    for (const auto& q : resp.queues()) {
      char age[32];
      std::snprintf(age, sizeof age, "%.1fs", q.oldest_ready_age_seconds());
      t.Add({q.name(), q.paused() ? "yes since " + FormatTimestamp(q.paused_at()) : "no",
             std::to_string(q.ready()), std::to_string(q.scheduled()), std::to_string(q.running()),
             std::to_string(q.waiting()), age, std::to_string(q.nodes()),
             std::to_string(q.workers()), q.pause_reason()});
    }
    t.Print(std::cout);
    return 0;
  }

 private:
  CLI::App* list_ = nullptr;
  CLI::App* pause_ = nullptr;
  CLI::App* resume_ = nullptr;
  struct Options {
    std::string queue, reason;
  } o_;
};

}  // namespace

std::unique_ptr<Command> QueueCommand() { return std::make_unique<Queue>(); }

}  // namespace cueball::cli
