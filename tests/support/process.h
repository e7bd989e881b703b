// Process: starts a real program (cueballd, the cueball CLI) for end-to-end
// tests, with its stdout and stderr captured to files. Signals go only to the
// pid this object started. The destructor kills and reaps it if still alive.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cueball::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;
  std::string err;
};

class Process {
 public:
  Process(std::vector<std::string> argv, std::map<std::string, std::string> env = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // Waits for exit; returns the exit code (or -signal), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  std::string Stdout() const;
  std::string Stderr() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string dir_, out_path_, err_path_;
};

// Runs a command to completion (killed after `timeout`).
CommandResult Run(std::vector<std::string> argv, std::map<std::string, std::string> env = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Output without its trailing newlines and spaces (a printed id, say).
std::string Trim(std::string s);

// Path of a built executable (cueballd, cueball), from CUEBALL_BUILD_DIR.
std::string BuiltBinary(const std::string& name);

}  // namespace cueball::testing
