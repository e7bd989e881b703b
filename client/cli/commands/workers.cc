// cueball workers [--all]: lists the remote workers (cueball.v1.Workers)
// with what they serve, their slots, in-flight steps and last heartbeat.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"
#include "cueball/v1/workers.grpc.pb.h"

namespace cueball::cli {
namespace {

class Workers final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("workers", "list the remote workers and what they serve");
    cmd->add_flag("--all", all_,
                  "include stopped and silent workers (heard from in the last hour)");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    auto stub = v1::Workers::NewStub(c.channel());
    v1::ListWorkersResponse resp;
    auto s = c.Call(stub.get(), &v1::Workers::Stub::ListWorkers, v1::ListWorkersRequest(), &resp,
                    c.rpc_timeout());
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"ID", "ALIVE", "IDENTITY", "TYPES", "QUEUES", "SLOTS", "IN FLIGHT", "LAST HEARTBEAT",
             "REGISTERED"});
    for (const auto& w : resp.workers()) {
      if (!all_ && !w.alive()) continue;
      std::string queues, types;
      for (const auto& q : w.queues()) queues += (queues.empty() ? "" : ",") + q;
      for (const auto& ty : w.types()) types += (types.empty() ? "" : ",") + ty;
      t.Add({w.id(), w.alive() ? "yes" : "no", w.identity(), types, queues,
             std::to_string(w.slots()), std::to_string(w.in_flight()),
             FormatTimestamp(w.last_heartbeat_at()), FormatTimestamp(w.registered_at())});
    }
    t.Print(std::cout);
    return 0;
  }

 private:
  bool all_ = false;
};

}  // namespace

std::unique_ptr<Command> WorkersCommand() { return std::make_unique<Workers>(); }

}  // namespace cueball::cli
