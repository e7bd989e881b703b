#include "server/api/workflows_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "server/api/convert.h"
#include "server/logging/logging.h"

namespace cueball::api {
namespace {

using google::protobuf::util::TimeUtil;

std::shared_ptr<spdlog::logger> Log() {
  auto l = spdlog::get("api");
  return l ? l : spdlog::default_logger();
}

// Whether the call's deadline has passed (its client stopped waiting): a
// bulk action stops between batches then. (IsCancelled would need the
// call's AsyncNotifyWhenDone, which AsyncServer asks for only for Wait.)
std::function<bool()> PastDeadline(const grpc::ServerContext* ctx) {
  const auto deadline = ctx->deadline();
  return [deadline] { return std::chrono::system_clock::now() > deadline; };
}

}  // namespace

WorkflowsService::WorkflowsService(engine::RunService* runs, maintenance::NodeRegistry* nodes,
                                   CallPolicy* policy, engine::EventService* events)
    : runs_(runs), nodes_(nodes), policy_(policy), events_(events) {}

int WorkflowsService::StepCount(const std::string& type) const {
  const auto* t = runs_->registry().Find(type);
  return t ? static_cast<int>(t->steps.size()) : 0;
}

void WorkflowsService::MarkUnserved(v1::Run* run) const {
  if (!nodes_ || run->pruned()) return;
  const auto s = run->status();
  if (s == v1::RUN_STATUS_SUCCEEDED || s == v1::RUN_STATUS_FAILED || s == v1::RUN_STATUS_CANCELED)
    return;
  run->set_unserved(!nodes_->Serves(run->workflow_type(), run->queue()).value_or(true));
}

grpc::Status WorkflowsService::EnqueueMany(const std::vector<const v1::EnqueueRequest*>& reqs,
                                           bool batch, std::vector<v1::EnqueueResponse*> outs) {
  std::vector<engine::EnqueueSpec> specs;
  specs.reserve(reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    std::string prefix = batch ? "runs[" + std::to_string(i) + "]." : "";
    if (auto st = FromProto(*reqs[i], prefix, &specs.emplace_back()); !st.ok()) return st;
  }
  auto results = runs_->Enqueue(specs, batch);
  if (!results.ok()) return ToGrpc(results.status());
  for (size_t i = 0; i < results->size(); ++i) {
    const auto& er = (*results)[i];
    ToProto(er.run, StepCount(er.run.workflow_type), outs[i]->mutable_run());
    outs[i]->set_created(er.created);
  }
  return grpc::Status::OK;
}

grpc::Status WorkflowsService::Enqueue(grpc::ServerContext* ctx, const v1::EnqueueRequest* req,
                                       v1::EnqueueResponse* resp) {
  return policy_->Run("Enqueue", ctx, [&] { return EnqueueMany({req}, false, {resp}); });
}

grpc::Status WorkflowsService::EnqueueBatch(grpc::ServerContext* ctx,
                                            const v1::EnqueueBatchRequest* req,
                                            v1::EnqueueBatchResponse* resp) {
  return policy_->Run("EnqueueBatch", ctx, [&] {
    std::vector<const v1::EnqueueRequest*> reqs;
    std::vector<v1::EnqueueResponse*> outs;
    for (const auto& r : req->runs()) {
      reqs.push_back(&r);
      outs.push_back(resp->add_runs());
    }
    grpc::Status s = EnqueueMany(reqs, true, outs);
    if (!s.ok()) resp->Clear();
    return s;
  });
}

grpc::Status WorkflowsService::Get(grpc::ServerContext* ctx, const v1::GetRequest* req,
                                   v1::GetResponse* resp) {
  return policy_->Run("Get", ctx, [&] {
    auto run = runs_->Get(req->id(), req->include_history());
    if (!run.ok()) return ToGrpc(run.status());
    ToProto(*run, StepCount(run->workflow_type), resp->mutable_run());
    MarkUnserved(resp->mutable_run());
    return grpc::Status::OK;
  });
}

uint64_t WorkflowsService::StartWait(grpc::ServerContext* ctx, const v1::WaitRequest* req,
                                     v1::WaitResponse* resp,
                                     std::function<void(const grpc::Status&)> done) {
  const auto start = std::chrono::steady_clock::now();
  logging::ScopedRequestId rid(CallPolicy::RequestId(ctx));
  auto refuse = [&](const grpc::Status& st) {
    policy_->Done("Wait", st, start);
    done(st);
    return uint64_t{0};
  };
  if (grpc::Status admitted = policy_->Admit("Wait", ctx); !admitted.ok()) return refuse(admitted);
  std::vector<std::string> ids(req->ids().begin(), req->ids().end());
  std::optional<Millis> timeout;
  if (req->has_timeout()) {
    if (auto st = CheckDuration(req->timeout(), "timeout"); !st.ok()) return refuse(st);
    timeout = Millis(TimeUtil::DurationToMilliseconds(req->timeout()));
  }
  // Answer before the caller's own deadline, so it gets runs rather than DEADLINE_EXCEEDED.
  timeout =
      CallPolicy::WaitWithinDeadline(ctx, timeout.value_or(runs_->limits().default_wait_timeout));
  return runs_->Wait(ids, req->mode() == v1::WAIT_MODE_ANY, timeout,
                     [this, resp, start, done = std::move(done)](StatusOr<engine::WaitResult> r) {
                       grpc::Status s = grpc::Status::OK;
                       if (!r.ok()) {
                         s = ToGrpc(r.status());
                       } else {
                         try {
                           for (const auto& run : r->runs)
                             ToProto(run, StepCount(run.workflow_type), resp->add_runs());
                           resp->set_satisfied(r->satisfied);
                         } catch (const std::exception& e) {
                           logging::Error(Log(), "wait reply failed", {{"error", e.what()}});
                           s = grpc::Status(grpc::StatusCode::INTERNAL, "Wait: internal error");
                         }
                       }
                       policy_->Done("Wait", s, start);
                       done(s);
                     });
}

void WorkflowsService::AbortWait(uint64_t handle) { runs_->AbortWait(handle); }

grpc::Status WorkflowsService::List(grpc::ServerContext* ctx, const v1::ListRequest* req,
                                    v1::ListResponse* resp) {
  return policy_->Run("List", ctx, [&] {
    engine::ListSpec spec;
    if (auto st = FromProto(*req, &spec); !st.ok()) return st;
    auto page = runs_->List(spec);
    if (!page.ok()) return ToGrpc(page.status());
    for (const auto& run : page->runs) {
      auto* out = resp->add_runs();
      ToProto(run, StepCount(run.workflow_type), out);
      MarkUnserved(out);
    }
    resp->set_next_page_token(page->next_page_token);
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::Cancel(grpc::ServerContext* ctx, const v1::CancelRequest* req,
                                      v1::CancelResponse* resp) {
  return policy_->Run("Cancel", ctx, [&] {
    auto run = runs_->Cancel(req->id(), req->reason());
    if (!run.ok()) return ToGrpc(run.status());
    ToProto(*run, StepCount(run->workflow_type), resp->mutable_run());
    logging::Info(Log(), "run canceled", {{"run", run->id}, {"type", run->workflow_type}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::Retry(grpc::ServerContext* ctx, const v1::RetryRequest* req,
                                     v1::RetryResponse* resp) {
  return policy_->Run("Retry", ctx, [&] {
    auto run = runs_->Retry(req->id(), req->reason());
    if (!run.ok()) return ToGrpc(run.status());
    ToProto(*run, StepCount(run->workflow_type), resp->mutable_run());
    logging::Info(Log(), "run retried",
                  {{"run", run->id}, {"type", run->workflow_type}, {"step", run->step_name}});
    return grpc::Status::OK;
  });
}

template <class Req, class Resp>
grpc::Status WorkflowsService::Bulk(const char* method, grpc::ServerContext* ctx, const Req& req,
                                    Resp* resp, BulkFn run, const char* logged) {
  return policy_->Run(method, ctx, [&] {
    engine::BulkSpec spec;
    if (auto st = FromProto(req.filter(), &spec.filter); !st.ok()) return st;
    spec.all = req.all();
    spec.dry_run = req.dry_run();
    spec.reason = req.reason();
    auto res = (runs_->*run)(spec, PastDeadline(ctx));
    if (!res.ok()) return ToGrpc(res.status());
    resp->set_count(res->count);
    resp->set_dry_run(res->dry_run);
    if (!res->dry_run) logging::Info(Log(), logged, {{"count", res->count}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::CancelRuns(grpc::ServerContext* ctx,
                                          const v1::CancelRunsRequest* req,
                                          v1::CancelRunsResponse* resp) {
  return Bulk("CancelRuns", ctx, *req, resp, &engine::RunService::CancelRuns, "runs canceled");
}

grpc::Status WorkflowsService::RetryRuns(grpc::ServerContext* ctx, const v1::RetryRunsRequest* req,
                                         v1::RetryRunsResponse* resp) {
  return Bulk("RetryRuns", ctx, *req, resp, &engine::RunService::RetryRuns, "runs retried");
}

grpc::Status WorkflowsService::PauseQueue(grpc::ServerContext* ctx,
                                          const v1::PauseQueueRequest* req,
                                          v1::PauseQueueResponse* resp) {
  return policy_->Run("PauseQueue", ctx, [&] {
    auto q = runs_->PauseQueue(req->queue(), req->reason());
    if (!q.ok()) return ToGrpc(q.status());
    ToProto(*q, resp->mutable_queue());
    logging::Info(Log(), "queue paused", {{"queue", q->name}, {"reason", q->pause_reason}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ResumeQueue(grpc::ServerContext* ctx,
                                           const v1::ResumeQueueRequest* req,
                                           v1::ResumeQueueResponse* resp) {
  return policy_->Run("ResumeQueue", ctx, [&] {
    auto q = runs_->ResumeQueue(req->queue());
    if (!q.ok()) return ToGrpc(q.status());
    ToProto(*q, resp->mutable_queue());
    logging::Info(Log(), "queue resumed", {{"queue", q->name}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListQueues(grpc::ServerContext* ctx, const v1::ListQueuesRequest*,
                                          v1::ListQueuesResponse* resp) {
  return policy_->Run("ListQueues", ctx, [&] {
    auto queues = runs_->ListQueues();
    if (!queues.ok()) return ToGrpc(queues.status());
    for (const auto& q : *queues) ToProto(q, resp->add_queues());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::CreateSchedule(grpc::ServerContext* ctx,
                                              const v1::CreateScheduleRequest* req,
                                              v1::CreateScheduleResponse* resp) {
  return policy_->Run("CreateSchedule", ctx, [&] {
    engine::ScheduleSpec spec;
    FromProto(req->schedule(), &spec);
    auto s = runs_->CreateSchedule(spec);
    if (!s.ok()) return ToGrpc(s.status());
    ToProto(*s, resp->mutable_schedule());
    logging::Info(Log(), "schedule created",
                  {{"schedule", s->name}, {"cron", s->cron}, {"timezone", s->timezone}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListSchedules(grpc::ServerContext* ctx,
                                             const v1::ListSchedulesRequest*,
                                             v1::ListSchedulesResponse* resp) {
  return policy_->Run("ListSchedules", ctx, [&] {
    auto all = runs_->ListSchedules();
    if (!all.ok()) return ToGrpc(all.status());
    for (const auto& s : *all) ToProto(s, resp->add_schedules());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::PauseSchedule(grpc::ServerContext* ctx,
                                             const v1::PauseScheduleRequest* req,
                                             v1::PauseScheduleResponse* resp) {
  return policy_->Run("PauseSchedule", ctx, [&] {
    auto s = runs_->PauseSchedule(req->name());
    if (!s.ok()) return ToGrpc(s.status());
    ToProto(*s, resp->mutable_schedule());
    logging::Info(Log(), "schedule paused", {{"schedule", s->name}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ResumeSchedule(grpc::ServerContext* ctx,
                                              const v1::ResumeScheduleRequest* req,
                                              v1::ResumeScheduleResponse* resp) {
  return policy_->Run("ResumeSchedule", ctx, [&] {
    auto s = runs_->ResumeSchedule(req->name());
    if (!s.ok()) return ToGrpc(s.status());
    ToProto(*s, resp->mutable_schedule());
    logging::Info(Log(), "schedule resumed", {{"schedule", s->name}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::DeleteSchedule(grpc::ServerContext* ctx,
                                              const v1::DeleteScheduleRequest* req,
                                              v1::DeleteScheduleResponse*) {
  return policy_->Run("DeleteSchedule", ctx, [&] {
    auto st = runs_->DeleteSchedule(req->name());
    if (!st.ok()) return ToGrpc(st);
    logging::Info(Log(), "schedule deleted", {{"schedule", req->name()}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListNodes(grpc::ServerContext* ctx, const v1::ListNodesRequest*,
                                         v1::ListNodesResponse* resp) {
  return policy_->Run("ListNodes", ctx, [&] {
    if (!nodes_) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "node registry is off");
    auto nodes = nodes_->List();
    if (!nodes.ok()) return ToGrpc(nodes.status());
    for (const auto& v : *nodes) ToProto(v, resp->add_nodes());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListWorkflowTypes(grpc::ServerContext* ctx,
                                                 const v1::ListWorkflowTypesRequest*,
                                                 v1::ListWorkflowTypesResponse* resp) {
  return policy_->Run("ListWorkflowTypes", ctx, [&] {
    for (const auto* t : runs_->registry().All()) ToProto(*t, resp->add_types());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::Signal(grpc::ServerContext* ctx, const v1::SignalRequest* req,
                                      v1::SignalResponse* resp) {
  return policy_->Run("Signal", ctx, [&] {
    auto res = runs_->Signal(req->run_id(), req->name(), req->payload(), req->idempotency_key());
    if (!res.ok()) return ToGrpc(res.status());
    resp->set_seq(res->seq);
    resp->set_duplicate(res->duplicate);
    resp->set_resumed(res->resumed);
    ToProto(res->run, StepCount(res->run.workflow_type), resp->mutable_run());
    logging::Info(Log(), "signal",
                  {{"run", res->run.id},
                   {"name", req->name()},
                   {"seq", res->seq},
                   {"duplicate", res->duplicate},
                   {"resumed", res->resumed}});
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListBlobs(grpc::ServerContext* ctx, const v1::ListBlobsRequest* req,
                                         v1::ListBlobsResponse* resp) {
  return policy_->Run("ListBlobs", ctx, [&] {
    auto blobs = runs_->ListBlobs(req->run_id());
    if (!blobs.ok()) return ToGrpc(blobs.status());
    for (const auto& b : *blobs) ToProto(b, resp->add_blobs());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::GetBlob(grpc::ServerContext* ctx, const v1::GetBlobRequest* req,
                                       grpc::ServerWriter<v1::GetBlobResponse>* writer) {
  return policy_->Run("GetBlob", ctx, [&] {
    auto blob = runs_->GetBlob(req->run_id(), req->name());
    if (!blob.ok()) return ToGrpc(blob.status());
    constexpr size_t kChunk = 1 << 20;
    const std::string& data = blob->data;
    size_t off = 0;
    do {
      v1::GetBlobResponse msg;
      if (off == 0) ToProto(blob->info, msg.mutable_blob());
      const size_t n = std::min(kChunk, data.size() - off);
      msg.set_data(data.substr(off, n));
      off += n;
      if (!writer->Write(msg)) {
        return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      }
    } while (off < data.size());
    return grpc::Status::OK;
  });
}

namespace {

grpc::Status NoEvents() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "the event stream is off in this daemon");
}

}  // namespace

grpc::Status WorkflowsService::WatchEvents(grpc::ServerContext* ctx,
                                           const v1::WatchEventsRequest* req,
                                           grpc::ServerWriter<v1::WatchEventsResponse>* writer) {
  return policy_->Run("WatchEvents", ctx, [&] {
    if (!events_) return NoEvents();
    engine::WatchSpec spec;
    switch (req->start_case()) {
      case v1::WatchEventsRequest::kAfterPosition:
        spec.from = engine::WatchSpec::From::kPosition;
        spec.after = req->after_position();
        break;
      case v1::WatchEventsRequest::kFromNow:
        spec.from =
            req->from_now() ? engine::WatchSpec::From::kNow : engine::WatchSpec::From::kBeginning;
        break;
      case v1::WatchEventsRequest::kSubscription:
        spec.from = engine::WatchSpec::From::kSubscription;
        spec.subscription = req->subscription();
        break;
      case v1::WatchEventsRequest::START_NOT_SET:
        spec.from = engine::WatchSpec::From::kBeginning;
        break;
    }
    if (req->new_subscription_from_now()) {
      if (spec.from != engine::WatchSpec::From::kSubscription) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "new_subscription_from_now: only applies with subscription");
      }
      spec.new_subscription_start = engine::WatchSpec::From::kNow;
    }
    spec.run_id = req->run_id();
    spec.workflow_type = req->workflow_type();
    spec.kinds.assign(req->kinds().begin(), req->kinds().end());
    logging::Debug(Log(), "event stream opened",
                   {{"peer", ctx->peer()}, {"start", static_cast<int>(req->start_case())}});
    Status st = events_->Watch(
        spec,
        [&](const engine::WatchBatch& batch) {
          v1::WatchEventsResponse msg;
          for (const auto& e : batch.events) ToProto(e, msg.add_events());
          msg.set_through(batch.through);
          msg.set_head(batch.head);
          msg.set_pruned_through(batch.pruned_through);
          return writer->Write(msg);
        },
        [&] { return ctx->IsCancelled(); });
    return ToGrpc(st);
  });
}

grpc::Status WorkflowsService::AckEvents(grpc::ServerContext* ctx, const v1::AckEventsRequest* req,
                                         v1::AckEventsResponse* resp) {
  return policy_->Run("AckEvents", ctx, [&] {
    if (!events_) return NoEvents();
    auto sub = events_->Ack(req->subscription(), req->position());
    if (!sub.ok()) return ToGrpc(sub.status());
    auto head = events_->Head();
    ToProto(*sub, head.ok() ? *head : sub->position, resp->mutable_subscription());
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::ListSubscriptions(grpc::ServerContext* ctx,
                                                 const v1::ListSubscriptionsRequest*,
                                                 v1::ListSubscriptionsResponse* resp) {
  return policy_->Run("ListSubscriptions", ctx, [&] {
    if (!events_) return NoEvents();
    auto head = events_->Head();
    if (!head.ok()) return ToGrpc(head.status());
    auto subs = events_->ListSubscriptions();
    if (!subs.ok()) return ToGrpc(subs.status());
    for (const auto& s : *subs) ToProto(s, *head, resp->add_subscriptions());
    resp->set_head(*head);
    return grpc::Status::OK;
  });
}

grpc::Status WorkflowsService::DeleteSubscription(grpc::ServerContext* ctx,
                                                  const v1::DeleteSubscriptionRequest* req,
                                                  v1::DeleteSubscriptionResponse*) {
  return policy_->Run("DeleteSubscription", ctx, [&] {
    if (!events_) return NoEvents();
    Status st = events_->DeleteSubscription(req->name());
    if (st.ok()) logging::Info(Log(), "subscription deleted", {{"name", req->name()}});
    return ToGrpc(st);
  });
}

}  // namespace cueball::api
