#include "server/api/async_server.h"

#include <pthread.h>

#include <functional>
#include <mutex>

namespace cueball::api {
namespace {

using Call = AsyncServer::Call;

// A unary method: how to ask gRPC for its next call, and its handler.
template <class Service, class Req, class Resp>
struct Method {
  using Ask = void (Service::*)(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                                grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);
  using Handle = std::function<grpc::Status(grpc::ServerContext*, const Req*, Resp*)>;
  AsyncServer* server;
  Service* service;
  Ask ask;
  Handle handle;
  Executor* executor;  // null: the handler is quick and runs on the queue's thread
  grpc::ServerCompletionQueue* cq;
};

// One unary call: asked for, then handled (on the executor), then finished.
template <class Service, class Req, class Resp>
class UnaryCall final : public Call {
 public:
  using M = Method<Service, Req, Resp>;
  static void Listen(const M* m) {
    m->server->Listen([m] {
      auto* call = new UnaryCall(m);
      (m->service->*m->ask)(&call->ctx_, &call->req_, &call->writer_, m->cq, m->cq, call);
    });
  }

  void Proceed(bool ok) override {
    if (answered_ || !ok) {  // finished, or never started (the server is stopping)
      m_->server->Retire(this);
      return;
    }
    Listen(m_);  // the next call of this method
    answered_ = true;
    auto run = [this] { writer_.Finish(resp_, m_->handle(&ctx_, &req_, &resp_), this); };
    if (m_->executor) {
      m_->executor->Post(std::move(run));
    } else {
      run();
    }
  }

 private:
  explicit UnaryCall(const M* m) : m_(m), writer_(&ctx_) {}

  const M* const m_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> writer_;
  bool answered_ = false;
};

// A held call (Wait, PollSteps): it finishes when the engine answers (from
// whichever thread that happens on), and a client that goes away aborts it
// (the context's done tag).
template <class Req, class Resp>
class HeldCall final : public Call {
 public:
  struct M {
    AsyncServer* server;
    // Asks gRPC for the next call of the method.
    std::function<void(grpc::ServerContext*, Req*, grpc::ServerAsyncResponseWriter<Resp>*,
                       grpc::ServerCompletionQueue*, void*)>
        ask;
    // Starts the call; `done` runs once. Returns a handle for `abort` (0:
    // done already ran).
    std::function<uint64_t(grpc::ServerContext*, const Req*, Resp*,
                           std::function<void(const grpc::Status&)>)>
        start;
    std::function<void(uint64_t)> abort;
    Executor* executor;
    grpc::ServerCompletionQueue* cq;
  };
  static void Listen(const M* m) {
    m->server->Listen([m] {
      auto* call = new HeldCall(m);
      call->ctx_.AsyncNotifyWhenDone(&call->done_tag_);
      m->ask(&call->ctx_, &call->req_, &call->writer_, m->cq, call);
    });
  }

  void Proceed(bool ok) override {
    if (!started_) {
      if (!ok) {  // never started: the done tag does not come either
        m_->server->Retire(this);
        return;
      }
      started_ = true;
      Listen(m_);
      m_->executor->Post([this] {
        uint64_t handle = m_->start(&ctx_, &req_, &resp_, [this](const grpc::Status& s) {
          writer_.Finish(resp_, s, this);
        });
        {
          std::lock_guard<std::mutex> lock(mu_);
          handle_ = handle;
          if (cancelled_ && handle_) m_->abort(handle_);
        }
        Release();  // the call may finish (and both its tags come back) before this
      });
      return;
    }
    Release();  // the finish tag
  }

 private:
  struct DoneTag final : Call {
    HeldCall* call;
    void Proceed(bool) override {
      {
        std::lock_guard<std::mutex> lock(call->mu_);
        if (call->ctx_.IsCancelled()) {
          call->cancelled_ = true;
          if (call->handle_) call->m_->abort(call->handle_);
        }
      }
      call->Release();  // the done tag
    }
  };

  explicit HeldCall(const M* m) : m_(m), writer_(&ctx_) { done_tag_.call = this; }

  // Deletes the call once its finish tag, its done tag and the task that
  // started it are all done with it.
  void Release() {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last = --holders_ == 0;
    }
    if (last) m_->server->Retire(this);
  }

  const M* const m_;
  grpc::ServerContext ctx_;
  Req req_;
  Resp resp_;
  grpc::ServerAsyncResponseWriter<Resp> writer_;
  DoneTag done_tag_;
  bool started_ = false;
  std::mutex mu_;
  uint64_t handle_ = 0;
  bool cancelled_ = false;
  int holders_ = 3;  // the finish tag, the done tag, the starting task
};

using WaitCall = HeldCall<v1::WaitRequest, v1::WaitResponse>;
using PollCall = HeldCall<v1::PollStepsRequest, v1::PollStepsResponse>;

template <class Req, class Resp>
using WfMethod = Method<WorkflowsService, Req, Resp>;
template <class Req, class Resp>
using WkMethod = Method<WorkersService, Req, Resp>;

// Asks for the first call of a unary method.
template <class Service, class Req, class Resp>
void ListenFirst(const Method<Service, Req, Resp>* m) {
  UnaryCall<Service, Req, Resp>::Listen(m);
}

}  // namespace

struct AsyncServer::Methods {
  WfMethod<v1::EnqueueRequest, v1::EnqueueResponse> enqueue;
  WfMethod<v1::EnqueueBatchRequest, v1::EnqueueBatchResponse> enqueue_batch;
  WfMethod<v1::GetRequest, v1::GetResponse> get;
  WfMethod<v1::ListRequest, v1::ListResponse> list;
  WfMethod<v1::CancelRequest, v1::CancelResponse> cancel;
  WfMethod<v1::RetryRequest, v1::RetryResponse> retry;
  WfMethod<v1::ListNodesRequest, v1::ListNodesResponse> list_nodes;
  WfMethod<v1::ListWorkflowTypesRequest, v1::ListWorkflowTypesResponse> list_types;
  WfMethod<v1::AckEventsRequest, v1::AckEventsResponse> ack_events;
  WfMethod<v1::ListSubscriptionsRequest, v1::ListSubscriptionsResponse> list_subscriptions;
  WfMethod<v1::DeleteSubscriptionRequest, v1::DeleteSubscriptionResponse> delete_subscription;
  WfMethod<v1::SignalRequest, v1::SignalResponse> signal;
  WfMethod<v1::ListBlobsRequest, v1::ListBlobsResponse> list_blobs;
  WfMethod<v1::CancelRunsRequest, v1::CancelRunsResponse> cancel_runs;
  WfMethod<v1::RetryRunsRequest, v1::RetryRunsResponse> retry_runs;
  WfMethod<v1::PauseQueueRequest, v1::PauseQueueResponse> pause_queue;
  WfMethod<v1::ResumeQueueRequest, v1::ResumeQueueResponse> resume_queue;
  WfMethod<v1::ListQueuesRequest, v1::ListQueuesResponse> list_queues;
  WfMethod<v1::CreateScheduleRequest, v1::CreateScheduleResponse> create_schedule;
  WfMethod<v1::ListSchedulesRequest, v1::ListSchedulesResponse> list_schedules;
  WfMethod<v1::PauseScheduleRequest, v1::PauseScheduleResponse> pause_schedule;
  WfMethod<v1::ResumeScheduleRequest, v1::ResumeScheduleResponse> resume_schedule;
  WfMethod<v1::DeleteScheduleRequest, v1::DeleteScheduleResponse> delete_schedule;
  WaitCall::M wait;
  WkMethod<v1::RegisterWorkerRequest, v1::RegisterWorkerResponse> register_worker;
  WkMethod<v1::HeartbeatRequest, v1::HeartbeatResponse> heartbeat;
  WkMethod<v1::CompleteStepsRequest, v1::CompleteStepsResponse> complete_steps;
  WkMethod<v1::StopWorkerRequest, v1::StopWorkerResponse> stop_worker;
  WkMethod<v1::ListWorkersRequest, v1::ListWorkersResponse> list_workers;
  WkMethod<v1::TakeSignalRequest, v1::TakeSignalResponse> take_signal;
  WkMethod<v1::EnqueueChildRequest, v1::EnqueueChildResponse> enqueue_child;
  WkMethod<v1::GetRunsRequest, v1::GetRunsResponse> get_runs;
  WkMethod<v1::SaveBlobRequest, v1::SaveBlobResponse> save_blob;
  WkMethod<v1::LoadBlobRequest, v1::LoadBlobResponse> load_blob;
  PollCall::M poll;
  Method<HealthService, grpc::health::v1::HealthCheckRequest, grpc::health::v1::HealthCheckResponse>
      check;
};

AsyncServer::AsyncServer(WorkflowsService* workflows, WorkersService* workers,
                         HealthService* health, Executor* executor)
    : workflows_(workflows), workers_(workers), health_(health), executor_(executor) {}

AsyncServer::~AsyncServer() { Stop(); }

void AsyncServer::Start(std::unique_ptr<grpc::ServerCompletionQueue> cq, int threads) {
  cq_ = std::move(cq);
  auto* w = workflows_;
  auto* q = cq_.get();
  // The handlers are WorkflowsService's methods with gRPC's sync signatures.
  auto* k = workers_;
  auto bind = [w](auto fn) {
    return [w, fn](grpc::ServerContext* ctx, const auto* req, auto* resp) {
      return (w->*fn)(ctx, req, resp);
    };
  };
  auto bindk = [k](auto fn) {
    return [k, fn](grpc::ServerContext* ctx, const auto* req, auto* resp) {
      return (k->*fn)(ctx, req, resp);
    };
  };
  using S = WorkflowsService;
  using K = WorkersService;
  methods_.reset(new Methods{
      {this, w, &S::RequestEnqueue, bind(&S::Enqueue), executor_, q},
      {this, w, &S::RequestEnqueueBatch, bind(&S::EnqueueBatch), executor_, q},
      {this, w, &S::RequestGet, bind(&S::Get), executor_, q},
      {this, w, &S::RequestList, bind(&S::List), executor_, q},
      {this, w, &S::RequestCancel, bind(&S::Cancel), executor_, q},
      {this, w, &S::RequestRetry, bind(&S::Retry), executor_, q},
      {this, w, &S::RequestListNodes, bind(&S::ListNodes), executor_, q},
      {this, w, &S::RequestListWorkflowTypes, bind(&S::ListWorkflowTypes), executor_, q},
      {this, w, &S::RequestAckEvents, bind(&S::AckEvents), executor_, q},
      {this, w, &S::RequestListSubscriptions, bind(&S::ListSubscriptions), executor_, q},
      {this, w, &S::RequestDeleteSubscription, bind(&S::DeleteSubscription), executor_, q},
      {this, w, &S::RequestSignal, bind(&S::Signal), executor_, q},
      {this, w, &S::RequestListBlobs, bind(&S::ListBlobs), executor_, q},
      {this, w, &S::RequestCancelRuns, bind(&S::CancelRuns), executor_, q},
      {this, w, &S::RequestRetryRuns, bind(&S::RetryRuns), executor_, q},
      {this, w, &S::RequestPauseQueue, bind(&S::PauseQueue), executor_, q},
      {this, w, &S::RequestResumeQueue, bind(&S::ResumeQueue), executor_, q},
      {this, w, &S::RequestListQueues, bind(&S::ListQueues), executor_, q},
      {this, w, &S::RequestCreateSchedule, bind(&S::CreateSchedule), executor_, q},
      {this, w, &S::RequestListSchedules, bind(&S::ListSchedules), executor_, q},
      {this, w, &S::RequestPauseSchedule, bind(&S::PauseSchedule), executor_, q},
      {this, w, &S::RequestResumeSchedule, bind(&S::ResumeSchedule), executor_, q},
      {this, w, &S::RequestDeleteSchedule, bind(&S::DeleteSchedule), executor_, q},
      {this,
       [w](grpc::ServerContext* ctx, v1::WaitRequest* req,
           grpc::ServerAsyncResponseWriter<v1::WaitResponse>* writer,
           grpc::ServerCompletionQueue* cq,
           void* tag) { w->RequestWait(ctx, req, writer, cq, cq, tag); },
       [w](grpc::ServerContext* ctx, const v1::WaitRequest* req, v1::WaitResponse* resp,
           std::function<void(const grpc::Status&)> done) {
         return w->StartWait(ctx, req, resp, std::move(done));
       },
       [w](uint64_t handle) { w->AbortWait(handle); }, executor_, q},
      {this, k, &K::RequestRegisterWorker, bindk(&K::RegisterWorker), executor_, q},
      {this, k, &K::RequestHeartbeat, bindk(&K::Heartbeat), executor_, q},
      {this, k, &K::RequestCompleteSteps, bindk(&K::CompleteSteps), executor_, q},
      {this, k, &K::RequestStopWorker, bindk(&K::StopWorker), executor_, q},
      {this, k, &K::RequestListWorkers, bindk(&K::ListWorkers), executor_, q},
      {this, k, &K::RequestTakeSignal, bindk(&K::TakeSignal), executor_, q},
      {this, k, &K::RequestEnqueueChild, bindk(&K::EnqueueChild), executor_, q},
      {this, k, &K::RequestGetRuns, bindk(&K::GetRuns), executor_, q},
      {this, k, &K::RequestSaveBlob, bindk(&K::SaveBlob), executor_, q},
      {this, k, &K::RequestLoadBlob, bindk(&K::LoadBlob), executor_, q},
      {this,
       [k](grpc::ServerContext* ctx, v1::PollStepsRequest* req,
           grpc::ServerAsyncResponseWriter<v1::PollStepsResponse>* writer,
           grpc::ServerCompletionQueue* cq,
           void* tag) { k->RequestPollSteps(ctx, req, writer, cq, cq, tag); },
       [k](grpc::ServerContext* ctx, const v1::PollStepsRequest* req, v1::PollStepsResponse* resp,
           std::function<void(const grpc::Status&)> done) {
         return k->StartPoll(ctx, req, resp, std::move(done));
       },
       [k](uint64_t handle) { k->AbortPoll(handle); }, executor_, q},
      {this, health_, &HealthService::RequestCheck,
       [h = health_](grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) {
         return h->DoCheck(*req, resp);
       },
       nullptr, q},
  });
  auto& m = *methods_;
  ListenFirst(&m.enqueue);
  ListenFirst(&m.enqueue_batch);
  ListenFirst(&m.get);
  ListenFirst(&m.list);
  ListenFirst(&m.cancel);
  ListenFirst(&m.retry);
  ListenFirst(&m.list_nodes);
  ListenFirst(&m.list_types);
  ListenFirst(&m.ack_events);
  ListenFirst(&m.list_subscriptions);
  ListenFirst(&m.delete_subscription);
  ListenFirst(&m.signal);
  ListenFirst(&m.list_blobs);
  ListenFirst(&m.cancel_runs);
  ListenFirst(&m.retry_runs);
  ListenFirst(&m.pause_queue);
  ListenFirst(&m.resume_queue);
  ListenFirst(&m.list_queues);
  ListenFirst(&m.create_schedule);
  ListenFirst(&m.list_schedules);
  ListenFirst(&m.pause_schedule);
  ListenFirst(&m.resume_schedule);
  ListenFirst(&m.delete_schedule);
  ListenFirst(&m.check);
  WaitCall::Listen(&m.wait);
  ListenFirst(&m.register_worker);
  ListenFirst(&m.heartbeat);
  ListenFirst(&m.complete_steps);
  ListenFirst(&m.stop_worker);
  ListenFirst(&m.list_workers);
  ListenFirst(&m.take_signal);
  ListenFirst(&m.enqueue_child);
  ListenFirst(&m.get_runs);
  ListenFirst(&m.save_blob);
  ListenFirst(&m.load_blob);
  PollCall::Listen(&m.poll);
  for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Loop(); });
}

void AsyncServer::Retire(Call* call) {
  delete call;
  std::lock_guard<std::mutex> lock(live_mu_);
  if (--live_ == 0) none_live_.notify_all();
}

void AsyncServer::Stop() {
  if (!cq_) return;
  {
    std::unique_lock<std::shared_mutex> lock(shutdown_mu_);
    if (shutting_down_) return;
    shutting_down_ = true;  // no more calls are asked for
  }
  // grpc::Server::Shutdown has returned: every call asked for and never
  // started comes back (not ok), and every started one finishes; nothing
  // may be added to the queue once it is shut down, so wait for them all.
  {
    std::unique_lock<std::mutex> lock(live_mu_);
    none_live_.wait_for(lock, std::chrono::seconds(10), [this] { return live_ == 0; });
  }
  executor_->Stop();
  cq_->Shutdown();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void AsyncServer::Loop() {
  pthread_setname_np(pthread_self(), "api-queue");
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
}

}  // namespace cueball::api
