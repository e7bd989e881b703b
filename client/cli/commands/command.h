// The `cueball` CLI's commands: one file per command, each an options
// struct filled by its flags plus Run (as River's CLI is laid out). main.cc
// adds them all to the app, parses, and runs the one given.
//
// Exit codes: 0 success; 1 the call failed (the server's message is
// printed); 2 usage error; for `wait`: 3 every run finished but not all
// succeeded, 4 the timeout passed first.
#pragma once

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "client/cli/connect_flags.h"
#include "client/client.h"

namespace cueball::cli {

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotSucceeded = 3;
constexpr int kExitTimeout = 4;

// Flags every command takes.
struct Globals {
  client::ConnectFlags connect;
  bool json = false;  // machine-readable JSON output
};

class Command {
 public:
  virtual ~Command() = default;
  // Adds the command (and its flags) to `app`; returns its subcommand.
  virtual CLI::App* Add(CLI::App& app) = 0;
  // Runs it, once parsed; returns the exit code.
  virtual int Run(client::Client& client, const Globals& globals) = 0;
};

// Every command, in the order `cueball --help` lists them.
std::vector<std::unique_ptr<Command>> AllCommands();

// Prints "cueball: CODE: message" for a failed call; returns kExitError.
int Fail(const grpc::Status& s);
// Prints "cueball: msg"; returns kExitUsage.
int Usage(const std::string& msg);
// "@path" reads the file, "@-" reads stdin; anything else is the text
// itself. False when the file cannot be read.
bool ReadInputArg(const std::string& arg, std::string* out);

std::unique_ptr<Command> EnqueueCommand();
std::unique_ptr<Command> GetCommand();
std::unique_ptr<Command> WaitCommand();
std::unique_ptr<Command> ListCommand();
std::unique_ptr<Command> CancelCommand();
std::unique_ptr<Command> RetryCommand();
std::unique_ptr<Command> QueueCommand();
std::unique_ptr<Command> ScheduleCommand();
std::unique_ptr<Command> SignalCommand();
std::unique_ptr<Command> BlobCommand();
std::unique_ptr<Command> GraphCommand();
std::unique_ptr<Command> TypesCommand();
std::unique_ptr<Command> NodesCommand();
std::unique_ptr<Command> WorkersCommand();
std::unique_ptr<Command> WatchCommand();
std::unique_ptr<Command> SubscriptionsCommand();
std::unique_ptr<Command> BenchCommand();

}  // namespace cueball::cli
