// AsyncServer: serves every unary call of cueball.v1.Workflows (Wait
// included), of cueball.v1.Workers (PollSteps included), and
// grpc.health.v1.Health/Check from one completion queue that
// threads of ours drain without a timeout. A call's handler runs on the
// api's Executor, never on a completion-queue thread, so a handler waiting
// for the database never keeps another call from being read or answered.
// The two server streams (WatchEvents, GetBlob) and Health/Watch stay on
// gRPC's sync pool: each holds a thread while it lasts, by design.
//
// Why not gRPC's callback API: in gRPC 1.51 (Debian 12) a server with any
// callback method gets "nexting" threads that poll with a 1 s timeout and,
// after each timeout, sleep 100 ms; while they sleep no thread polls the
// connections, so a call arriving then waited up to 100 ms, about once a
// second at low rates (docs/design.md, "The api serves calls from a
// completion queue"). This server has no callback method at all.
#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "server/api/executor.h"
#include "server/api/health_service.h"
#include "server/api/workers_service.h"
#include "server/api/workflows_service.h"

namespace cueball::api {

class AsyncServer {
 public:
  // `executor` runs the handlers; both services must be registered with the
  // builder that `cq` comes from (grpc::ServerBuilder::AddCompletionQueue).
  AsyncServer(WorkflowsService* workflows, WorkersService* workers, HealthService* health,
              Executor* executor);
  ~AsyncServer();
  AsyncServer(const AsyncServer&) = delete;
  AsyncServer& operator=(const AsyncServer&) = delete;

  // After grpc::ServerBuilder::BuildAndStart: asks for the first call of
  // each method and starts `threads` threads on the queue.
  void Start(std::unique_ptr<grpc::ServerCompletionQueue> cq, int threads);
  // After grpc::Server::Shutdown: runs the handlers still queued, then
  // shuts the queue down and joins its threads. Idempotent.
  void Stop();

  // One call's state, driven by the tags the queue returns (internal).
  class Call {
   public:
    virtual ~Call() = default;
    virtual void Proceed(bool ok) = 0;
  };
  // Asks for the next call of a method unless the queue is shutting down
  // (internal; `ask` makes the request).
  template <typename F>
  void Listen(F&& ask) {
    std::shared_lock<std::shared_mutex> lock(shutdown_mu_);
    if (shutting_down_) return;
    {
      std::lock_guard<std::mutex> live(live_mu_);
      ++live_;
    }
    ask();
  }
  // Deletes a call asked for by Listen (internal).
  void Retire(Call* call);

 private:
  void Loop();

  WorkflowsService* const workflows_;
  WorkersService* const workers_;
  HealthService* const health_;
  Executor* const executor_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::vector<std::thread> threads_;
  std::shared_mutex shutdown_mu_;
  bool shutting_down_ = false;
  std::mutex live_mu_;
  std::condition_variable none_live_;
  int live_ = 0;  // calls asked for and not yet deleted
  struct Methods;
  std::unique_ptr<Methods> methods_;
};

}  // namespace cueball::api
