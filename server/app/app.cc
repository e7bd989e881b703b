#include "server/app/app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>

#include "server/api/async_server.h"
#include "server/api/auth.h"
#include "server/api/call_policy.h"
#include "server/api/executor.h"
#include "server/api/health_service.h"
#include "server/api/workflows_service.h"
#include "server/app/probe_routes.h"
#include "server/domain/redact.h"
#include "server/domain/version.h"
#include "server/engine/change_router.h"
#include "server/engine/dispatcher.h"
#include "server/engine/event_service.h"
#include "server/engine/retry_policy.h"
#include "server/engine/run_service.h"
#include "server/engine/wait_hub.h"
#include "server/http/server.h"
#include "server/logging/logging.h"
#include "server/maintenance/health_monitor.h"
#include "server/maintenance/node_registry.h"
#include "server/maintenance/rescuer.h"
#include "server/maintenance/retention.h"
#include "server/maintenance/vacuumer.h"
#include "server/metrics/metrics.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_listener.h"
#include "server/store/postgres/pg_node_store.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/pg_run_store.h"
#include "workers/builtin.h"
#include "workers/payment.h"
#include "workers/workflow_files.h"

namespace cueball::app {
namespace {

// The shutdown signal received within `timeout` (forever if negative), or 0.
int WaitForShutdownSignal(Millis timeout = Millis(-1)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (timeout.count() < 0) {
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
  }
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1000000)};
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

// At start-up: waits until the database answers (anything but UNAVAILABLE
// from the probe), retrying with capped, jittered backoff (full jitter,
// 100 ms doubling to 5 s) and logging each try, for at most `timeout`.
// Returns 0 once it answers, 1 when the time ran out (one error line), or
// the shutdown signal that came meanwhile.
int WaitForDatabase(store::SchemaProbe& probe, Millis timeout, spdlog::logger& log) {
  const auto start = std::chrono::steady_clock::now();
  const auto backoff = engine::RetryPolicy::Exponential(1, Millis(100), Millis(5000));
  std::mt19937_64 rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    Status st = probe.Probe();
    if (st.ok() || st.code() != StatusCode::kUnavailable) {
      if (attempt > 1) logging::Info(log, "database reachable", {{"attempt", attempt}});
      return 0;
    }
    const auto waited =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
    if (waited >= timeout) {
      logging::Error(
          log, "database unreachable, giving up",
          {{"attempts", attempt}, {"waited_ms", waited.count()}, {"error", st.message()}});
      return 1;
    }
    const Millis wait = std::min(engine::BackoffDelay(backoff, attempt, rng), timeout - waited);
    logging::Warn(log, "database not reachable yet",
                  {{"attempt", attempt}, {"retry_in_ms", wait.count()}, {"error", st.message()}});
    if (int sig = WaitForShutdownSignal(wait)) return sig;
  }
}

const char* SignalName(int sig) { return sig == SIGINT ? "SIGINT" : "SIGTERM"; }

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

// TLS (and, with a client CA, mutual TLS) from PEM files; insecure without.
std::shared_ptr<grpc::ServerCredentials> ListenerCredentials(const config::Config& cfg,
                                                             std::string* error) {
  if (cfg.tls_cert.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  if (!ReadFile(cfg.tls_key, &pair.private_key) || !ReadFile(cfg.tls_cert, &pair.cert_chain)) {
    *error = "cannot read --tls-cert/--tls-key";
    return nullptr;
  }
  grpc::SslServerCredentialsOptions opts(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  opts.pem_key_cert_pairs.push_back(pair);
  if (!cfg.tls_client_ca.empty()) {
    if (!ReadFile(cfg.tls_client_ca, &opts.pem_root_certs)) {
      *error = "cannot read --tls-client-ca";
      return nullptr;
    }
    opts.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(opts);
}

// Resident set size from /proc/self/statm (pages), in bytes; 0 if unreadable.
int64_t ResidentBytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * sysconf(_SC_PAGESIZE);
}

// A figure for the metrics read from the database at most once per `ttl`,
// however many gauges and scrapes ask (empty when the read fails).
template <typename T>
class Cached {
 public:
  Cached(std::function<StatusOr<T>()> read, Millis ttl) : read_(std::move(read)), ttl_(ttl) {}
  T Get() {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_read_) {
      auto r = read_();
      value_ = r.ok() ? *r : T{};
      next_read_ = now + ttl_;
    }
    return value_;
  }

 private:
  const std::function<StatusOr<T>()> read_;
  const Millis ttl_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_read_{};
  T value_{};
};

}  // namespace

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int Run(const config::Config& cfg) {
  logging::Setup(cfg.log_level, cfg.log_format);
  auto log = spdlog::get("main");
  logging::Info(
      log, "starting",
      {{"node", cfg.node_id}, {"version", kVersion}, {"database", RedactDsn(cfg.database_url)}});

  store::pg::Migrator migrator(cfg.database_url, store::pg::BuiltinMigrations());
  auto migrate = [&] {
    auto migrated = migrator.Migrate();
    if (!migrated.ok()) {
      logging::Error(log, "migrations failed", {{"error", migrated.status().message()}});
      return false;
    }
    for (const auto& name : migrated->applied)
      logging::Info(log, "migration applied", {{"name", name}});
    logging::Info(log, "schema ready", {{"version", migrated->current_version}});
    return true;
  };
  if (cfg.mode == config::Config::Mode::kMigrate) {
    if (int r = WaitForDatabase(migrator, cfg.db_connect_timeout, *log)) return r == 1 ? 1 : 0;
    return migrate() ? 0 : 1;
  }

  engine::Registry registry;
  Status st = workers::RegisterBuiltins(registry);
  if (st.ok()) st = workers::RegisterPayment(registry);
  if (st.ok() && !cfg.workflows_dir.empty())
    st = workers::LoadWorkflowFiles(cfg.workflows_dir, registry);
  if (!st.ok()) {
    logging::Error(log, "registering workflow types failed", {{"error", st.message()}});
    return 1;
  }

  metrics::Metrics metrics;
  store::pg::PgRunStore store(cfg.database_url, cfg.db_pool_size, cfg.statement_timeout);
  // Streams and the sequencer get their own connections, so a burst of
  // readers never starves claims and completions.
  store::pg::PgEventStore event_store(cfg.database_url, std::max(2, cfg.db_pool_size / 2),
                                      cfg.statement_timeout);
  engine::EventLimits elimits;
  elimits.max_watchers = cfg.max_watchers;
  engine::EventService events(&event_store, elimits);
  store.SetEventsWrittenHook([&events] { events.Kick(); });
  store::RetentionPolicy retention_policy;
  retention_policy.succeeded = cfg.retain_succeeded;
  retention_policy.failed = cfg.retain_failed;
  retention_policy.canceled = cfg.retain_canceled;
  retention_policy.keep_summary = cfg.retention_summaries;
  maintenance::Retention retention(&event_store, retention_policy, cfg.retention_interval);
  engine::WaitHub hub(&store);
  engine::DispatcherOptions dopts;
  dopts.owner = cfg.node_id;
  dopts.queues = cfg.queues;
  dopts.workers = cfg.workers;
  dopts.lease = cfg.lease;
  dopts.poll_interval = cfg.poll_interval;
  dopts.drain_timeout = cfg.drain_timeout;
  dopts.metrics = &metrics;
  dopts.blobs = &store;
  dopts.max_blob_bytes = cfg.max_blob_bytes;
  engine::Waker waker(&store);
  dopts.on_waits_recorded = [&waker] { waker.Poke(); };
  dopts.finished_runs = &hub;
  engine::Dispatcher dispatcher({&store, &store, &store}, &registry, dopts);
  engine::Limits limits;
  limits.max_payload_bytes = cfg.max_payload_bytes;
  limits.max_waiters = cfg.max_waiters;
  limits.max_queued = cfg.max_queued;
  engine::RunService runs(&store, &store, &registry, &hub, &dispatcher, limits);
  runs.set_metrics(&metrics);
  runs.set_blobs(&store);
  engine::ChangeRouter router(&dispatcher, &hub, &events, &waker);
  maintenance::Rescuer rescuer(&store, &store, &registry, cfg.rescue_interval);
  rescuer.set_metrics(&metrics);
  maintenance::Vacuumer vacuumer(
      &store, [&dispatcher] { return dispatcher.caught_up(); }, cfg.vacuum_dead_rows);
  vacuumer.set_metrics(&metrics);
  store::pg::PgListener listener(cfg.database_url, &router);

  store::pg::PgNodeStore node_store(cfg.database_url);
  store::NodeInfo self;
  self.id = cfg.node_id;
  char host_name[256] = {0};
  gethostname(host_name, sizeof host_name - 1);
  self.host = host_name;
  self.pid = static_cast<int>(getpid());
  self.version = kVersion;
  self.queues = cfg.queues;
  self.types = registry.Names();
  self.workers = cfg.workers;
  maintenance::NodeRegistry nodes(&node_store, self, cfg.node_heartbeat);

  // Calls are refused (UNAVAILABLE) until the engine runs; health says
  // SERVING only while the engine runs and the database and schema are fine.
  api::Authenticator auth(cfg.auth_tokens, cfg.auth_tokens_file);
  api::RateLimiter limiter(cfg.max_request_rate);
  api::CallPolicy policy(&limiter, &auth, &metrics);
  policy.SetServing(false, "starting");
  api::WorkflowsService service(&runs, &nodes, &policy, &events);
  api::HealthService grpc_health;
  std::atomic<bool> engine_running{false};
  maintenance::HealthMonitor health(
      &migrator, cfg.health_interval, [&](bool db_ok, const std::string& reason) {
        if (!engine_running.load()) policy.SetServing(false, reason.empty() ? "starting" : reason);
        grpc_health.SetServing(db_ok && engine_running.load());
      });
  auto readiness = [&]() -> Readiness {
    if (!engine_running.load()) {
      std::string why = health.reason();
      return {false, why.empty() ? "starting" : why};
    }
    if (!health.ready()) return {false, health.reason()};
    return {true, ""};
  };

  metrics.AddGauge("cueball_ready", "1 while this daemon serves calls and its database is healthy",
                   [&] {
                     return std::vector<metrics::Sample>{{{}, readiness().ready ? 1.0 : 0.0}};
                   });
  metrics.AddGauge("cueball_build_info", "Always 1; the version label names this build", [] {
    return std::vector<metrics::Sample>{{{{"version", kVersion}}, 1.0}};
  });
  Cached<std::vector<store::QueueStats>> queue_stats([&] { return store.GetQueueStats(); },
                                                     Millis(2000));
  Cached<std::vector<store::UnfinishedCount>> unfinished([&] { return store.CountUnfinished(); },
                                                         Millis(5000));
  metrics.AddGauge(
      "cueball_runs_unserved",
      "Unfinished runs whose workflow type no live daemon runs on their queue, by type and "
      "queue: they are not claimed, nor rescued, until such a daemon starts",
      [&] {
        std::vector<metrics::Sample> out;
        for (const auto& u : unfinished.Get()) {
          if (nodes.Serves(u.workflow_type, u.queue).value_or(true)) continue;
          out.push_back({{{"workflow_type", u.workflow_type}, {"queue", u.queue}},
                         static_cast<double>(u.runs)});
        }
        return out;
      });
  metrics.AddGauge("cueball_queue_ready_runs",
                   "Enqueued runs due now, by queue (the whole database, as seen by this daemon)",
                   [&] {
                     std::vector<metrics::Sample> out;
                     for (const auto& q : queue_stats.Get())
                       out.push_back({{{"queue", q.queue}}, static_cast<double>(q.ready)});
                     return out;
                   });
  metrics.AddGauge("cueball_queue_scheduled_runs", "Enqueued runs due later, by queue", [&] {
    std::vector<metrics::Sample> out;
    for (const auto& q : queue_stats.Get())
      out.push_back({{{"queue", q.queue}}, static_cast<double>(q.scheduled)});
    return out;
  });
  metrics.AddGauge("cueball_queue_oldest_ready_age_seconds",
                   "How long the oldest ready run of each queue has been due", [&] {
                     std::vector<metrics::Sample> out;
                     for (const auto& q : queue_stats.Get())
                       out.push_back({{{"queue", q.queue}}, q.oldest_ready_age_seconds});
                     return out;
                   });
  metrics.AddGauge(
      "cueball_steps_in_flight",
      "Runs this daemon holds claimed now: steps running, plus runs claimed ahead waiting for a "
      "worker",
      [&] {
        return std::vector<metrics::Sample>{{{}, static_cast<double>(dispatcher.in_flight())}};
      });
  metrics.AddGauge("cueball_waiters_active", "Wait calls pending in this daemon", [&] {
    return std::vector<metrics::Sample>{{{}, static_cast<double>(hub.waiting())}};
  });
  metrics.AddGauge("cueball_event_streams_active", "WatchEvents streams open on this daemon", [&] {
    return std::vector<metrics::Sample>{{{}, static_cast<double>(events.watchers())}};
  });
  metrics.AddGauge(
      "cueball_db_pool_connections",
      "Database connections by pool (runs: calls and steps; dispatch: claims and records; "
      "events: streams) and state",
      [&] {
        std::vector<metrics::Sample> out;
        for (const auto& [pool, stats] : {std::pair{"runs", store.pool_stats()},
                                          std::pair{"dispatch", store.dispatch_pool_stats()},
                                          std::pair{"events", event_store.pool_stats()}}) {
          out.push_back({{{"pool", pool}, {"state", "in_use"}}, static_cast<double>(stats.in_use)});
          out.push_back({{{"pool", pool}, {"state", "open"}}, static_cast<double>(stats.open)});
          out.push_back({{{"pool", pool}, {"state", "max"}}, static_cast<double>(stats.size)});
        }
        return out;
      });
  metrics.AddGauge("process_resident_memory_bytes", "Resident memory of this daemon", [] {
    return std::vector<metrics::Sample>{{{}, static_cast<double>(ResidentBytes())}};
  });
  metrics.AddGauge("cueball_auth_tokens", "Bearer tokens currently accepted (0: auth off)", [&] {
    return std::vector<metrics::Sample>{
        {{}, auth.enabled() ? static_cast<double>(auth.token_count()) : 0.0}};
  });

  http::Server http;
  AddProbeRoutes(&http, &metrics, readiness);
  if (!cfg.metrics_listen.empty()) {
    std::string error;
    std::string bound = http.Start(cfg.metrics_listen, &error);
    if (bound.empty()) {
      logging::Error(log, "cannot serve metrics", {{"error", error}});
      return 1;
    }
    logging::Info(log, "metrics endpoint",
                  {{"address", bound}, {"paths", "/metrics,/healthz,/readyz"}});
  }

  std::string cred_error;
  auto creds = ListenerCredentials(cfg, &cred_error);
  if (!creds) {
    logging::Error(log, cred_error);
    return 1;
  }
  // Health is our own service (api::HealthService): gRPC's built-in one is
  // a callback service, and any callback service brings gRPC's napping
  // "nexting" threads (api/async_server.h).
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg.listen, creds, &port);
  builder.RegisterService(&service);
  builder.RegisterService(&grpc_health);
  std::unique_ptr<grpc::ServerCompletionQueue> call_queue = builder.AddCompletionQueue();
  // Handlers wait for the runs pool's connections; twice as many threads
  // as connections keep calls that need none (types, health) moving.
  api::Executor executor(std::max(4, 2 * cfg.db_pool_size), "api-handler");
  api::AsyncServer async_server(&service, &grpc_health, &executor);
  // A full batch of maximal inputs must fit, with room for the envelope.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(size_t{1} << 30, cfg.max_payload_bytes * 4 + (size_t{16} << 20))));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    logging::Error(log, "cannot listen", {{"address", cfg.listen}});
    return 1;
  }
  async_server.Start(std::move(call_queue), 2);
  const std::string address =
      cfg.listen.substr(0, cfg.listen.rfind(':')) + ":" + std::to_string(port);
  logging::Info(
      log, "listening",
      {{"address", address},
       {"tls", cfg.tls_cert.empty() ? "off" : (cfg.tls_client_ca.empty() ? "on" : "mutual")},
       {"auth", auth.enabled() ? "bearer" : "off"}});

  // Meanwhile health says NOT_SERVING and calls get UNAVAILABLE.
  auto stop_before_serving = [&](int code) {
    health.Stop();
    grpc_health.Shutdown();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    async_server.Stop();
    http.Stop();
    return code;
  };
  policy.SetServing(false, "waiting for the database");
  if (int r = WaitForDatabase(migrator, cfg.db_connect_timeout, *log)) {
    if (r != 1) logging::Info(log, "shutting down before serving", {{"signal", SignalName(r)}});
    return stop_before_serving(r == 1 ? 1 : 0);
  }
  if (cfg.auto_migrate && !migrate()) return stop_before_serving(1);

  // Without auto-migrate, wait (NOT_SERVING) until `cueballd migrate` has run.
  if (!health.CheckNow()) {
    logging::Warn(log, "waiting for the database", {{"reason", health.reason()}});
    while (!health.CheckNow()) {
      if (int sig = WaitForShutdownSignal(cfg.health_interval)) {
        logging::Info(log, "shutting down before serving", {{"signal", SignalName(sig)}});
        return stop_before_serving(0);
      }
    }
  }

  hub.Start();
  events.Start();
  listener.Start();
  dispatcher.Start();
  waker.Start();
  rescuer.Start();
  retention.Start();
  vacuumer.Start();
  nodes.Start(address);
  engine_running.store(true);
  policy.SetServing(true);
  health.CheckNow();
  grpc_health.SetServing(health.ready());
  health.Start();
  logging::Info(log, "serving",
                {{"address", address},
                 {"workers", cfg.workers},
                 {"queues", fmt::format("{}", fmt::join(cfg.queues, ","))},
                 {"types", fmt::format("{}", fmt::join(registry.Names(), ","))}});

  int sig = WaitForShutdownSignal();
  logging::Info(log, "shutting down",
                {{"signal", SignalName(sig)}, {"in_flight", dispatcher.in_flight()}});
  engine_running.store(false);
  health.Stop();           // NOT_SERVING, /readyz 503: probes move traffic away
  grpc_health.Shutdown();  // NOT_SERVING, and Health/Watch streams end
  hub.Stop();              // answers every pending Wait before the server stops
  events.CloseStreams();   // ends every event stream (clients resume elsewhere)
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  async_server.Stop();  // the calls still being handled finish first
  rescuer.Stop();
  waker.Stop();
  retention.Stop();
  vacuumer.Stop();
  nodes.Stop();
  dispatcher.Stop();
  events.Stop();  // numbers the events of the drain, then stops the sequencer
  listener.Stop();
  http.Stop();
  logging::Info(log, "stopped");
  return 0;
}

}  // namespace cueball::app
