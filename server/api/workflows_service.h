// WorkflowsService: the cueball.v1.Workflows gRPC service. Unary calls that
// touch the database run on gRPC's sync thread pool; Wait is a callback
// (reactor) method so that thousands of waiters hold no thread while they
// wait. WatchEvents is a sync server stream: each stream holds one thread
// (bounded by --max-watchers) and blocks in Write while the client is slow,
// which is the flow control. Every handler validates through the engine, maps domain errors to
// gRPC status codes with messages naming the field, and never throws.
#pragma once

#include "cueball/v1/workflows.grpc.pb.h"
#include "server/api/call_policy.h"
#include "server/engine/event_service.h"
#include "server/engine/run_service.h"
#include "server/maintenance/node_registry.h"

namespace cueball::api {

using WorkflowsServiceBase = v1::Workflows::WithCallbackMethod_Wait<v1::Workflows::Service>;

class WorkflowsService final : public WorkflowsServiceBase {
 public:
  // `nodes` may be null: ListNodes then answers UNIMPLEMENTED; so may
  // `events` (the event stream calls). Every call goes through `policy`
  // (auth, readiness, rate limit, request ids, metrics).
  WorkflowsService(engine::RunService* runs, maintenance::NodeRegistry* nodes, CallPolicy* policy,
                   engine::EventService* events);

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

  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) override;
  grpc::Status AckEvents(grpc::ServerContext* ctx, const v1::AckEventsRequest* req,
                         v1::AckEventsResponse* resp) override;
  grpc::Status ListSubscriptions(grpc::ServerContext* ctx, const v1::ListSubscriptionsRequest* req,
                                 v1::ListSubscriptionsResponse* resp) override;
  grpc::Status DeleteSubscription(grpc::ServerContext* ctx,
                                  const v1::DeleteSubscriptionRequest* req,
                                  v1::DeleteSubscriptionResponse* resp) override;
  grpc::Status Signal(grpc::ServerContext* ctx, const v1::SignalRequest* req,
                      v1::SignalResponse* resp) override;
  grpc::Status ListBlobs(grpc::ServerContext* ctx, const v1::ListBlobsRequest* req,
                         v1::ListBlobsResponse* resp) override;
  grpc::Status GetBlob(grpc::ServerContext* ctx, const v1::GetBlobRequest* req,
                       grpc::ServerWriter<v1::GetBlobResponse>* writer) override;

 private:
  int StepCount(const std::string& type) const;
  grpc::Status EnqueueMany(const std::vector<const v1::EnqueueRequest*>& reqs, bool batch,
                           std::vector<v1::EnqueueResponse*> outs);

  engine::RunService* const runs_;
  maintenance::NodeRegistry* const nodes_;
  CallPolicy* const policy_;
  engine::EventService* const events_;
};

}  // namespace cueball::api
