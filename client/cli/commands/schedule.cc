// cueball schedule create NAME --cron EXPR [--tz ZONE] --type T [--input JSON]
//                         [--queue Q] [--priority N] [--tag K=V ...]
//                         [--catch-up one|skip]
// cueball schedule list | pause NAME | resume NAME | delete NAME
// Cron schedules: each tick enqueues exactly one run, whatever the number
// of daemons.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/commands/filter_flags.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Schedule final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd =
        app.add_subcommand("schedule", "create, list, pause, resume or delete cron schedules");
    cmd->require_subcommand(1);
    create_ = cmd->add_subcommand("create", "create a schedule: each tick enqueues one run");
    create_->add_option("name", o_.name, "schedule name")->required();
    create_
        ->add_option("--cron", o_.cron,
                     "minute hour day-of-month month day-of-week (e.g. \"*/5 * * * *\"), "
                     "or @hourly, @daily, @weekly, @monthly, @yearly")
        ->required();
    create_->add_option("--tz", o_.tz, "IANA time zone the expression is read in (default UTC)");
    create_->add_option("--type", o_.type, "workflow type each tick enqueues")->required();
    create_->add_option("--input", o_.input, "input as JSON text, @FILE or @- (default {})");
    create_->add_option("--queue", o_.queue, "queue (default \"default\")");
    create_->add_option("--priority", o_.priority, "-1000..1000, lower runs first");
    create_->add_option("--tag", o_.tags, "K=V: a tag on each run (repeatable)");
    create_->add_option("--catch-up", o_.catch_up,
                        "ticks missed while no daemon ran: one (enqueue one run on return, "
                        "the default) or skip");
    list_ = cmd->add_subcommand("list", "schedules with their next tick");
    pause_ = cmd->add_subcommand("pause", "fire nothing until resumed");
    pause_->add_option("name", o_.name, "schedule name")->required();
    resume_ = cmd->add_subcommand("resume", "go on from the next tick");
    resume_->add_option("name", o_.name, "schedule name")->required();
    delete_ = cmd->add_subcommand("delete", "delete a schedule (its runs stay)");
    delete_->add_option("name", o_.name, "schedule name")->required();
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::Schedule s;
    grpc::Status st;
    if (create_->parsed()) {
      v1::Schedule want;
      want.set_name(o_.name);
      want.set_cron(o_.cron);
      want.set_timezone(o_.tz);
      want.set_workflow_type(o_.type);
      std::string input;
      if (!ReadInputArg(o_.input, &input))
        return Usage("--input: cannot read " + o_.input.substr(1));
      want.set_input(input);
      want.set_queue(o_.queue);
      want.set_priority(o_.priority);
      want.set_catch_up(o_.catch_up);
      for (const auto& t : o_.tags) {
        std::string k, v;
        if (!ParseTag(t, &k, &v)) return Usage("--tag: '" + t + "' is not KEY=VALUE");
        (*want.mutable_tags())[k] = v;
      }
      st = c.CreateSchedule(want, &s);
    } else if (pause_->parsed()) {
      st = c.PauseSchedule(o_.name, &s);
    } else if (resume_->parsed()) {
      st = c.ResumeSchedule(o_.name, &s);
    } else if (delete_->parsed()) {
      st = c.DeleteSchedule(o_.name);
      if (!st.ok()) return Fail(st);
      if (!g.json) std::cout << o_.name << " deleted\n";
      return 0;
    } else {
      v1::ListSchedulesResponse resp;
      st = c.ListSchedules(&resp);
      if (!st.ok()) return Fail(st);
      if (g.json) {
        std::cout << ToJson(resp).dump(2) << "\n";
        return 0;
      }
      Table t({"NAME", "CRON", "TIMEZONE", "TYPE", "QUEUE", "PAUSED", "NEXT", "LAST TICK",
               "LAST RUN", "CATCH UP"});
      for (const auto& x : resp.schedules()) {
        t.Add({x.name(), x.cron(), x.timezone(), x.workflow_type(), x.queue(),
               x.paused() ? "yes" : "no", x.paused() ? "-" : FormatTimestamp(x.next_at()),
               FormatTimestamp(x.last_tick_at()), x.last_run_id().empty() ? "-" : x.last_run_id(),
               x.catch_up()});
      }
      t.Print(std::cout);
      return 0;
    }
    if (!st.ok()) return Fail(st);
    if (g.json) {
      std::cout << ToJson(s).dump(2) << "\n";
    } else if (s.paused()) {
      std::cout << s.name() << " paused\n";
    } else {
      std::cout << s.name() << " next at " << FormatTimestamp(s.next_at()) << " (" << s.cron()
                << " in " << s.timezone() << ")\n";
    }
    return 0;
  }

 private:
  CLI::App *create_ = nullptr, *list_ = nullptr, *pause_ = nullptr, *resume_ = nullptr,
           *delete_ = nullptr;
  struct Options {
    std::string name, cron, tz, type, input, queue, catch_up;
    int priority = 0;
    std::vector<std::string> tags;
  } o_;
};

}  // namespace

std::unique_ptr<Command> ScheduleCommand() { return std::make_unique<Schedule>(); }

}  // namespace cueball::cli
