// WorkflowsService: the cueball.v1.Workflows gRPC service. Unary calls that
// touch the database run on gRPC's sync thread pool; Wait is a callback
// (reactor) method so that thousands of waiters hold no thread while they
// wait. Every handler validates through the engine, maps domain errors to
// gRPC status codes with messages naming the field, and never throws.
#pragma once

#include "cueball/v1/workflows.grpc.pb.h"
#include "server/api/rate_limiter.h"
#include "server/engine/run_service.h"
#include "server/maintenance/node_registry.h"

namespace cueball::api {

using WorkflowsServiceBase = v1::Workflows::WithCallbackMethod_Wait<v1::Workflows::Service>;

class WorkflowsService final : public WorkflowsServiceBase {
 public:
  // `nodes` may be null: ListNodes then answers UNIMPLEMENTED. `limiter` may
  // be null: no request rate limit.
  WorkflowsService(engine::RunService* runs, maintenance::NodeRegistry* nodes = nullptr,
                   RateLimiter* limiter = nullptr);

  grpc::Status Enqueue(grpc::ServerContext* ctx, const v1::EnqueueRequest* req,
                       v1::EnqueueResponse* resp) override;
  grpc::Status EnqueueBatch(grpc::ServerContext* ctx, const v1::EnqueueBatchRequest* req,
                            v1::EnqueueBatchResponse* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetRequest* req,
                   v1::GetResponse* resp) override;
  grpc::ServerUnaryReactor* Wait(grpc::CallbackServerContext* ctx, const v1::WaitRequest* req,
                                 v1::WaitResponse* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                    v1::ListResponse* resp) override;
  grpc::Status Cancel(grpc::ServerContext* ctx, const v1::CancelRequest* req,
                      v1::CancelResponse* resp) override;
  grpc::Status Retry(grpc::ServerContext* ctx, const v1::RetryRequest* req,
                     v1::RetryResponse* resp) override;
  grpc::Status ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest* req,
                         v1::ListNodesResponse* resp) override;
  grpc::Status ListWorkflowTypes(grpc::ServerContext* ctx, const v1::ListWorkflowTypesRequest* req,
                                 v1::ListWorkflowTypesResponse* resp) override;

 private:
  int StepCount(const std::string& type) const;
  grpc::Status EnqueueMany(const std::vector<const v1::EnqueueRequest*>& reqs, bool batch,
                           std::vector<v1::EnqueueResponse*> outs);

  engine::RunService* const runs_;
  maintenance::NodeRegistry* const nodes_;
  RateLimiter* const limiter_;
};

}  // namespace cueball::api
