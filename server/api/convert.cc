#include "server/api/convert.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

namespace cueball::api {

using google::protobuf::util::TimeUtil;

void SetTime(TimePoint t, google::protobuf::Timestamp* out) {
  *out = TimeUtil::MicrosecondsToTimestamp(ToMicros(t));
}

google::protobuf::Duration ToDuration(Millis m) {
  return TimeUtil::MillisecondsToDuration(m.count());
}

Millis FromDuration(const google::protobuf::Duration& d) {
  return Millis(TimeUtil::DurationToMilliseconds(d));
}

TimePoint FromTimestamp(const google::protobuf::Timestamp& t) {
  return FromMicros(TimeUtil::TimestampToMicroseconds(t));
}

grpc::Status ToGrpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), s.message());
}

v1::RunStatus ToProto(RunStatus s) {
  switch (s) {
    case RunStatus::kEnqueued:
      return v1::RUN_STATUS_ENQUEUED;
    case RunStatus::kRunning:
      return v1::RUN_STATUS_RUNNING;
    case RunStatus::kWaiting:
      return v1::RUN_STATUS_WAITING;
    case RunStatus::kSucceeded:
      return v1::RUN_STATUS_SUCCEEDED;
    case RunStatus::kFailed:
      return v1::RUN_STATUS_FAILED;
    case RunStatus::kCanceled:
      return v1::RUN_STATUS_CANCELED;
  }
  return v1::RUN_STATUS_UNSPECIFIED;
}

std::optional<RunStatus> FromProto(v1::RunStatus s) {
  switch (s) {
    case v1::RUN_STATUS_ENQUEUED:
      return RunStatus::kEnqueued;
    case v1::RUN_STATUS_RUNNING:
      return RunStatus::kRunning;
    case v1::RUN_STATUS_WAITING:
      return RunStatus::kWaiting;
    case v1::RUN_STATUS_SUCCEEDED:
      return RunStatus::kSucceeded;
    case v1::RUN_STATUS_FAILED:
      return RunStatus::kFailed;
    case v1::RUN_STATUS_CANCELED:
      return RunStatus::kCanceled;
    default:
      return std::nullopt;
  }
}

void ToProto(const Run& r, int step_count, v1::Run* out) {
  out->set_id(r.id);
  out->set_workflow_type(r.workflow_type);
  out->set_queue(r.queue);
  out->set_priority(r.priority);
  out->set_status(ToProto(r.status));
  out->set_step_index(r.step_index);
  out->set_step(r.step_name);
  out->set_attempt(r.attempt);
  out->set_input(r.input);
  out->set_state(r.state);
  if (r.result) out->set_result(*r.result);
  if (r.error) out->set_error(*r.error);
  if (r.idempotency_key) out->set_idempotency_key(*r.idempotency_key);
  SetTime(r.created_at, out->mutable_created_at());
  SetTime(r.updated_at, out->mutable_updated_at());
  SetTime(r.run_at, out->mutable_run_at());
  if (r.started_at) SetTime(*r.started_at, out->mutable_started_at());
  if (r.finished_at) SetTime(*r.finished_at, out->mutable_finished_at());
  out->set_step_count(step_count);
  out->set_pruned(r.pruned);
  if (r.parent_id) out->set_parent_id(*r.parent_id);
  if (r.wait) out->set_wait(*r.wait);
  out->mutable_tags()->insert(r.tags.begin(), r.tags.end());
  if (r.deadline) SetTime(*r.deadline, out->mutable_deadline());
  out->set_deadline_action(r.deadline_action);
  for (const auto& c : r.children) {
    auto* pc = out->add_children();
    pc->set_id(c.id);
    pc->set_workflow_type(c.workflow_type);
    pc->set_status(ToProto(c.status));
  }
  for (const auto& e : r.history) ToProto(e, out->add_history());
}

void ToProto(const store::BlobInfo& b, v1::Blob* out) {
  out->set_name(b.name);
  out->set_content_type(b.content_type);
  out->set_size(b.size);
  out->set_sha256(b.sha256);
  SetTime(b.created_at, out->mutable_created_at());
  SetTime(b.updated_at, out->mutable_updated_at());
}

void ToProto(const Event& e, v1::Event* out) {
  out->set_seq(e.seq);
  out->set_position(e.position);
  out->set_run_id(e.run_id);
  out->set_workflow_type(e.workflow_type);
  out->set_kind(e.kind);
  out->set_step(e.step);
  out->set_attempt(e.attempt);
  out->set_data(e.data);
  SetTime(e.created_at, out->mutable_created_at());
}

void ToProto(const store::Subscription& s, int64_t head, v1::Subscription* out) {
  out->set_name(s.name);
  out->set_position(s.position);
  out->set_lag(std::max<int64_t>(0, head - s.position));
  SetTime(s.created_at, out->mutable_created_at());
  if (s.acked_at) SetTime(*s.acked_at, out->mutable_acked_at());
}

grpc::Status CheckTimestamp(const google::protobuf::Timestamp& t, const std::string& field) {
  if (t.seconds() < TimeUtil::kTimestampMinSeconds ||
      t.seconds() > TimeUtil::kTimestampMaxSeconds) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        field + ": seconds must be within years 1 to 9999 (" +
                            std::to_string(TimeUtil::kTimestampMinSeconds) + ".." +
                            std::to_string(TimeUtil::kTimestampMaxSeconds) + ")");
  }
  if (t.nanos() < 0 || t.nanos() > 999999999) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        field + ": nanos must be within 0..999999999");
  }
  return grpc::Status::OK;
}

grpc::Status CheckDuration(const google::protobuf::Duration& d, const std::string& field) {
  if (d.seconds() < TimeUtil::kDurationMinSeconds || d.seconds() > TimeUtil::kDurationMaxSeconds) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        field + ": seconds must be within +-" +
                            std::to_string(TimeUtil::kDurationMaxSeconds) + " (10,000 years)");
  }
  if (d.nanos() < -999999999 || d.nanos() > 999999999 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        field +
                            ": nanos must be within -999999999..999999999, with the sign of "
                            "seconds");
  }
  return grpc::Status::OK;
}

namespace {

engine::EnqueueSpec SpecFromProto(const v1::EnqueueRequest& req) {
  engine::EnqueueSpec s;
  s.workflow_type = req.workflow_type();
  s.input = req.input();
  s.queue = req.queue();
  s.priority = req.priority();
  if (req.has_run_at()) s.run_at = FromMicros(TimeUtil::TimestampToMicroseconds(req.run_at()));
  if (req.has_delay()) s.delay = Millis(TimeUtil::DurationToMilliseconds(req.delay()));
  s.idempotency_key = req.idempotency_key();
  s.tags.insert(req.tags().begin(), req.tags().end());
  if (req.has_deadline()) s.deadline = FromTimestamp(req.deadline());
  if (req.has_timeout()) s.timeout = Millis(TimeUtil::DurationToMilliseconds(req.timeout()));
  s.deadline_action = req.deadline_action();
  return s;
}

// ListRequest and RunFilter name their filter fields alike.
template <typename Msg>
grpc::Status FilterFromProto(const Msg& m, const std::string& prefix, engine::FilterSpec* out) {
  out->workflow_type = m.workflow_type();
  out->queue = m.queue();
  for (int i = 0; i < m.statuses_size(); ++i) {
    auto s = FromProto(static_cast<v1::RunStatus>(m.statuses(i)));
    if (!s) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          prefix + "statuses[" + std::to_string(i) + "]: not a run status");
    }
    out->statuses.push_back(*s);
  }
  if (m.has_created_after()) {
    if (auto st = CheckTimestamp(m.created_after(), prefix + "created_after"); !st.ok()) return st;
    out->created_after = FromTimestamp(m.created_after());
  }
  if (m.has_created_before()) {
    if (auto st = CheckTimestamp(m.created_before(), prefix + "created_before"); !st.ok()) {
      return st;
    }
    out->created_before = FromTimestamp(m.created_before());
  }
  out->tags.insert(m.tags().begin(), m.tags().end());
  out->idempotency_key = m.idempotency_key();
  return grpc::Status::OK;
}

}  // namespace

grpc::Status FromProto(const v1::ListRequest& req, engine::ListSpec* out) {
  out->page_size = req.page_size();
  out->page_token = req.page_token();
  return FilterFromProto(req, "", out);
}

grpc::Status FromProto(const v1::RunFilter& filter, engine::FilterSpec* out) {
  return FilterFromProto(filter, "filter.", out);
}

grpc::Status FromProto(const v1::EnqueueRequest& req, const std::string& prefix,
                       engine::EnqueueSpec* out) {
  if (req.has_run_at()) {
    if (auto st = CheckTimestamp(req.run_at(), prefix + "run_at"); !st.ok()) return st;
  }
  if (req.has_delay()) {
    if (auto st = CheckDuration(req.delay(), prefix + "delay"); !st.ok()) return st;
  }
  if (req.has_deadline()) {
    if (auto st = CheckTimestamp(req.deadline(), prefix + "deadline"); !st.ok()) return st;
  }
  if (req.has_timeout()) {
    if (auto st = CheckDuration(req.timeout(), prefix + "timeout"); !st.ok()) return st;
  }
  *out = SpecFromProto(req);
  return grpc::Status::OK;
}

void ToProto(const engine::WorkflowType& type, v1::WorkflowType* out) {
  out->set_name(type.name);
  out->set_description(type.description);
  out->set_source(type.source);
  for (const auto& step : type.steps) {
    auto* ps = out->add_steps();
    ps->set_name(step.name);
    ps->set_kind(step.traits.kind);
    ps->set_summary(step.traits.summary);
    for (const auto& sig : step.traits.signals) ps->add_signals(sig);
    ps->set_sleeps(step.traits.sleeps);
    ps->set_children(step.traits.children);
    ps->set_waits_for_runs(step.traits.waits_for_runs);
    for (const auto& ct : step.traits.child_types) ps->add_child_types(ct);
    auto* rp = ps->mutable_retry();
    rp->set_max_attempts(step.retry.max_attempts);
    rp->set_backoff(engine::BackoffName(step.retry.backoff));
    *rp->mutable_initial_delay() = ToDuration(step.retry.initial_delay);
    *rp->mutable_max_delay() = ToDuration(step.retry.max_delay);
    *ps->mutable_timeout() = ToDuration(step.timeout);
  }
}

void ToProto(const maintenance::NodeView& v, v1::Node* out) {
  const auto& n = v.info;
  out->set_id(n.id);
  out->set_host(n.host);
  out->set_pid(n.pid);
  out->set_version(n.version);
  out->set_listen(n.listen);
  for (const auto& q : n.queues) out->add_queues(q);
  out->set_workers(n.workers);
  SetTime(n.started_at, out->mutable_started_at());
  SetTime(n.last_seen_at, out->mutable_last_seen_at());
  if (n.stopped_at) SetTime(*n.stopped_at, out->mutable_stopped_at());
  out->set_alive(v.alive);
}

void ToProto(const store::QueueInfo& q, v1::Queue* out) {
  out->set_name(q.name);
  out->set_paused(q.paused);
  out->set_pause_reason(q.pause_reason);
  if (q.paused_at) SetTime(*q.paused_at, out->mutable_paused_at());
  out->set_ready(q.ready);
  out->set_scheduled(q.scheduled);
  out->set_running(q.running);
  out->set_waiting(q.waiting);
  out->set_oldest_ready_age_seconds(q.oldest_ready_age_seconds);
  out->set_nodes(q.nodes);
  out->set_workers(q.workers);
}

void ToProto(const store::Schedule& s, v1::Schedule* out) {
  out->set_name(s.name);
  out->set_cron(s.cron);
  out->set_timezone(s.timezone);
  out->set_workflow_type(s.workflow_type);
  out->set_input(s.input);
  out->set_queue(s.queue);
  out->set_priority(s.priority);
  out->mutable_tags()->insert(s.tags.begin(), s.tags.end());
  out->set_catch_up(s.catch_up);
  out->set_paused(s.paused_at.has_value());
  if (s.paused_at) SetTime(*s.paused_at, out->mutable_paused_at());
  SetTime(s.next_at, out->mutable_next_at());
  if (s.last_tick_at) SetTime(*s.last_tick_at, out->mutable_last_tick_at());
  if (s.last_run_id) out->set_last_run_id(*s.last_run_id);
  SetTime(s.created_at, out->mutable_created_at());
}

void FromProto(const v1::Schedule& s, engine::ScheduleSpec* out) {
  out->name = s.name();
  out->cron = s.cron();
  out->timezone = s.timezone();
  out->catch_up = s.catch_up();
  out->run.workflow_type = s.workflow_type();
  out->run.input = s.input();
  out->run.queue = s.queue();
  out->run.priority = s.priority();
  out->run.tags.insert(s.tags().begin(), s.tags().end());
}

}  // namespace cueball::api
