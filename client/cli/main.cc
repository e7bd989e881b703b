// cueball: the command-line client of cueballd. Each command is a file of
// commands/ (an options struct plus Run); this adds them all, parses, and
// runs the one given. Exit codes: commands/command.h.
#include <CLI/CLI.hpp>
#include <memory>
#include <stdexcept>

#include "client/cli/commands/command.h"

int main(int argc, char** argv) {
  using namespace cueball;  // NOLINT: a program's entry point
  CLI::App app{"cueball: enqueue, inspect, wait for and cancel workflow runs on a cueballd"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the command: `cueball get ID --json`
  cli::Globals g;
  g.connect.Add(app);
  app.add_flag("--json", g.json, "machine-readable JSON output");

  std::vector<std::unique_ptr<cli::Command>> commands = cli::AllCommands();
  std::vector<CLI::App*> subcommands;
  for (auto& c : commands) subcommands.push_back(c->Add(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : cli::kExitUsage;
  }

  std::unique_ptr<client::Client> client;
  try {
    client = std::make_unique<client::Client>(g.connect.Resolve());
  } catch (const std::invalid_argument& e) {
    return cli::Usage(e.what());
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if (subcommands[i]->parsed()) return commands[i]->Run(*client, g);
  }
  return cli::kExitUsage;
}
