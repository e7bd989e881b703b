#include "server/config/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <tuple>

#include "server/domain/duration.h"
#include "server/domain/redact.h"
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

// One `key = value` line of a config file.
struct FileEntry {
  std::string key;
  std::string value;
  int line = 0;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The config file is TOML, read with toml++ (Debian's libtomlplusplus-dev):
// top-level `key = value` pairs whose keys are the long flag names (dashes or
// underscores). Strings, integers, floats and booleans are passed to the
// flag as text; an array (of those) becomes a comma-separated list. Tables
// are refused: every setting is top-level.
std::string SettingText(const toml::node& v, bool* ok) {
  if (auto s = v.as_string()) return s->get();
  if (auto i = v.as_integer()) return std::to_string(i->get());
  if (auto b = v.as_boolean()) return b->get() ? "true" : "false";
  if (auto f = v.as_floating_point()) {
    std::ostringstream out;
    out << f->get();
    return out.str();
  }
  *ok = false;
  return "";
}

bool ReadConfigFile(const std::string& path, std::vector<FileEntry>* out, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot read config file: " + std::strerror(errno);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  toml::table root;
  try {
    root = toml::parse(text.str(), path);
  } catch (const toml::parse_error& e) {
    *error = path + ":" + std::to_string(e.source().begin.line) +
             ": not valid TOML: " + std::string(e.description()) +
             " (strings need quotes: lease = \"45s\")";
    return false;
  }
  for (const auto& [key, value] : root) {
    FileEntry e;
    e.line = static_cast<int>(value.source().begin.line);
    e.key = std::string(key.str());
    for (char& ch : e.key) {
      if (ch == '_') ch = '-';
    }
    const std::string where = path + ":" + std::to_string(e.line) + ": ";
    bool ok = true;
    if (const toml::array* list = value.as_array()) {
      for (const toml::node& item : *list) {
        e.value += (e.value.empty() ? "" : ",") + SettingText(item, &ok);
      }
    } else if (value.is_table()) {
      *error = where + "[" + e.key + "] is a table; settings are top-level `key = value` lines";
      return false;
    } else {
      e.value = SettingText(value, &ok);
    }
    if (!ok) {
      *error = where + "the value of '" + e.key +
               "' must be a string, number, boolean or a list of those";
      return false;
    }
    out->push_back(std::move(e));
  }
  // toml++ keeps keys sorted; errors are reported in the file's order.
  std::stable_sort(out->begin(), out->end(),
                   [](const FileEntry& a, const FileEntry& b) { return a.line < b.line; });
  return true;
}

// The config file named by --config / --config=F in argv, else CUEBALL_CONFIG.
std::string ConfigPath(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) return argv[i + 1];
    if (a.rfind("--config=", 0) == 0) return a.substr(9);
  }
  const char* env = std::getenv("CUEBALL_CONFIG");
  return env ? env : "";
}

bool GivenOnCommandLine(int argc, char** argv, const std::string& lname) {
  const std::string flag = "--" + lname;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == flag || a.rfind(flag + "=", 0) == 0) return true;
  }
  return false;
}

std::string Quote(const std::string& v) {
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out + "\"";
}

}  // namespace

bool IsLoopback(const std::string& listen) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host.size() > 1 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1") return true;
  in_addr a4{};
  if (inet_pton(AF_INET, host.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return false;
}

ParseOutcome Parse(int argc, char** argv, Config* out) {
  CLI::App app{
      "cueballd: the cueball workflow daemon.\n"
      "Every setting is a flag, else its CUEBALL_* environment variable, else a line\n"
      "`key = value` of the --config file, else the default shown. DURATION is a number\n"
      "with a unit: 250ms, 30s, 5m, 2h (a bare number is seconds)."};
  app.set_version_flag("--version", std::string("cueballd ") + kVersion);
  Config& c = *out;
  std::string poll = "1s", lease = "30s", drain = "10s", rescue = "5s", stmt = "30s",
              node_hb = "5s", retention_interval = "1m", health_interval = "2s",
              db_connect_timeout = "60s";
  std::string retain_succeeded, retain_failed, retain_canceled;
  const DurationValidator duration;

  app.add_option("--config", c.config_file,
                 "config file of `key = value` lines (keys as the flags below, without --)")
      ->envname("CUEBALL_CONFIG")
      ->check(CLI::ExistingFile);
  app.add_option("--database-url", c.database_url, "PostgreSQL connection URL (required; secret)")
      ->envname("CUEBALL_DATABASE_URL");
  app.add_option("--listen", c.listen,
                 "gRPC listen address HOST:PORT (port 0 picks one); without TLS only a "
                 "loopback host is accepted unless --allow-insecure-remote")
      ->envname("CUEBALL_LISTEN")
      ->capture_default_str();
  app.add_option("--allow-insecure-remote", c.allow_insecure_remote,
                 "allow plaintext gRPC on a non-loopback --listen address (true/false)")
      ->envname("CUEBALL_ALLOW_INSECURE_REMOTE")
      ->default_str(c.allow_insecure_remote ? "true" : "false");
  app.add_option("--tls-cert", c.tls_cert, "PEM certificate chain for the gRPC listener (file)")
      ->envname("CUEBALL_TLS_CERT")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", c.tls_key, "PEM private key for --tls-cert (file; secret)")
      ->envname("CUEBALL_TLS_KEY")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-client-ca", c.tls_client_ca,
                 "PEM CA bundle: clients must present a certificate it signed (mutual TLS)")
      ->envname("CUEBALL_TLS_CLIENT_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--auth-tokens", c.auth_tokens,
                 "bearer tokens accepted, comma-separated, at least 16 characters each "
                 "(secret; prefer the environment or --auth-tokens-file)")
      ->envname("CUEBALL_AUTH_TOKENS")
      ->delimiter(',');
  app.add_option("--auth-tokens-file", c.auth_tokens_file,
                 "file of bearer tokens, one per line (# comments); re-read when it changes, "
                 "so tokens rotate without a restart")
      ->envname("CUEBALL_AUTH_TOKENS_FILE")
      ->check(CLI::ExistingFile);
  app.add_option("--metrics-listen", c.metrics_listen,
                 "HTTP address for /metrics, /healthz and /readyz (empty: off)")
      ->envname("CUEBALL_METRICS_LISTEN")
      ->capture_default_str();
  app.add_option("--health-interval", health_interval,
                 "how often the database and schema are checked for health")
      ->envname("CUEBALL_HEALTH_INTERVAL")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--auto-migrate", c.auto_migrate,
                 "apply pending migrations at start-up (false: wait, NOT_SERVING, until "
                 "`cueballd migrate` has run)")
      ->envname("CUEBALL_AUTO_MIGRATE")
      ->default_str(c.auto_migrate ? "true" : "false");
  app.add_option("--workers", c.workers, "concurrent steps this daemon runs")
      ->envname("CUEBALL_WORKERS")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--queues", c.queues, "queues this daemon claims from (comma-separated)")
      ->envname("CUEBALL_QUEUES")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--db-pool-size", c.db_pool_size,
                 "database connections for requests and claims (streams get half as many more)")
      ->envname("CUEBALL_DB_POOL_SIZE")
      ->check(CLI::Range(2, 1024))
      ->capture_default_str();
  app.add_option("--max-payload-bytes", c.max_payload_bytes, "largest accepted run input, in bytes")
      ->envname("CUEBALL_MAX_PAYLOAD_BYTES")
      ->check(CLI::Range(size_t{16}, size_t{64} << 20))
      ->capture_default_str();
  app.add_option("--workflows-dir", c.workflows_dir,
                 "load workflow types from the *.json, *.yaml and *.yml files here "
                 "(docs/workflow-files.md)")
      ->envname("CUEBALL_WORKFLOWS_DIR");
  app.add_option("--max-blob-bytes", c.max_blob_bytes,
                 "largest blob (artifact) a step may save, in bytes")
      ->envname("CUEBALL_MAX_BLOB_BYTES")
      ->check(CLI::Range(int64_t{1}, int64_t{512} << 20))
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
  app.add_option("--db-connect-timeout", db_connect_timeout,
                 "at start-up (serve and migrate), how long to keep retrying a database that "
                 "does not answer yet (capped, jittered backoff; then exit 1)")
      ->envname("CUEBALL_DB_CONNECT_TIMEOUT")
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
      ->default_str(c.retention_summaries ? "true" : "false");
  app.add_option("--retention-interval", retention_interval, "how often to look for runs to remove")
      ->envname("CUEBALL_RETENTION_INTERVAL")
      ->check(duration)
      ->type_name("DURATION")
      ->capture_default_str();
  app.add_option("--vacuum-dead-rows", c.vacuum_dead_rows,
                 "vacuum the runs' table as soon as claims catch up and it holds this many dead "
                 "row versions and a twentieth of the live ones (0: leave it to autovacuum)")
      ->envname("CUEBALL_VACUUM_DEAD_ROWS")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40))
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
  app.add_option("--log-format", c.log_format, "text (human) or json (one object per line)")
      ->envname("CUEBALL_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--node-id", c.node_id, "this daemon's id on leases (default host-pid-random)")
      ->envname("CUEBALL_NODE_ID");
  app.fallthrough();  // `cueballd migrate --database-url URL` works too
  auto* migrate = app.add_subcommand("migrate", "apply pending migrations and exit");
  auto* print_config = app.add_subcommand(
      "config", "print the effective configuration (secrets masked) as a config file, and exit");

  auto fail = [](const std::string& line) {
    std::cerr << "cueballd: " << line << "\n";
    return ParseOutcome::kExitError;
  };

  // Flags, then the environment (CLI11 fills in env only where no flag was given).
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? ParseOutcome::kExitOk : ParseOutcome::kExitError;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? ParseOutcome::kExitOk : ParseOutcome::kExitError;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e) == 0 ? ParseOutcome::kExitOk : ParseOutcome::kExitError;
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  std::map<std::string, std::string> source;  // long name -> flag | env | file
  for (const auto* opt : app.get_options()) {
    if (opt->count() == 0 || opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames()[0];
    source[name] = GivenOnCommandLine(argc, argv, name) ? "flag" : "env";
  }
  // Then the config file, for every setting neither gave.
  if (std::string path = ConfigPath(argc, argv); !path.empty()) {
    std::vector<FileEntry> entries;
    std::string error;
    if (!ReadConfigFile(path, &entries, &error)) return fail(error);
    for (const auto& e : entries) {
      const std::string where = path + ":" + std::to_string(e.line) + ": ";
      CLI::Option* opt = nullptr;
      try {
        opt = app.get_option("--" + e.key);
      } catch (const CLI::OptionNotFound&) {
      }
      if (!opt || e.key == "config" || e.key == "help" || e.key == "version")
        return fail(where + "unknown setting '" + e.key + "' (see cueballd --help)");
      if (opt->count() > 0) continue;  // a flag or the environment wins
      try {
        if (opt->get_items_expected_max() > 1) {
          std::stringstream parts(e.value);
          for (std::string part; std::getline(parts, part, ',');) opt->add_result(Trim(part));
        } else {
          opt->add_result(e.value);
        }
        opt->run_callback();
      } catch (const CLI::Error& err) {
        return fail(where + err.what());
      }
      source[e.key] = "file";
    }
  }

  if (c.database_url.empty() && !print_config->parsed()) {
    return fail(
        "--database-url (or CUEBALL_DATABASE_URL, or database-url in --config) is required");
  }
  if (c.listen.find(':') == std::string::npos) {
    return fail("--listen must be HOST:PORT, got '" + c.listen + "'");
  }
  if (!c.metrics_listen.empty() && c.metrics_listen.find(':') == std::string::npos) {
    return fail("--metrics-listen must be HOST:PORT (or empty for none), got '" + c.metrics_listen +
                "'");
  }
  for (const auto& q : c.queues) {
    if (q.empty()) return fail("--queues must not contain an empty name");
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return fail("--tls-cert and --tls-key must be given together");
  }
  if (!c.tls_client_ca.empty() && c.tls_cert.empty()) {
    return fail("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key");
  }
  if (c.tls_cert.empty() && !c.allow_insecure_remote && !IsLoopback(c.listen)) {
    return fail("--listen " + c.listen +
                " is not a loopback address: serve it with --tls-cert/--tls-key, or pass "
                "--allow-insecure-remote to accept plaintext");
  }
  for (auto& t : c.auth_tokens) t = Trim(t);
  for (const auto& t : c.auth_tokens) {
    if (t.size() < 16) return fail("--auth-tokens: every token must have at least 16 characters");
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
      {"--health-interval", health_interval, &c.health_interval, Millis(100)},
      {"--db-connect-timeout", db_connect_timeout, &c.db_connect_timeout, Millis(0)},
  };
  for (const auto& d : durations) {
    *d.out = *ParseDuration(d.text);
    if (*d.out < d.min) {
      return fail(std::string(d.flag) + " must be at least " + FormatDuration(d.min));
    }
  }
  for (const auto& [text, dest, flag] :
       {std::tuple{&retain_succeeded, &c.retain_succeeded, "--retain-succeeded"},
        std::tuple{&retain_failed, &c.retain_failed, "--retain-failed"},
        std::tuple{&retain_canceled, &c.retain_canceled, "--retain-canceled"}}) {
    if (text->empty()) continue;
    *dest = *ParseDuration(*text);
    if (**dest < Millis(1000)) return fail(std::string(flag) + " must be at least 1s");
  }
  if (c.node_id.empty()) c.node_id = DefaultNodeId();

  // The effective configuration, in the config file's own format.
  std::ostringstream eff;
  for (const auto* opt : app.get_options()) {
    if (opt->get_lnames().empty()) continue;
    const std::string& name = opt->get_lnames()[0];
    if (name == "help" || name == "version" || name == "config") continue;
    std::string value;
    if (name == "node-id") {
      value = c.node_id;
    } else if (opt->count() > 0) {
      const auto& r = opt->results();
      for (size_t i = 0; i < r.size(); ++i) value += (i ? "," : "") + r[i];
    } else {
      value = opt->get_default_str();
    }
    if (value.size() > 1 && value.front() == '[' && value.back() == ']')
      value = value.substr(1, value.size() - 2);  // CLI11 shows list defaults as [a,b]
    if (opt->get_type_name() == "BOOLEAN") {
      if (value == "1" || value == "on" || value == "yes") value = "true";
      if (value == "0" || value == "off" || value == "no") value = "false";
    }
    if (name == "database-url") value = RedactDsn(value);
    if (name == "auth-tokens" && !value.empty()) {
      value = std::to_string(c.auth_tokens.size()) + " token(s), masked";
    }
    auto it = source.find(name);
    std::string from = it != source.end()  ? it->second
                       : name == "node-id" ? "generated"
                                           : "default";
    if (from == "env") from += " " + opt->get_envname();
    eff << name << " = " << Quote(value) << "  # " << from << "\n";
  }
  c.effective = eff.str();
  c.mode = migrate->parsed()        ? Config::Mode::kMigrate
           : print_config->parsed() ? Config::Mode::kPrintConfig
                                    : Config::Mode::kServe;
  return ParseOutcome::kRun;
}

}  // namespace cueball::config
