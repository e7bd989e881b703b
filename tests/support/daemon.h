// Daemon: a real cueballd process for end-to-end tests, on a free port of
// 127.0.0.1 (it picks port 0 and the test reads the logged address), against
// the given test database. Cli() runs the real cueball CLI against it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/test_db.h"

namespace cueball::testing {

class Daemon {
 public:
  explicit Daemon(const TestDatabase& db, std::vector<std::string> extra = {},
                  std::map<std::string, std::string> env = {});
  // Against any database URL (e.g. a private PostgreSQL a test manages).
  Daemon(const std::string& database_url, std::vector<std::string> extra,
         std::map<std::string, std::string> env = {});
  Process& proc() { return *proc_; }
  const std::string& address() const { return address_; }
  // HOST:PORT of /metrics, /healthz and /readyz ("" when turned off).
  const std::string& metrics_address() const { return metrics_address_; }
  CommandResult Cli(std::vector<std::string> args);

 private:
  std::unique_ptr<Process> proc_;
  std::string address_;
  std::string metrics_address_;
};

}  // namespace cueball::testing
