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
#include "server/api/workers_service.h"
#include "server/api/workflows_service.h"
#include "server/app/gauges.h"
#include "server/app/probe_routes.h"
#include "server/domain/redact.h"
#include "server/domain/version.h"
#include "server/engine/change_router.h"
#include "server/engine/dispatcher.h"
#include "server/engine/event_service.h"
#include "server/engine/remote_workers.h"
#include "server/engine/retry_policy.h"
#include "server/engine/run_service.h"
#include "server/engine/wait_hub.h"
#include "server/http/server.h"
#include "server/logging/logging.h"
#include "server/maintenance/deadlines.h"
#include "server/maintenance/health_monitor.h"
#include "server/maintenance/node_registry.h"
#include "server/maintenance/rescuer.h"
#include "server/maintenance/retention.h"
#include "server/maintenance/scheduler.h"
#include "server/maintenance/vacuumer.h"
#include "server/metrics/metrics.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_listener.h"
#include "server/store/postgres/pg_node_store.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/pg_queue_store.h"
#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_worker_store.h"
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

// Applies pending migrations, logging each. False (logged) on failure.
bool MigrateSchema(store::pg::Migrator& migrator, spdlog::logger& log) {
  auto migrated = migrator.Migrate();
  if (!migrated.ok()) {
    logging::Error(log, "migrations failed", {{"error", migrated.status().message()}});
    return false;
  }
  for (const auto& name : migrated->applied) {
    logging::Info(log, "migration applied", {{"name", name}});
  }
  logging::Info(log, "schema ready", {{"version", migrated->current_version}});
  return true;
}

// The daemon: every part, wired in construction order (each takes the
// ones before it), and the phases of its life: open the listeners
// (calls refused, health NOT_SERVING), wait until the database and schema
// are servable, start the engine, serve until a signal, shut down in order.
class Daemon {
 public:
  Daemon(const config::Config& cfg, std::shared_ptr<spdlog::logger> log,
         store::pg::Migrator* migrator, std::unique_ptr<engine::Registry> registry);

  // The process's exit code.
  int Run();

 private:
  // HTTP (probes, /metrics) and gRPC. Nonzero: the exit code.
  int OpenListeners();
  // The database answers, migrations are applied (with --auto-migrate) and
  // the schema is current. nullopt: go on; else the exit code.
  std::optional<int> WaitUntilServable();
  void StartEngine();
  // Shuts down in order: probes and health first, then calls, steps,
  // notifications.
  void Shutdown(int signal);
  // Closes the listeners opened before serving.
  int StopBeforeServing(int code);
  Readiness Ready();
  static engine::DispatcherOptions DispatcherOptionsFor(const config::Config& cfg,
                                                        metrics::Metrics* metrics,
                                                        store::BlobStore* blobs,
                                                        engine::Waker* waker, engine::WaitHub* hub);

  const config::Config& cfg_;
  std::shared_ptr<spdlog::logger> log_;
  store::pg::Migrator* const migrator_;
  const std::unique_ptr<engine::Registry> registry_;
  metrics::Metrics metrics_;
  store::pg::PgRunStore store_;
  // Streams and the sequencer get their own connections, so a burst of
  // readers never starves claims and completions.
  store::pg::PgEventStore event_store_;
  engine::EventService events_;
  maintenance::Retention retention_;
  engine::WaitHub hub_;
  engine::Waker waker_;
  engine::Dispatcher dispatcher_;
  store::pg::PgWorkerStore worker_store_;
  engine::RemoteWorkers remote_;
  engine::RunService runs_;
  engine::ChangeRouter router_;
  maintenance::Rescuer rescuer_;
  maintenance::Scheduler scheduler_;
  maintenance::Deadlines deadlines_;
  maintenance::Vacuumer vacuumer_;
  store::pg::PgListener listener_;
  store::pg::PgNodeStore node_store_;
  store::pg::PgQueueStore queue_store_;
  maintenance::NodeRegistry nodes_;
  // Calls are refused (UNAVAILABLE) until the engine runs; health says
  // SERVING only while the engine runs and the database and schema are fine.
  api::Authenticator auth_;
  api::RateLimiter limiter_;
  api::CallPolicy policy_;
  api::WorkflowsService service_;
  api::WorkersService workers_service_;
  api::HealthService grpc_health_;
  std::atomic<bool> engine_running_{false};
  maintenance::HealthMonitor health_;
  Gauges gauges_;
  http::Server http_;
  // Handlers wait for the runs pool's connections; twice as many threads
  // as connections keep calls that need none (types, health) moving.
  api::Executor executor_;
  api::AsyncServer async_server_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

store::RetentionPolicy RetentionFor(const config::Config& cfg) {
  store::RetentionPolicy p;
  p.succeeded = cfg.retain_succeeded;
  p.failed = cfg.retain_failed;
  p.canceled = cfg.retain_canceled;
  p.keep_summary = cfg.retention_summaries;
  return p;
}

engine::EventLimits EventLimitsFor(const config::Config& cfg) {
  engine::EventLimits l;
  l.max_watchers = cfg.max_watchers;
  return l;
}

engine::Limits LimitsFor(const config::Config& cfg) {
  engine::Limits l;
  l.max_payload_bytes = cfg.max_payload_bytes;
  l.max_waiters = cfg.max_waiters;
  l.max_queued = cfg.max_queued;
  return l;
}

store::NodeInfo SelfFor(const config::Config& cfg, const engine::Registry& registry) {
  store::NodeInfo self;
  self.id = cfg.node_id;
  char host_name[256] = {0};
  gethostname(host_name, sizeof host_name - 1);
  self.host = host_name;
  self.pid = static_cast<int>(getpid());
  self.version = kVersion;
  self.queues = cfg.queues;
  self.types = registry.OwnNames();
  self.workers = cfg.workers;
  return self;
}

engine::DispatcherOptions Daemon::DispatcherOptionsFor(const config::Config& cfg,
                                                       metrics::Metrics* metrics,
                                                       store::BlobStore* blobs,
                                                       engine::Waker* waker, engine::WaitHub* hub) {
  engine::DispatcherOptions o;
  o.owner = cfg.node_id;
  o.queues = cfg.queues;
  o.workers = cfg.workers;
  o.lease = cfg.lease;
  o.poll_interval = cfg.poll_interval;
  o.drain_timeout = cfg.drain_timeout;
  o.metrics = metrics;
  o.blobs = blobs;
  o.max_blob_bytes = cfg.max_blob_bytes;
  o.on_waits_recorded = [waker] { waker->Poke(); };
  o.finished_runs = hub;
  return o;
}

engine::RemoteWorkers::Options RemoteOptionsFor(const config::Config& cfg,
                                                metrics::Metrics* metrics, engine::Waker* waker,
                                                engine::Dispatcher* dispatcher) {
  engine::RemoteWorkers::Options o;
  o.node = cfg.node_id;
  o.default_lease = cfg.lease;
  o.max_payload_bytes = cfg.max_payload_bytes;
  o.max_blob_bytes = cfg.max_blob_bytes;
  o.metrics = metrics;
  o.on_waits_recorded = [waker] { waker->Poke(); };
  o.on_ready = [dispatcher] { dispatcher->Poke(); };
  o.poll_interval = cfg.poll_interval;
  return o;
}

Daemon::Daemon(const config::Config& cfg, std::shared_ptr<spdlog::logger> log,
               store::pg::Migrator* migrator, std::unique_ptr<engine::Registry> registry)
    : cfg_(cfg),
      log_(std::move(log)),
      migrator_(migrator),
      registry_(std::move(registry)),
      store_(cfg.database_url, cfg.db_pool_size, cfg.statement_timeout),
      event_store_(cfg.database_url, std::max(2, cfg.db_pool_size / 2), cfg.statement_timeout),
      events_(&event_store_, EventLimitsFor(cfg)),
      retention_(&event_store_, RetentionFor(cfg), cfg.retention_interval),
      hub_(&store_),
      waker_(&store_),
      dispatcher_({&store_, &store_, &store_}, registry_.get(),
                  DispatcherOptionsFor(cfg, &metrics_, &store_, &waker_, &hub_)),
      worker_store_(cfg.database_url),
      remote_({&store_, &store_, &store_, &store_, &worker_store_}, registry_.get(),
              RemoteOptionsFor(cfg, &metrics_, &waker_, &dispatcher_)),
      runs_(&store_, &store_, registry_.get(), &hub_, &dispatcher_, LimitsFor(cfg)),
      router_(&dispatcher_, &hub_, &events_, &waker_, &remote_),
      rescuer_(&store_, &store_, registry_.get(), cfg.rescue_interval),
      scheduler_(&store_, registry_.get(), Millis(500)),
      deadlines_(&store_, Millis(500)),
      vacuumer_(
          &store_, [this] { return dispatcher_.caught_up(); }, cfg.vacuum_dead_rows),
      listener_(cfg.database_url, &router_),
      node_store_(cfg.database_url),
      queue_store_(cfg.database_url),
      nodes_(&node_store_, SelfFor(cfg, *registry_), cfg.node_heartbeat),
      auth_(cfg.auth_tokens, cfg.auth_tokens_file),
      limiter_(cfg.max_request_rate),
      policy_(&limiter_, &auth_, &metrics_),
      service_(&runs_, &nodes_, &policy_, &events_),
      workers_service_(&remote_, &runs_, &policy_),
      health_(migrator, cfg.health_interval,
              [this](bool db_ok, const std::string& reason) {
                if (!engine_running_.load()) {
                  policy_.SetServing(false, reason.empty() ? "starting" : reason);
                }
                grpc_health_.SetServing(db_ok && engine_running_.load());
              }),
      gauges_(&metrics_,
              GaugeSources{[this] { return Ready().ready; }, &store_, &nodes_, &dispatcher_, &hub_,
                           &events_, &auth_,
                           [this] {
                             std::vector<PoolGauge> out;
                             for (const auto& [pool, stats] :
                                  {std::pair{"runs", store_.pool_stats()},
                                   std::pair{"dispatch", store_.dispatch_pool_stats()},
                                   std::pair{"events", event_store_.pool_stats()}}) {
                               out.push_back({pool, stats.in_use, stats.open, stats.size});
                             }
                             return out;
                           }}),
      executor_(std::max(4, 2 * cfg.db_pool_size), "api-handler"),
      async_server_(&service_, &workers_service_, &grpc_health_, &executor_) {
  store_.SetEventsWrittenHook([this] { events_.Kick(); });
  runs_.set_metrics(&metrics_);
  runs_.set_blobs(&store_);
  runs_.set_schedules(&store_);
  // A daemon is live while seen within three heartbeats (NodeRegistry).
  runs_.set_queues(&queue_store_, 3 * cfg.node_heartbeat);
  runs_.set_remote_workers(&remote_);
  nodes_.set_workers(&worker_store_);
  rescuer_.set_metrics(&metrics_);
  deadlines_.set_metrics(&metrics_);
  vacuumer_.set_metrics(&metrics_);
  policy_.SetServing(false, "starting");
  AddProbeRoutes(&http_, &metrics_, [this] { return Ready(); });
}

Readiness Daemon::Ready() {
  if (!engine_running_.load()) {
    std::string why = health_.reason();
    return {false, why.empty() ? "starting" : why};
  }
  if (!health_.ready()) return {false, health_.reason()};
  return {true, ""};
}

int Daemon::Run() {
  if (int r = OpenListeners()) return r;
  if (auto code = WaitUntilServable()) return StopBeforeServing(*code);
  StartEngine();
  Shutdown(WaitForShutdownSignal());
  return 0;
}

int Daemon::OpenListeners() {
  if (!cfg_.metrics_listen.empty()) {
    std::string error;
    std::string bound = http_.Start(cfg_.metrics_listen, &error);
    if (bound.empty()) {
      logging::Error(log_, "cannot serve metrics", {{"error", error}});
      return 1;
    }
    logging::Info(log_, "metrics endpoint",
                  {{"address", bound}, {"paths", "/metrics,/healthz,/readyz"}});
  }
  std::string cred_error;
  auto creds = ListenerCredentials(cfg_, &cred_error);
  if (!creds) {
    logging::Error(log_, cred_error);
    return 1;
  }
  // Health is our own service (api::HealthService): gRPC's built-in one is
  // a callback service, and any callback service brings gRPC's napping
  // "nexting" threads (api/async_server.h).
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg_.listen, creds, &port);
  builder.RegisterService(&service_);
  builder.RegisterService(&workers_service_);
  builder.RegisterService(&grpc_health_);
  std::unique_ptr<grpc::ServerCompletionQueue> call_queue = builder.AddCompletionQueue();
  // A full batch of maximal inputs must fit, with room for the envelope.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(size_t{1} << 30, cfg_.max_payload_bytes * 4 + (size_t{16} << 20))));
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    logging::Error(log_, "cannot listen", {{"address", cfg_.listen}});
    http_.Stop();
    return 1;
  }
  async_server_.Start(std::move(call_queue), 2);
  address_ = cfg_.listen.substr(0, cfg_.listen.rfind(':')) + ":" + std::to_string(port);
  logging::Info(
      log_, "listening",
      {{"address", address_},
       {"tls", cfg_.tls_cert.empty() ? "off" : (cfg_.tls_client_ca.empty() ? "on" : "mutual")},
       {"auth", auth_.enabled() ? "bearer" : "off"}});
  return 0;
}

std::optional<int> Daemon::WaitUntilServable() {
  // Meanwhile health says NOT_SERVING and calls get UNAVAILABLE.
  policy_.SetServing(false, "waiting for the database");
  if (int r = WaitForDatabase(*migrator_, cfg_.db_connect_timeout, *log_)) {
    if (r != 1) logging::Info(log_, "shutting down before serving", {{"signal", SignalName(r)}});
    return r == 1 ? 1 : 0;
  }
  if (cfg_.auto_migrate && !MigrateSchema(*migrator_, *log_)) return 1;
  // Without auto-migrate, wait (NOT_SERVING) until `cueballd migrate` has run.
  if (!health_.CheckNow()) {
    logging::Warn(log_, "waiting for the database", {{"reason", health_.reason()}});
    while (!health_.CheckNow()) {
      if (int sig = WaitForShutdownSignal(cfg_.health_interval)) {
        logging::Info(log_, "shutting down before serving", {{"signal", SignalName(sig)}});
        return 0;
      }
    }
  }
  return std::nullopt;
}

int Daemon::StopBeforeServing(int code) {
  health_.Stop();
  grpc_health_.Shutdown();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  async_server_.Stop();
  http_.Stop();
  return code;
}

void Daemon::StartEngine() {
  hub_.Start();
  events_.Start();
  listener_.Start();
  dispatcher_.Start();
  remote_.Start();
  waker_.Start();
  rescuer_.Start();
  scheduler_.Start();
  deadlines_.Start();
  retention_.Start();
  vacuumer_.Start();
  nodes_.Start(address_);
  engine_running_.store(true);
  policy_.SetServing(true);
  health_.CheckNow();
  grpc_health_.SetServing(health_.ready());
  health_.Start();
  logging::Info(log_, "serving",
                {{"address", address_},
                 {"workers", cfg_.workers},
                 {"queues", fmt::format("{}", fmt::join(cfg_.queues, ","))},
                 {"types", fmt::format("{}", fmt::join(registry_->Names(), ","))}});
}

void Daemon::Shutdown(int signal) {
  logging::Info(log_, "shutting down",
                {{"signal", SignalName(signal)}, {"in_flight", dispatcher_.in_flight()}});
  engine_running_.store(false);
  health_.Stop();           // NOT_SERVING, /readyz 503: probes move traffic away
  grpc_health_.Shutdown();  // NOT_SERVING, and Health/Watch streams end
  hub_.Stop();              // answers every pending Wait before the server stops
  remote_.Stop();           // answers every parked PollSteps (empty)
  events_.CloseStreams();   // ends every event stream (clients resume elsewhere)
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  async_server_.Stop();  // the calls still being handled finish first
  rescuer_.Stop();
  scheduler_.Stop();
  deadlines_.Stop();
  waker_.Stop();
  retention_.Stop();
  vacuumer_.Stop();
  nodes_.Stop();
  dispatcher_.Stop();
  events_.Stop();  // numbers the events of the drain, then stops the sequencer
  listener_.Stop();
  http_.Stop();
  logging::Info(log_, "stopped");
}

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
  if (cfg.mode == config::Config::Mode::kMigrate) {
    if (int r = WaitForDatabase(migrator, cfg.db_connect_timeout, *log)) return r == 1 ? 1 : 0;
    return MigrateSchema(migrator, *log) ? 0 : 1;
  }
  auto registry = std::make_unique<engine::Registry>();
  Status st = workers::RegisterBuiltins(*registry);
  if (st.ok()) st = workers::RegisterPayment(*registry);
  if (st.ok() && !cfg.workflows_dir.empty()) {
    st = workers::LoadWorkflowFiles(cfg.workflows_dir, *registry);
  }
  if (!st.ok()) {
    logging::Error(log, "registering workflow types failed", {{"error", st.message()}});
    return 1;
  }
  Daemon daemon(cfg, log, &migrator, std::move(registry));
  return daemon.Run();
}

}  // namespace cueball::app
