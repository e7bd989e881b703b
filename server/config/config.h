// Config: every cueballd setting in one validated struct. Each setting comes
// from a flag, else its CUEBALL_* environment variable, else the config file
// (--config / CUEBALL_CONFIG, `key = value` lines), else its default. An
// invalid value stops start-up with one line naming the flag (or the file
// and line).
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
  int64_t max_blob_bytes = 16 << 20;  // largest blob a step may save
  std::string workflows_dir;          // workflow files (JSON/YAML) to load; empty: none
  Millis poll_interval{1000};
  Millis lease{30000};
  Millis drain_timeout{10000};
  Millis rescue_interval{5000};
  Millis statement_timeout{30000};
  Millis db_connect_timeout{60000};  // start-up: keep retrying an unreachable database this long
  Millis node_heartbeat{5000};
  size_t max_waiters = 10000;
  int max_watchers = 256;  // concurrent WatchEvents streams
  // Retention of finished runs by final status; nullopt keeps them forever.
  std::optional<Millis> retain_succeeded;
  std::optional<Millis> retain_failed;
  std::optional<Millis> retain_canceled;
  bool retention_summaries = true;
  Millis retention_interval{60000};
  // Vacuum the runs' table soon after bursts, at this many dead row versions
  // (and a twentieth of the live ones); 0: leave it to autovacuum.
  int64_t vacuum_dead_rows = 20000;
  int64_t max_queued = 0;       // 0: no limit
  double max_request_rate = 0;  // RPCs per second; 0: no limit
  std::string log_level = "info";
  std::string log_format = "text";  // text | json
  std::string node_id;              // default: host-pid-random
  // Migrations: applied at start-up, or (false) left to `cueballd migrate`;
  // the daemon then reports NOT_SERVING until the schema is current.
  bool auto_migrate = true;
  // HTTP listener for /metrics, /healthz and /readyz; empty: none.
  std::string metrics_listen = "127.0.0.1:7421";
  Millis health_interval{2000};
  // TLS for the gRPC listener; with a client CA, clients must present a
  // certificate it signed (mutual TLS).
  std::string tls_cert, tls_key, tls_client_ca;
  // Bearer tokens accepted on every call except health; empty: no auth.
  std::vector<std::string> auth_tokens;
  std::string auth_tokens_file;        // one token per line, re-read when it changes
  bool allow_insecure_remote = false;  // plaintext on a non-loopback address
  std::string config_file;

  enum class Mode { kServe, kMigrate, kPrintConfig };
  Mode mode = Mode::kServe;
  // The effective settings as `key = value` lines (the config file format),
  // with where each came from and secrets masked. Filled by Parse.
  std::string effective;
};

enum class ParseOutcome { kRun, kExitOk, kExitError };

// Parses argv and the environment into `out`. On kExitOk/kExitError the
// caller exits with 0/2 (help was printed, or the error line was).
ParseOutcome Parse(int argc, char** argv, Config* out);

// True when HOST:PORT names a loopback host (127.x, ::1, localhost).
bool IsLoopback(const std::string& listen);

}  // namespace cueball::config
