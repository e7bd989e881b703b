// Config: every cueballd setting in one validated struct. Parsed from flags,
// then CUEBALL_* environment variables (flags win); an invalid value stops
// start-up with one line naming the flag.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"

namespace cueball::config {

struct Config {
  std::string database_url;
  std::string listen = "127.0.0.1:7420";
  int workers = 32;
  std::vector<std::string> queues{"default"};
  int db_pool_size = 16;
  size_t max_payload_bytes = 1 << 20;
  Millis poll_interval{1000};
  Millis lease{30000};
  Millis drain_timeout{10000};
  Millis rescue_interval{5000};
  Millis statement_timeout{30000};
  Millis node_heartbeat{5000};
  size_t max_waiters = 10000;
  int max_watchers = 256;  // concurrent WatchEvents streams
  // Retention of finished runs by final status; nullopt keeps them forever.
  std::optional<Millis> retain_succeeded;
  std::optional<Millis> retain_failed;
  std::optional<Millis> retain_canceled;
  bool retention_summaries = true;
  Millis retention_interval{60000};
  int64_t max_queued = 0;       // 0: no limit
  double max_request_rate = 0;  // RPCs per second; 0: no limit
  std::string log_level = "info";
  std::string node_id;        // default: host-pid-random
  bool migrate_only = false;  // `cueballd migrate`
};

enum class ParseOutcome { kRun, kExitOk, kExitError };

// Parses argv and the environment into `out`. On kExitOk/kExitError the
// caller exits with 0/2 (help was printed, or the error line was).
ParseOutcome Parse(int argc, char** argv, Config* out);

}  // namespace cueball::config
