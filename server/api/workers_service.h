// WorkersService: the cueball.v1.Workers gRPC service (remote workers,
// proto/cueball/v1/workers.proto). Like WorkflowsService, its unary calls
// are async methods AsyncServer serves from its completion queue, each
// handler on the api's executor, through the same CallPolicy (auth, rate
// limit, request ids, metrics). PollSteps is held like Wait: parked in the
// engine (RemoteWorkers) without a thread until runs come or its wait ends.
#pragma once

#include "cueball/v1/workers.grpc.pb.h"
#include "server/api/call_policy.h"
#include "server/engine/remote_workers.h"
#include "server/engine/run_service.h"

namespace cueball::api {

using WorkersServiceBase =
    v1::Workers::WithAsyncMethod_RegisterWorker<v1::Workers::WithAsyncMethod_PollSteps<
        v1::Workers::WithAsyncMethod_Heartbeat<v1::Workers::WithAsyncMethod_CompleteSteps<
            v1::Workers::WithAsyncMethod_StopWorker<v1::Workers::WithAsyncMethod_ListWorkers<
                v1::Workers::WithAsyncMethod_TakeSignal<v1::Workers::WithAsyncMethod_EnqueueChild<
                    v1::Workers::WithAsyncMethod_GetRuns<v1::Workers::WithAsyncMethod_SaveBlob<
                        v1::Workers::WithAsyncMethod_LoadBlob<v1::Workers::Service>>>>>>>>>>>;

class WorkersService final : public WorkersServiceBase {
 public:
  WorkersService(engine::RemoteWorkers* workers, engine::RunService* runs, CallPolicy* policy)
      : workers_(workers), runs_(runs), policy_(policy) {}

  grpc::Status RegisterWorker(grpc::ServerContext* ctx, const v1::RegisterWorkerRequest* req,
                              v1::RegisterWorkerResponse* resp) override;
  // Starts a PollSteps call: `done` runs exactly once, after `resp` is
  // filled. Returns a handle for AbortPoll (0 when `done` already ran).
  uint64_t StartPoll(grpc::ServerContext* ctx, const v1::PollStepsRequest* req,
                     v1::PollStepsResponse* resp, std::function<void(const grpc::Status&)> done);
  void AbortPoll(uint64_t handle) { workers_->AbortPoll(handle); }
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                         v1::HeartbeatResponse* resp) override;
  grpc::Status CompleteSteps(grpc::ServerContext* ctx, const v1::CompleteStepsRequest* req,
                             v1::CompleteStepsResponse* resp) override;
  grpc::Status StopWorker(grpc::ServerContext* ctx, const v1::StopWorkerRequest* req,
                          v1::StopWorkerResponse* resp) override;
  grpc::Status ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest* req,
                           v1::ListWorkersResponse* resp) override;
  grpc::Status TakeSignal(grpc::ServerContext* ctx, const v1::TakeSignalRequest* req,
                          v1::TakeSignalResponse* resp) override;
  grpc::Status EnqueueChild(grpc::ServerContext* ctx, const v1::EnqueueChildRequest* req,
                            v1::EnqueueChildResponse* resp) override;
  grpc::Status GetRuns(grpc::ServerContext* ctx, const v1::GetRunsRequest* req,
                       v1::GetRunsResponse* resp) override;
  grpc::Status SaveBlob(grpc::ServerContext* ctx, const v1::SaveBlobRequest* req,
                        v1::SaveBlobResponse* resp) override;
  grpc::Status LoadBlob(grpc::ServerContext* ctx, const v1::LoadBlobRequest* req,
                        v1::LoadBlobResponse* resp) override;

 private:
  // Runs `body` with the step services of the attempt `token` names.
  template <typename F>
  grpc::Status WithServices(const std::string& token, F&& body);

  engine::RemoteWorkers* const workers_;
  engine::RunService* const runs_;
  CallPolicy* const policy_;
};

}  // namespace cueball::api
