#include "server/api/workers_service.h"

#include "server/api/convert.h"
#include "server/logging/logging.h"

namespace cueball::api {
namespace {

grpc::Status Invalid(const std::string& m) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, m);
}

// A step service's failure: a passing one (database, lease) is UNAVAILABLE
// or FAILED_PRECONDITION as the engine says; one retrying cannot fix is
// INVALID_ARGUMENT or FAILED_PRECONDITION.
grpc::Status FromStepError(const engine::StepError& e) {
  const std::string m = e.what();
  if (m.find("lease") != std::string::npos) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, m);
  }
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, m);
}

grpc::Status FromStepFailure(const engine::StepFailure& e) {
  const std::string m = e.what();
  if (m.find("not registered") != std::string::npos ||
      m.find("not available") != std::string::npos) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, m);
  }
  return Invalid(m);
}

// Checks a retry policy's fields and converts it.
grpc::Status FromProto(const v1::RetryPolicy& p, const std::string& f, engine::RetryPolicy* out) {
  engine::RetryPolicy r;
  if (p.max_attempts() != 0) r.max_attempts = p.max_attempts();
  if (p.backoff() == "fixed") {
    r.backoff = engine::Backoff::kFixed;
  } else if (p.backoff().empty() || p.backoff() == "exponential") {
    r.backoff = engine::Backoff::kExponential;
  } else {
    return Invalid(f + ".backoff: must be \"fixed\" or \"exponential\" (got \"" +
                   p.backoff().substr(0, 64) + "\")");
  }
  if (p.has_initial_delay()) {
    if (auto st = CheckDuration(p.initial_delay(), f + ".initial_delay"); !st.ok()) return st;
    r.initial_delay = FromDuration(p.initial_delay());
  }
  if (p.has_max_delay()) {
    if (auto st = CheckDuration(p.max_delay(), f + ".max_delay"); !st.ok()) return st;
    r.max_delay = FromDuration(p.max_delay());
  } else if (r.backoff == engine::Backoff::kFixed) {
    r.max_delay = r.initial_delay;
  }
  *out = r;
  return grpc::Status::OK;
}

}  // namespace

grpc::Status WorkersService::RegisterWorker(grpc::ServerContext* ctx,
                                            const v1::RegisterWorkerRequest* req,
                                            v1::RegisterWorkerResponse* resp) {
  return policy_->Run("RegisterWorker", ctx, [&] {
    engine::WorkerSpec spec;
    spec.identity = req->identity();
    spec.queues.assign(req->queues().begin(), req->queues().end());
    spec.slots = req->slots();
    if (req->has_lease()) {
      if (auto st = CheckDuration(req->lease(), "lease"); !st.ok()) return st;
      spec.lease = FromDuration(req->lease());
    }
    for (int i = 0; i < req->types_size(); ++i) {
      const auto& t = req->types(i);
      engine::WorkerSpec::Type type{t.name(), t.description(), {}};
      for (int j = 0; j < t.steps_size(); ++j) {
        const auto& s = t.steps(j);
        const std::string f = "types[" + std::to_string(i) + "].steps[" + std::to_string(j) + "]";
        engine::WorkerSpec::Step step{s.name(), std::nullopt, std::nullopt};
        if (s.has_retry()) {
          engine::RetryPolicy r;
          if (auto st = FromProto(s.retry(), f + ".retry", &r); !st.ok()) return st;
          step.retry = r;
        }
        if (s.has_timeout()) {
          if (auto st = CheckDuration(s.timeout(), f + ".timeout"); !st.ok()) return st;
          step.timeout = FromDuration(s.timeout());
        }
        type.steps.push_back(std::move(step));
      }
      spec.types.push_back(std::move(type));
    }
    auto reg = workers_->Register(spec);
    if (!reg.ok()) return ToGrpc(reg.status());
    resp->set_worker_id(reg->worker_id);
    *resp->mutable_lease() = ToDuration(reg->lease);
    *resp->mutable_heartbeat_interval() = ToDuration(reg->heartbeat_interval);
    return grpc::Status::OK;
  });
}

uint64_t WorkersService::StartPoll(grpc::ServerContext* ctx, const v1::PollStepsRequest* req,
                                   v1::PollStepsResponse* resp,
                                   std::function<void(const grpc::Status&)> done) {
  const auto start = std::chrono::steady_clock::now();
  logging::ScopedRequestId rid(CallPolicy::RequestId(ctx));
  auto refuse = [&](const grpc::Status& st) {
    policy_->Done("PollSteps", st, start);
    done(st);
    return uint64_t{0};
  };
  if (grpc::Status admitted = policy_->Admit("PollSteps", ctx); !admitted.ok()) {
    return refuse(admitted);
  }
  engine::PollSpec spec;
  spec.worker_id = req->worker_id();
  spec.max_steps = req->max_steps();
  spec.queues.assign(req->queues().begin(), req->queues().end());
  spec.types.assign(req->types().begin(), req->types().end());
  if (req->has_wait()) {
    if (auto st = CheckDuration(req->wait(), "wait"); !st.ok()) return refuse(st);
    spec.wait = FromDuration(req->wait());
  }
  // Answer before the caller's own deadline, so it gets an empty answer
  // rather than DEADLINE_EXCEEDED.
  spec.wait = CallPolicy::WaitWithinDeadline(ctx, spec.wait.value_or(Millis(20000)));
  return workers_->StartPoll(spec, [this, ctx, resp, start, done = std::move(done)](
                                       StatusOr<std::vector<engine::RemoteAttempt>> got) {
    grpc::Status s = grpc::Status::OK;
    if (!got.ok()) {
      s = ToGrpc(got.status());
    } else if (ctx->IsCancelled()) {
      // Nobody will read them: back to the queue, no attempt used.
      workers_->GiveBack(*got);
      s = grpc::Status(grpc::StatusCode::CANCELLED, "PollSteps: the caller went away");
    } else {
      for (const auto& a : *got) {
        auto* p = resp->add_attempts();
        p->set_lease_token(a.token);
        p->set_run_id(a.run_id);
        p->set_workflow_type(a.workflow_type);
        p->set_queue(a.queue);
        p->set_step(a.step);
        p->set_step_index(a.step_index);
        p->set_attempt(a.attempt);
        p->set_input(a.input);
        p->set_state(a.state);
        SetTime(a.deadline, p->mutable_deadline());
        p->set_woke(a.woke);
        p->set_priority(a.priority);
      }
    }
    policy_->Done("PollSteps", s, start);
    done(s);
  });
}

grpc::Status WorkersService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                       v1::HeartbeatResponse* resp) {
  return policy_->Run("Heartbeat", ctx, [&] {
    std::vector<std::string> tokens(req->lease_tokens().begin(), req->lease_tokens().end());
    std::optional<int> in_flight;
    if (req->in_flight() != 0) in_flight = req->in_flight();
    auto res = workers_->Heartbeat(req->worker_id(), tokens, in_flight);
    if (!res.ok()) return ToGrpc(res.status());
    for (const auto& c : *res) {
      auto* p = resp->add_cancelled();
      p->set_lease_token(c.token);
      p->set_run_id(c.run_id);
      p->set_reason(c.reason);
    }
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::CompleteSteps(grpc::ServerContext* ctx,
                                           const v1::CompleteStepsRequest* req,
                                           v1::CompleteStepsResponse* resp) {
  return policy_->Run("CompleteSteps", ctx, [&] {
    std::vector<engine::RemoteOutcome> outcomes;
    outcomes.reserve(req->outcomes_size());
    for (int i = 0; i < req->outcomes_size(); ++i) {
      const auto& p = req->outcomes(i);
      const std::string f = "outcomes[" + std::to_string(i) + "]";
      engine::RemoteOutcome o;
      o.token = p.lease_token();
      if (p.has_state()) o.state = p.state();
      auto duration = [&](const google::protobuf::Duration& d, const std::string& name,
                          std::optional<Millis>* out) {
        grpc::Status st = CheckDuration(d, f + "." + name);
        if (st.ok()) *out = FromDuration(d);
        return st;
      };
      auto timestamp = [&](const google::protobuf::Timestamp& t, const std::string& name) {
        grpc::Status st = CheckTimestamp(t, f + "." + name);
        if (st.ok()) o.until = FromTimestamp(t);
        return st;
      };
      grpc::Status st = grpc::Status::OK;
      switch (p.outcome_case()) {
        case v1::StepOutcome::kNext:
          o.kind = "next";
          o.result = p.next().result();
          break;
        case v1::StepOutcome::kComplete:
          o.kind = "complete";
          o.result = p.complete().result();
          break;
        case v1::StepOutcome::kRetry:
          o.kind = "retry";
          o.error = p.retry().error();
          if (p.retry().has_delay()) st = duration(p.retry().delay(), "retry.delay", &o.delay);
          break;
        case v1::StepOutcome::kFail:
          o.kind = "fail";
          o.error = p.fail().error();
          break;
        case v1::StepOutcome::kDefer:
          o.kind = "defer";
          if (p.defer().has_until()) st = timestamp(p.defer().until(), "defer.until");
          break;
        case v1::StepOutcome::kSleep:
          o.kind = "sleep";
          o.result = p.sleep().result();
          if (p.sleep().has_until()) st = timestamp(p.sleep().until(), "sleep.until");
          break;
        case v1::StepOutcome::kWaitSignal:
          o.kind = "wait_signal";
          o.signal = p.wait_signal().name();
          if (p.wait_signal().has_timeout()) {
            st = duration(p.wait_signal().timeout(), "wait_signal.timeout", &o.delay);
          }
          break;
        case v1::StepOutcome::kWaitRuns:
          o.kind = "wait_runs";
          o.runs.assign(p.wait_runs().run_ids().begin(), p.wait_runs().run_ids().end());
          o.any = p.wait_runs().any();
          if (p.wait_runs().has_timeout()) {
            st = duration(p.wait_runs().timeout(), "wait_runs.timeout", &o.delay);
          }
          break;
        case v1::StepOutcome::kRelease:
          o.kind = "release";
          o.error = p.release().reason();
          break;
        case v1::StepOutcome::OUTCOME_NOT_SET:
          break;
      }
      if (!st.ok()) return st;
      outcomes.push_back(std::move(o));
    }
    auto res = workers_->Complete(req->worker_id(), outcomes);
    if (!res.ok()) return ToGrpc(res.status());
    for (size_t i = 0; i < res->size(); ++i) {
      auto* r = resp->add_results();
      r->set_lease_token(outcomes[i].token);
      r->set_accepted((*res)[i].accepted);
      r->set_error((*res)[i].error);
    }
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::StopWorker(grpc::ServerContext* ctx, const v1::StopWorkerRequest* req,
                                        v1::StopWorkerResponse* resp) {
  return policy_->Run("StopWorker", ctx, [&] {
    std::vector<std::string> tokens(req->lease_tokens().begin(), req->lease_tokens().end());
    auto res = workers_->StopWorker(req->worker_id(), tokens);
    if (!res.ok()) return ToGrpc(res.status());
    resp->set_released(*res);
    return grpc::Status::OK;
  });
}

grpc::Status WorkersService::ListWorkers(grpc::ServerContext* ctx, const v1::ListWorkersRequest*,
                                         v1::ListWorkersResponse* resp) {
  return policy_->Run("ListWorkers", ctx, [&] {
    auto res = workers_->List();
    if (!res.ok()) return ToGrpc(res.status());
    for (const auto& w : *res) {
      auto* p = resp->add_workers();
      p->set_id(w.id);
      p->set_identity(w.identity);
      for (const auto& q : w.queues) p->add_queues(q);
      for (const auto& t : w.types) p->add_types(t);
      p->set_slots(w.slots);
      p->set_in_flight(w.in_flight);
      SetTime(w.registered_at, p->mutable_registered_at());
      SetTime(w.last_heartbeat_at, p->mutable_last_heartbeat_at());
      if (w.stopped_at) SetTime(*w.stopped_at, p->mutable_stopped_at());
      p->set_alive(w.alive);
      p->set_node(w.node);
      *p->mutable_lease() = ToDuration(w.lease);
    }
    return grpc::Status::OK;
  });
}

template <typename F>
grpc::Status WorkersService::WithServices(const std::string& token, F&& body) {
  auto services = workers_->ServicesFor("", token, "lease_token");
  if (!services.ok()) return ToGrpc(services.status());
  try {
    return body((*services)->get());
  } catch (const engine::StepFailure& e) {
    return FromStepFailure(e);
  } catch (const engine::StepError& e) {
    return FromStepError(e);
  }
}

grpc::Status WorkersService::TakeSignal(grpc::ServerContext* ctx, const v1::TakeSignalRequest* req,
                                        v1::TakeSignalResponse* resp) {
  return policy_->Run("TakeSignal", ctx, [&] {
    if (req->name().empty() || req->name().size() > 128) {
      return Invalid("name: must be 1..128 characters");
    }
    return WithServices(req->lease_token(), [&](engine::AttemptServices& s) {
      auto got = s.TakeSignal(req->name());
      resp->set_found(got.has_value());
      if (got) {
        resp->set_seq(got->seq);
        resp->set_name(got->name);
        resp->set_payload(
            got->payload.dump(-1, ' ', false, engine::Json::error_handler_t::replace));
        SetTime(got->received_at, resp->mutable_received_at());
      }
      return grpc::Status::OK;
    });
  });
}

grpc::Status WorkersService::EnqueueChild(grpc::ServerContext* ctx,
                                          const v1::EnqueueChildRequest* req,
                                          v1::EnqueueChildResponse* resp) {
  return policy_->Run("EnqueueChild", ctx, [&] {
    engine::ChildSpec child;
    child.key = req->key();
    child.workflow_type = req->workflow_type();
    child.queue = req->queue();
    child.priority = req->priority();
    if (req->input().size() > runs_->limits().max_payload_bytes) {
      return Invalid("input: " + std::to_string(req->input().size()) + " bytes; the limit is " +
                     std::to_string(runs_->limits().max_payload_bytes));
    }
    if (req->input().empty()) {
      child.input = engine::Json::object();
    } else {
      try {
        child.input = engine::Json::parse(req->input());
      } catch (const std::exception& e) {
        return Invalid(std::string("input: not valid JSON: ") + e.what());
      }
    }
    if (!child.input.is_object()) return Invalid("input: must be a JSON object");
    if (child.priority < -1000 || child.priority > 1000) {
      return Invalid("priority: must be -1000..1000");
    }
    return WithServices(req->lease_token(), [&](engine::AttemptServices& s) {
      resp->set_run_id(s.EnqueueChild(child));
      return grpc::Status::OK;
    });
  });
}

grpc::Status WorkersService::GetRuns(grpc::ServerContext* ctx, const v1::GetRunsRequest* req,
                                     v1::GetRunsResponse* resp) {
  return policy_->Run("GetRuns", ctx, [&] {
    if (req->run_ids_size() > 1000) return Invalid("run_ids: at most 1000");
    std::vector<std::string> ids;
    for (int i = 0; i < req->run_ids_size(); ++i) {
      auto id = RunId::Parse(req->run_ids(i));
      if (!id) {
        return Invalid("run_ids[" + std::to_string(i) + "]: '" + req->run_ids(i).substr(0, 64) +
                       "' is not a run id (UUID)");
      }
      ids.push_back(id->str());
    }
    return WithServices(req->lease_token(), [&](engine::AttemptServices& s) {
      for (const auto& run : s.GetRuns(ids)) {
        const auto* t = runs_->registry().Find(run.workflow_type);
        ToProto(run, t ? static_cast<int>(t->steps.size()) : 0, resp->add_runs());
      }
      return grpc::Status::OK;
    });
  });
}

grpc::Status WorkersService::SaveBlob(grpc::ServerContext* ctx, const v1::SaveBlobRequest* req,
                                      v1::SaveBlobResponse*) {
  return policy_->Run("SaveBlob", ctx, [&] {
    return WithServices(req->lease_token(), [&](engine::AttemptServices& s) {
      s.SaveBlob(req->name(), req->data(),
                 req->content_type().empty() ? "application/octet-stream" : req->content_type());
      return grpc::Status::OK;
    });
  });
}

grpc::Status WorkersService::LoadBlob(grpc::ServerContext* ctx, const v1::LoadBlobRequest* req,
                                      v1::LoadBlobResponse* resp) {
  return policy_->Run("LoadBlob", ctx, [&] {
    if (std::string bad = engine::BadBlobName(req->name()); !bad.empty()) {
      return Invalid("name: " + bad);
    }
    return WithServices(req->lease_token(), [&](engine::AttemptServices& s) {
      auto b = s.LoadBlob(req->name());
      resp->set_found(b.has_value());
      if (b) {
        resp->set_name(b->name);
        resp->set_content_type(b->content_type);
        resp->set_data(std::move(b->data));
        SetTime(b->updated_at, resp->mutable_updated_at());
      }
      return grpc::Status::OK;
    });
  });
}

}  // namespace cueball::api
