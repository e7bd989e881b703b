#include "server/config/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <random>
#include <tuple>

#include "server/domain/duration.h"
#include "server/domain/version.h"

namespace cueball::config {
namespace {

// CLI11 validator for durations such as 500ms, 10s, 5m.
struct DurationValidator : public CLI::Validator {
  DurationValidator() {
    name_ = "DURATION";
    func_ = [](const std::string& s) -> std::string {
      return ParseDuration(s) ? "" : "'" + s + "' is not a duration (e.g. 500ms, 10s, 5m)";
    };
  }
};

std::string DefaultNodeId() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::mt19937 rng(std::random_device{}());
  char suffix[8];
  snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(rng() & 0xffff));
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + suffix;
}

}  // namespace

ParseOutcome Parse(int argc, char** argv, Config* out) {
  CLI::App app{"cueballd: the cueball workflow daemon"};
  app.set_version_flag("--version", std::string("cueballd ") + kVersion);
  Config& c = *out;
  std::string poll = "1s", lease = "30s", drain = "10s", rescue = "5s", stmt = "30s",
              node_hb = "5s", retention_interval = "1m";
  std::string retain_succeeded, retain_failed, retain_canceled;
  const DurationValidator duration;

  app.add_option("--database-url", c.database_url, "PostgreSQL connection URL (required)")
      ->envname("CUEBALL_DATABASE_URL");
  app.add_option("--listen", c.listen, "gRPC listen address HOST:PORT (port 0 picks one)")
      ->envname("CUEBALL_LISTEN")
      ->capture_default_str();
  app.add_option("--workers", c.workers, "concurrent steps this daemon runs")
      ->envname("CUEBALL_WORKERS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--queues", c.queues, "queues this daemon claims from (comma-separated)")
      ->envname("CUEBALL_QUEUES")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--db-pool-size", c.db_pool_size, "database connections for requests and claims")
      ->envname("CUEBALL_DB_POOL_SIZE")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  app.add_option("--max-payload-bytes", c.max_payload_bytes, "largest accepted run input, bytes")
      ->envname("CUEBALL_MAX_PAYLOAD_BYTES")
      ->check(CLI::Range(size_t{16}, size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--poll-interval", poll, "fallback poll when no NOTIFY arrives")
      ->envname("CUEBALL_POLL_INTERVAL")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--lease", lease,
                 "how long a claimed step is held without a heartbeat (renewed every lease/3)")
      ->envname("CUEBALL_LEASE")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--drain-timeout", drain, "on SIGTERM, how long in-flight steps may finish")
      ->envname("CUEBALL_DRAIN_TIMEOUT")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--rescue-interval", rescue, "how often to look for expired leases")
      ->envname("CUEBALL_RESCUE_INTERVAL")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--statement-timeout", stmt, "longest a database statement may run")
      ->envname("CUEBALL_STATEMENT_TIMEOUT")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--node-heartbeat", node_hb,
                 "how often this daemon reports itself alive (dead after 3 missed)")
      ->envname("CUEBALL_NODE_HEARTBEAT")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--max-waiters", c.max_waiters, "concurrent Wait calls before RESOURCE_EXHAUSTED")
      ->envname("CUEBALL_MAX_WAITERS")
      ->check(CLI::Range(size_t{1}, size_t{10000000}))
      ->capture_default_str();
  app.add_option("--max-watchers", c.max_watchers,
                 "concurrent WatchEvents streams before RESOURCE_EXHAUSTED")
      ->envname("CUEBALL_MAX_WATCHERS")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  const struct {
    const char* flag;
    const char* env;
    const char* status;
    std::string* text;
  } retain[] = {
      {"--retain-succeeded", "CUEBALL_RETAIN_SUCCEEDED", "SUCCEEDED", &retain_succeeded},
      {"--retain-failed", "CUEBALL_RETAIN_FAILED", "FAILED", &retain_failed},
      {"--retain-canceled", "CUEBALL_RETAIN_CANCELED", "CANCELED", &retain_canceled},
  };
  for (const auto& r : retain) {
    app.add_option(r.flag, *r.text,
                   std::string("remove ") + r.status +
                       " runs (record, events, artifacts) this long after they finish "
                       "(default: keep forever)")
        ->envname(r.env)
        ->check(duration)
        ->type_name("DURATION");
  }
  app.add_option("--retention-summaries", c.retention_summaries,
                 "keep a compact summary (type, status, timings, attempts) of removed runs")
      ->envname("CUEBALL_RETENTION_SUMMARIES")
      ->capture_default_str();
  app.add_option("--retention-interval", retention_interval, "how often to look for runs to remove")
      ->envname("CUEBALL_RETENTION_INTERVAL")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--max-queued", c.max_queued,
                 "enqueued runs in the database before Enqueue answers RESOURCE_EXHAUSTED "
                 "(0: no limit)")
      ->envname("CUEBALL_MAX_QUEUED")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--max-request-rate", c.max_request_rate,
                 "RPCs per second before RESOURCE_EXHAUSTED (0: no limit; health is exempt)")
      ->envname("CUEBALL_MAX_REQUEST_RATE")
      ->check(CLI::Range(0.0, 1e9))
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn or error")
      ->envname("CUEBALL_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--node-id", c.node_id, "this daemon's id on leases (default host-pid-random)")
      ->envname("CUEBALL_NODE_ID");
  app.fallthrough();  // `cueballd migrate --database-url URL` works too
  auto* migrate = app.add_subcommand("migrate", "apply pending migrations and exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? ParseOutcome::kExitOk : ParseOutcome::kExitError;
  }
  if (c.database_url.empty()) {
    std::cerr << "cueballd: --database-url (or CUEBALL_DATABASE_URL) is required\n";
    return ParseOutcome::kExitError;
  }
  if (c.listen.find(':') == std::string::npos) {
    std::cerr << "cueballd: --listen must be HOST:PORT, got '" << c.listen << "'\n";
    return ParseOutcome::kExitError;
  }
  for (const auto& q : c.queues) {
    if (q.empty()) {
      std::cerr << "cueballd: --queues must not contain an empty name\n";
      return ParseOutcome::kExitError;
    }
  }
  // Durations were validated by their options; each also has a floor.
  const struct {
    const char* flag;
    const std::string& text;
    Millis* out;
    Millis min;
  } durations[] = {
      {"--poll-interval", poll, &c.poll_interval, Millis(10)},
      {"--lease", lease, &c.lease, Millis(1000)},
      {"--drain-timeout", drain, &c.drain_timeout, Millis(0)},
      {"--rescue-interval", rescue, &c.rescue_interval, Millis(100)},
      {"--statement-timeout", stmt, &c.statement_timeout, Millis(100)},
      {"--node-heartbeat", node_hb, &c.node_heartbeat, Millis(100)},
      {"--retention-interval", retention_interval, &c.retention_interval, Millis(100)},
  };
  for (const auto& d : durations) {
    *d.out = *ParseDuration(d.text);
    if (*d.out < d.min) {
      std::cerr << "cueballd: " << d.flag << " must be at least " << FormatDuration(d.min) << "\n";
      return ParseOutcome::kExitError;
    }
  }
  for (const auto& [text, out, flag] :
       {std::tuple{&retain_succeeded, &c.retain_succeeded, "--retain-succeeded"},
        std::tuple{&retain_failed, &c.retain_failed, "--retain-failed"},
        std::tuple{&retain_canceled, &c.retain_canceled, "--retain-canceled"}}) {
    if (text->empty()) continue;
    *out = *ParseDuration(*text);
    if (**out < Millis(1000)) {
      std::cerr << "cueballd: " << flag << " must be at least 1s\n";
      return ParseOutcome::kExitError;
    }
  }
  if (c.node_id.empty()) c.node_id = DefaultNodeId();
  c.migrate_only = migrate->parsed();
  return ParseOutcome::kRun;
}

}  // namespace cueball::config
