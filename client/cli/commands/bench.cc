// cueball bench [SCENARIO...]: measures a running daemon (client/cli/bench.h
// holds the scenarios and their figures).
#include "client/cli/bench.h"

#include <iostream>

#include "client/cli/commands/command.h"

namespace cueball::cli {
namespace {

class Bench final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand(
        "bench", "measure a running daemon: throughput, latency, pipeline, wait, backlog");
    bench::AddBenchOptions(cmd, &o_);
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    o_.json = g.json;
    return bench::RunBench(c, o_, std::cout);
  }

 private:
  bench::BenchOptions o_;
};

}  // namespace

std::unique_ptr<Command> BenchCommand() { return std::make_unique<Bench>(); }

}  // namespace cueball::cli
