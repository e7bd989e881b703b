#include "server/app/app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>

#include "server/api/workflows_service.h"
#include "server/domain/version.h"
#include "server/engine/change_router.h"
#include "server/engine/dispatcher.h"
#include "server/engine/event_service.h"
#include "server/engine/run_service.h"
#include "server/engine/wait_hub.h"
#include "server/maintenance/node_registry.h"
#include "server/maintenance/rescuer.h"
#include "server/maintenance/retention.h"
#include "server/store/postgres/migrator.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_listener.h"
#include "server/store/postgres/pg_node_store.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/pg_run_store.h"
#include "workers/builtin.h"

namespace cueball::app {
namespace {

void SetupLogging(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  for (const char* name : {"main", "api", "engine", "store", "maint"}) {
    if (spdlog::get(name)) continue;
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(spdlog::get("main"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %n %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
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
  SetupLogging(cfg.log_level);
  auto log = spdlog::get("main");
  log->info("starting node={} database={}", cfg.node_id, store::pg::RedactDsn(cfg.database_url));

  store::pg::Migrator migrator(cfg.database_url, store::pg::BuiltinMigrations());
  auto migrated = migrator.Migrate();
  if (!migrated.ok()) {
    log->error("migrations failed: {}", migrated.status().message());
    return 1;
  }
  for (const auto& name : migrated->applied) log->info("migration applied name={}", name);
  log->info("schema ready version={}", migrated->current_version);
  if (cfg.migrate_only) return 0;

  engine::Registry registry;
  Status st = workers::RegisterBuiltins(registry);
  if (!st.ok()) {
    log->error("registering workflow types failed: {}", st.message());
    return 1;
  }

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
  engine::Dispatcher dispatcher(&store, &registry, dopts);
  engine::Limits limits;
  limits.max_payload_bytes = cfg.max_payload_bytes;
  limits.max_waiters = cfg.max_waiters;
  limits.max_queued = cfg.max_queued;
  engine::RunService runs(&store, &registry, &hub, &dispatcher, limits);
  engine::ChangeRouter router(&dispatcher, &hub, &events);
  maintenance::Rescuer rescuer(&store, &registry, cfg.rescue_interval);
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
  self.workers = cfg.workers;
  maintenance::NodeRegistry nodes(&node_store, self, cfg.node_heartbeat);
  api::RateLimiter limiter(cfg.max_request_rate);
  api::WorkflowsService service(&runs, &nodes, &limiter, &events);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(cfg.listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  // A full batch of maximal inputs must fit, with room for the envelope.
  builder.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<size_t>(size_t{1} << 30, cfg.max_payload_bytes * 4 + (size_t{16} << 20))));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    log->error("cannot listen on {}", cfg.listen);
    return 1;
  }
  hub.Start();
  events.Start();
  listener.Start();
  dispatcher.Start();
  rescuer.Start();
  retention.Start();
  const std::string address =
      cfg.listen.substr(0, cfg.listen.rfind(':')) + ":" + std::to_string(port);
  nodes.Start(address);
  server->GetHealthCheckService()->SetServingStatus(true);
  log->info("listening address={} workers={} queues={} types={}", address, cfg.workers,
            fmt::join(cfg.queues, ","), fmt::join(registry.Names(), ","));

  int sig = WaitForShutdownSignal();
  log->info("shutting down signal={} in_flight={}", sig == SIGINT ? "SIGINT" : "SIGTERM",
            dispatcher.in_flight());
  server->GetHealthCheckService()->SetServingStatus(false);
  hub.Stop();             // answers every pending Wait before the server stops
  events.CloseStreams();  // ends every event stream (clients resume elsewhere)
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  rescuer.Stop();
  retention.Stop();
  nodes.Stop();
  dispatcher.Stop();
  events.Stop();  // numbers the events of the drain, then stops the sequencer
  listener.Stop();
  log->info("stopped");
  return 0;
}

}  // namespace cueball::app
