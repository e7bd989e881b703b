// cueball signal ID NAME [--payload JSON|@FILE|@-] [--key K]: sends a
// signal to a run (buffered until a step asks for it).
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Signal final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd =
        app.add_subcommand("signal", "send a signal to a run (buffered until a step asks for it)");
    cmd->add_option("id", o_.id, "run id")->required();
    cmd->add_option("name", o_.name, "signal name")->required();
    cmd->add_option("--payload", o_.payload,
                    "payload as JSON text, @FILE or @- for stdin (default null)");
    cmd->add_option("--key", o_.key, "idempotency key: a repeated signal with it changes nothing");
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    v1::SignalRequest req;
    req.set_run_id(o_.id);
    req.set_name(o_.name);
    std::string payload;
    if (!ReadInputArg(o_.payload, &payload)) return Usage("--payload: cannot read " + o_.payload);
    req.set_payload(payload);
    req.set_idempotency_key(o_.key);
    v1::SignalResponse resp;
    auto s = c.Signal(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
    } else if (resp.duplicate()) {
      std::cout << "signal " << o_.name << " #" << resp.seq() << " was already delivered to "
                << resp.run().id() << " (same key): nothing changed\n";
    } else {
      std::cout << "signal " << o_.name << " #" << resp.seq() << " delivered to " << resp.run().id()
                << (resp.resumed() ? "; the run was waiting for it and resumes"
                                   : "; buffered until a step asks for it")
                << "\n";
    }
    return 0;
  }

 private:
  struct Options {
    std::string id, name, payload, key;
  } o_;
};

}  // namespace

std::unique_ptr<Command> SignalCommand() { return std::make_unique<Signal>(); }

}  // namespace cueball::cli
