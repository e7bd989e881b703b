// Runs a command for an `exec` step: argv directly (execvp, no shell), in
// its own process group, with a small environment (PATH, HOME, LANG and TZ
// from the daemon, plus the step's env: never the daemon's secrets), a
// working directory, and stdout/stderr captured up to a cap. Stops the whole
// process group (SIGTERM, then SIGKILL after 2 s) when the step's token is
// cancelled (timeout, run canceled, shutdown).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/engine/cancel_token.h"

namespace cueball::workers {

struct ExecRequest {
  std::vector<std::string> argv;  // argv[0] is looked up on PATH
  std::map<std::string, std::string> env;
  std::string cwd;    // empty: the daemon's
  size_t max_output;  // bytes kept of stdout and of stderr each
};

struct ExecResult {
  bool started = false;  // false: fork/exec failed (see error)
  int exit_code = -1;    // when it exited
  int term_signal = 0;   // when a signal ended it
  bool stopped = false;  // the token was cancelled and the process killed
  std::string out, err;  // captured (truncated to max_output)
  bool out_truncated = false, err_truncated = false;
  std::string error;  // why it did not start
};

ExecResult RunCommand(const ExecRequest& req, const engine::CancelToken& cancel);

}  // namespace cueball::workers
