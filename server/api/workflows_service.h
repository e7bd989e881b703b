// WorkflowsService: the cueball.v1.Workflows gRPC service. Its unary calls
// (Wait included) are async methods that AsyncServer serves from a
// completion queue, running each handler below on the api's executor; the
// handlers keep gRPC's sync signatures. WatchEvents and GetBlob are sync
// server streams: each holds one thread (WatchEvents bounded by
// --max-watchers) and blocks in Write while the client is slow, which is
// the flow control. Every handler validates through the engine, maps domain
// errors to gRPC status codes with messages naming the field, and never
// throws.
#pragma once

#include "cueball/v1/workflows.grpc.pb.h"
#include "server/api/call_policy.h"
#include "server/engine/event_service.h"
#include "server/engine/run_service.h"
#include "server/maintenance/node_registry.h"

namespace cueball::api {

using ScheduleMethods =
    v1::Workflows::WithAsyncMethod_CreateSchedule<v1::Workflows::WithAsyncMethod_ListSchedules<
        v1::Workflows::WithAsyncMethod_PauseSchedule<v1::Workflows::WithAsyncMethod_ResumeSchedule<
            v1::Workflows::WithAsyncMethod_DeleteSchedule<v1::Workflows::Service>>>>>;

using WorkflowsServiceBase =
    v1::Workflows::WithAsyncMethod_Enqueue<v1::Workflows::WithAsyncMethod_EnqueueBatch<
        v1::Workflows::WithAsyncMethod_Get<v1::Workflows::WithAsyncMethod_Wait<
            v1::Workflows::WithAsyncMethod_List<v1::Workflows::WithAsyncMethod_Cancel<
                v1::Workflows::WithAsyncMethod_Retry<v1::Workflows::WithAsyncMethod_ListNodes<
                    v1::Workflows::WithAsyncMethod_ListWorkflowTypes<
                        v1::Workflows::WithAsyncMethod_AckEvents<
                            v1::Workflows::WithAsyncMethod_ListSubscriptions<
                                v1::Workflows::WithAsyncMethod_DeleteSubscription<
                                    v1::Workflows::WithAsyncMethod_Signal<
                                        v1::Workflows::WithAsyncMethod_ListBlobs<
                                            v1::Workflows::WithAsyncMethod_CancelRuns<
                                                v1::Workflows::WithAsyncMethod_RetryRuns<
                                                    v1::Workflows::WithAsyncMethod_PauseQueue<
                                                        v1::Workflows::WithAsyncMethod_ResumeQueue<
                                                            v1::Workflows::WithAsyncMethod_ListQueues<
                                                                ScheduleMethods>>>>>>>>>>>>>>>>>>>;

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
  // Starts a Wait call: `done` runs exactly once, on some other thread or
  // inline, after `resp` is filled. Returns a handle for AbortWait (0 when
  // `done` already ran).
  uint64_t StartWait(grpc::ServerContext* ctx, const v1::WaitRequest* req, v1::WaitResponse* resp,
                     std::function<void(const grpc::Status&)> done);
  // The client went away: `done` runs soon with whatever is known.
  void AbortWait(uint64_t handle);
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                    v1::ListResponse* resp) override;
  grpc::Status Cancel(grpc::ServerContext* ctx, const v1::CancelRequest* req,
                      v1::CancelResponse* resp) override;
  grpc::Status Retry(grpc::ServerContext* ctx, const v1::RetryRequest* req,
                     v1::RetryResponse* resp) override;
  grpc::Status CancelRuns(grpc::ServerContext* ctx, const v1::CancelRunsRequest* req,
                          v1::CancelRunsResponse* resp) override;
  grpc::Status RetryRuns(grpc::ServerContext* ctx, const v1::RetryRunsRequest* req,
                         v1::RetryRunsResponse* resp) override;
  grpc::Status PauseQueue(grpc::ServerContext* ctx, const v1::PauseQueueRequest* req,
                          v1::PauseQueueResponse* resp) override;
  grpc::Status ResumeQueue(grpc::ServerContext* ctx, const v1::ResumeQueueRequest* req,
                           v1::ResumeQueueResponse* resp) override;
  grpc::Status ListQueues(grpc::ServerContext* ctx, const v1::ListQueuesRequest* req,
                          v1::ListQueuesResponse* resp) override;
  grpc::Status CreateSchedule(grpc::ServerContext* ctx, const v1::CreateScheduleRequest* req,
                              v1::CreateScheduleResponse* resp) override;
  grpc::Status ListSchedules(grpc::ServerContext* ctx, const v1::ListSchedulesRequest* req,
                             v1::ListSchedulesResponse* resp) override;
  grpc::Status PauseSchedule(grpc::ServerContext* ctx, const v1::PauseScheduleRequest* req,
                             v1::PauseScheduleResponse* resp) override;
  grpc::Status ResumeSchedule(grpc::ServerContext* ctx, const v1::ResumeScheduleRequest* req,
                              v1::ResumeScheduleResponse* resp) override;
  grpc::Status DeleteSchedule(grpc::ServerContext* ctx, const v1::DeleteScheduleRequest* req,
                              v1::DeleteScheduleResponse* resp) override;
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
  // Sets `unserved` on an unfinished run no live daemon runs (Get, List).
  void MarkUnserved(v1::Run* run) const;
  // CancelRuns and RetryRuns: one request shape, a different engine call;
  // `logged` is the log line of a change.
  using BulkFn = StatusOr<engine::BulkResult> (engine::RunService::*)(const engine::BulkSpec&,
                                                                      const std::function<bool()>&);
  template <class Req, class Resp>
  grpc::Status Bulk(const char* method, grpc::ServerContext* ctx, const Req& req, Resp* resp,
                    BulkFn run, const char* logged);
  grpc::Status EnqueueMany(const std::vector<const v1::EnqueueRequest*>& reqs, bool batch,
                           std::vector<v1::EnqueueResponse*> outs);

  engine::RunService* const runs_;
  maintenance::NodeRegistry* const nodes_;
  CallPolicy* const policy_;
  engine::EventService* const events_;
};

}  // namespace cueball::api
