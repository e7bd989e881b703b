#include "client/worker.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <random>
#include <stdexcept>

namespace cueball::client {

using google::protobuf::util::TimeUtil;

namespace {

google::protobuf::Duration Dur(Millis m) { return TimeUtil::MillisecondsToDuration(m.count()); }

Millis Backoff(int failures) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t cap = std::min<int64_t>(5000, int64_t{100} << std::min(failures, 6));
  return Millis(std::uniform_int_distribution<int64_t>(0, cap)(rng));
}

std::string DefaultIdentity() {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  return std::string("cpp@") + host + "/" + std::to_string(getpid());
}

}  // namespace

// --- StepCall ---------------------------------------------------------------

template <typename Req, typename Resp>
void StepCall::Call(grpc::Status (v1::Workers::Stub::*method)(grpc::ClientContext*, const Req&,
                                                              Resp*),
                    const Req& req, Resp* resp, const char* what) {
  grpc::Status s = client_->Call(stub_, method, req, resp, client_->rpc_timeout());
  if (!s.ok()) throw std::runtime_error(std::string(what) + ": " + s.error_message());
}

std::optional<v1::TakeSignalResponse> StepCall::TakeSignal(const std::string& name) {
  v1::TakeSignalRequest req;
  req.set_lease_token(attempt_.lease_token());
  req.set_name(name);
  v1::TakeSignalResponse resp;
  Call(&v1::Workers::Stub::TakeSignal, req, &resp, "TakeSignal");
  if (!resp.found()) return std::nullopt;
  return resp;
}

std::string StepCall::EnqueueChild(const std::string& key, const std::string& workflow_type,
                                   const std::string& input_json, const std::string& queue) {
  v1::EnqueueChildRequest req;
  req.set_lease_token(attempt_.lease_token());
  req.set_key(key);
  req.set_workflow_type(workflow_type);
  req.set_input(input_json);
  req.set_queue(queue);
  v1::EnqueueChildResponse resp;
  Call(&v1::Workers::Stub::EnqueueChild, req, &resp, "EnqueueChild");
  return resp.run_id();
}

std::vector<v1::Run> StepCall::GetRuns(const std::vector<std::string>& ids) {
  v1::GetRunsRequest req;
  req.set_lease_token(attempt_.lease_token());
  for (const auto& id : ids) req.add_run_ids(id);
  v1::GetRunsResponse resp;
  Call(&v1::Workers::Stub::GetRuns, req, &resp, "GetRuns");
  return {resp.runs().begin(), resp.runs().end()};
}

void StepCall::SaveBlob(const std::string& name, const std::string& data,
                        const std::string& content_type) {
  v1::SaveBlobRequest req;
  req.set_lease_token(attempt_.lease_token());
  req.set_name(name);
  req.set_data(data);
  req.set_content_type(content_type);
  v1::SaveBlobResponse resp;
  Call(&v1::Workers::Stub::SaveBlob, req, &resp, "SaveBlob");
}

std::optional<v1::LoadBlobResponse> StepCall::LoadBlob(const std::string& name) {
  v1::LoadBlobRequest req;
  req.set_lease_token(attempt_.lease_token());
  req.set_name(name);
  v1::LoadBlobResponse resp;
  Call(&v1::Workers::Stub::LoadBlob, req, &resp, "LoadBlob");
  if (!resp.found()) return std::nullopt;
  return resp;
}

v1::StepOutcome StepCall::Next(const std::string& result_json) {
  v1::StepOutcome o;
  o.mutable_next()->set_result(result_json);
  return o;
}

v1::StepOutcome StepCall::Complete(const std::string& result_json) {
  v1::StepOutcome o;
  o.mutable_complete()->set_result(result_json);
  return o;
}

v1::StepOutcome StepCall::Retry(const std::string& error, std::optional<Millis> delay) {
  v1::StepOutcome o;
  o.mutable_retry()->set_error(error);
  if (delay) *o.mutable_retry()->mutable_delay() = Dur(*delay);
  return o;
}

v1::StepOutcome StepCall::Fail(const std::string& error) {
  v1::StepOutcome o;
  o.mutable_fail()->set_error(error);
  return o;
}

v1::StepOutcome StepCall::Defer(TimePoint until) {
  v1::StepOutcome o;
  *o.mutable_defer()->mutable_until() = TimeUtil::MicrosecondsToTimestamp(ToMicros(until));
  return o;
}

v1::StepOutcome StepCall::Sleep(TimePoint until, const std::string& result_json) {
  v1::StepOutcome o;
  *o.mutable_sleep()->mutable_until() = TimeUtil::MicrosecondsToTimestamp(ToMicros(until));
  o.mutable_sleep()->set_result(result_json);
  return o;
}

v1::StepOutcome StepCall::WaitSignal(const std::string& name, std::optional<Millis> timeout) {
  v1::StepOutcome o;
  o.mutable_wait_signal()->set_name(name);
  if (timeout) *o.mutable_wait_signal()->mutable_timeout() = Dur(*timeout);
  return o;
}

v1::StepOutcome StepCall::WaitRuns(const std::vector<std::string>& ids, bool any,
                                   std::optional<Millis> timeout) {
  v1::StepOutcome o;
  for (const auto& id : ids) o.mutable_wait_runs()->add_run_ids(id);
  o.mutable_wait_runs()->set_any(any);
  if (timeout) *o.mutable_wait_runs()->mutable_timeout() = Dur(*timeout);
  return o;
}

// --- Worker -----------------------------------------------------------------

Worker::Worker(Client* client, Options options)
    : client_(client), opts_(std::move(options)), stub_(v1::Workers::NewStub(client->channel())) {
  if (opts_.identity.empty()) opts_.identity = DefaultIdentity();
}

Worker::~Worker() { Stop(); }

void Worker::AddType(v1::WorkflowDefinition definition, std::map<std::string, StepFn> steps) {
  for (const auto& s : definition.steps()) {
    if (!steps.count(s.name())) {
      throw std::invalid_argument("type '" + definition.name() + "': no function for step '" +
                                  s.name() + "'");
    }
  }
  steps_[definition.name()] = std::move(steps);
  definitions_.push_back(std::move(definition));
}

grpc::Status Worker::Run() {
  v1::RegisterWorkerRequest reg;
  reg.set_identity(opts_.identity);
  for (const auto& q : opts_.queues) reg.add_queues(q);
  reg.set_slots(opts_.slots);
  *reg.mutable_lease() = Dur(opts_.lease);
  for (const auto& d : definitions_) *reg.add_types() = d;
  v1::RegisterWorkerResponse registered;
  grpc::Status s = client_->Call(stub_.get(), &v1::Workers::Stub::RegisterWorker, reg, &registered,
                                 client_->rpc_timeout());
  if (!s.ok()) return s;
  worker_id_ = registered.worker_id();
  heartbeat_interval_ = Millis(TimeUtil::DurationToMilliseconds(registered.heartbeat_interval()));
  if (heartbeat_interval_.count() <= 0) heartbeat_interval_ = opts_.lease / 3;
  registered_.store(true);

  std::vector<std::thread> threads;
  threads.emplace_back([this] { PollLoop(); });
  // Two senders: one batch's record overlaps the next one's trip.
  threads.emplace_back([this] { CompleteLoop(); });
  threads.emplace_back([this] { CompleteLoop(); });
  threads.emplace_back([this] { HeartbeatLoop(); });
  for (int i = 0; i < opts_.slots; ++i) threads.emplace_back([this] { StepLoop(); });

  std::vector<std::string> give_back;
  {
    std::unique_lock<std::mutex> lock(mu_);
    state_cv_.wait(lock, [this] { return stopping_; });
    // Not started: given back at once. Running: a drain period to finish.
    for (const auto& a : ready_) {
      give_back.push_back(a.lease_token());
      held_.erase(a.lease_token());
    }
    ready_.clear();
    state_cv_.wait_for(lock, opts_.drain, [this] { return held_.empty(); });
    for (auto& [token, h] : held_) {
      h.cancelled->store(true);
      give_back.push_back(token);
    }
  }
  v1::StopWorkerRequest stop;
  stop.set_worker_id(worker_id_);
  for (const auto& t : give_back) stop.add_lease_tokens(t);
  v1::StopWorkerResponse stopped;
  client_->Call(stub_.get(), &v1::Workers::Stub::StopWorker, stop, &stopped,
                client_->rpc_timeout());
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  state_cv_.notify_all();
  ready_cv_.notify_all();
  outcome_cv_.notify_all();
  for (auto& t : threads) t.join();
  return grpc::Status::OK;
}

void Worker::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  {
    std::lock_guard<std::mutex> lock(poll_ctx_mu_);
    if (poll_ctx_) poll_ctx_->TryCancel();
  }
  state_cv_.notify_all();
}

void Worker::PollLoop() {
  int failures = 0;
  while (true) {
    int free;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // A slot is busy while its step waits or runs; one whose outcome is
      // on its way is free, so the next poll overlaps the completion.
      state_cv_.wait(lock, [this] { return stopping_ || Busy() < opts_.slots; });
      // A few free slots while steps are finishing fast: wait a moment for
      // more, so that one claim takes many (as the daemon's claimer does).
      if (Busy() > opts_.slots / 2) {
        state_cv_.wait_for(lock, Millis(2),
                           [this] { return stopping_ || Busy() <= opts_.slots / 2; });
      }
      if (stopping_) return;
      free = opts_.slots - Busy();
    }
    v1::PollStepsRequest req;
    req.set_worker_id(worker_id_);
    req.set_max_steps(free);
    *req.mutable_wait() = Dur(opts_.poll_wait);
    v1::PollStepsResponse resp;
    grpc::ClientContext ctx;
    client_->Prepare(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + opts_.poll_wait + Millis(10000));
    {
      std::lock_guard<std::mutex> lock(poll_ctx_mu_);
      poll_ctx_ = &ctx;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) ctx.TryCancel();
    }
    grpc::Status s = stub_->PollSteps(&ctx, req, &resp);
    {
      std::lock_guard<std::mutex> lock(poll_ctx_mu_);
      poll_ctx_ = nullptr;
    }
    if (!s.ok()) {
      std::unique_lock<std::mutex> lock(mu_);
      if (stopping_) return;
      state_cv_.wait_for(lock, Backoff(++failures), [this] { return stopping_; });
      continue;
    }
    failures = 0;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& a : *resp.mutable_attempts()) {
      held_[a.lease_token()] = Held{a.lease_token(), std::make_shared<std::atomic<bool>>(false)};
      ready_.push_back(std::move(a));
      ready_cv_.notify_one();  // one step thread per attempt, not all of them
    }
  }
}

void Worker::StepLoop() {
  while (true) {
    v1::StepAttempt a;
    std::shared_ptr<std::atomic<bool>> cancelled;
    {
      std::unique_lock<std::mutex> lock(mu_);
      ready_cv_.wait(lock, [this] { return done_ || !ready_.empty(); });
      if (ready_.empty()) return;
      a = std::move(ready_.front());
      ready_.pop_front();
      auto it = held_.find(a.lease_token());
      if (it == held_.end()) continue;
      cancelled = it->second.cancelled;
      ++running_;
    }
    const std::string token = a.lease_token();
    v1::StepOutcome outcome;
    auto type = steps_.find(a.workflow_type());
    const StepFn* fn = nullptr;
    if (type != steps_.end()) {
      auto step = type->second.find(a.step());
      if (step != type->second.end()) fn = &step->second;
    }
    StepCall call(client_, stub_.get(), std::move(a), cancelled);
    if (!fn) {
      outcome = StepCall::Fail("this worker has no function for step '" + call.attempt().step() +
                               "' of '" + call.attempt().workflow_type() + "'");
    } else {
      try {
        outcome = (*fn)(call);
        if (outcome.outcome_case() == v1::StepOutcome::OUTCOME_NOT_SET) {
          outcome = StepCall::Retry("the step function returned no outcome");
        }
      } catch (const std::exception& e) {
        outcome = StepCall::Retry(std::string("step threw: ") + e.what());
      } catch (...) {
        outcome = StepCall::Retry("step threw a non-standard exception");
      }
    }
    if (call.state_ != call.attempt().state()) outcome.set_state(call.state_);
    outcome.set_lease_token(token);
    Finished(token, std::move(outcome));
  }
}

void Worker::Finished(const std::string& token, v1::StepOutcome outcome) {
  std::lock_guard<std::mutex> lock(mu_);
  --running_;
  auto it = held_.find(token);
  if (it == held_.end() || it->second.cancelled->load()) {
    // Canceled, lost, or given back at a stop: its outcome would be refused.
    if (it != held_.end()) held_.erase(it);
  } else {
    outcomes_.push_back(std::move(outcome));
  }
  outcome_cv_.notify_one();
  state_cv_.notify_all();
}

void Worker::CompleteLoop() {
  while (true) {
    v1::CompleteStepsRequest req;
    req.set_worker_id(worker_id_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      outcome_cv_.wait(lock, [this] { return done_ || !outcomes_.empty(); });
      if (outcomes_.empty()) return;
      while (!outcomes_.empty() && req.outcomes_size() < opts_.complete_batch) {
        *req.add_outcomes() = std::move(outcomes_.front());
        outcomes_.pop_front();
      }
    }
    v1::CompleteStepsResponse resp;
    grpc::Status s;
    for (int failures = 0;; ++failures) {
      s = client_->Call(stub_.get(), &v1::Workers::Stub::CompleteSteps, req, &resp,
                        client_->rpc_timeout());
      if (s.ok() || s.error_code() != grpc::StatusCode::UNAVAILABLE || failures >= 8) break;
      std::this_thread::sleep_for(Backoff(failures));
    }
    std::lock_guard<std::mutex> lock(mu_);
    for (int i = 0; i < req.outcomes_size(); ++i) {
      held_.erase(req.outcomes(i).lease_token());
      if (s.ok() && i < resp.results_size() && resp.results(i).accepted()) {
        steps_done_.fetch_add(1);
      } else {
        refused_.fetch_add(1);  // its lease expires; the rescuer retries the step
      }
    }
    state_cv_.notify_all();
  }
}

void Worker::HeartbeatLoop() {
  while (true) {
    v1::HeartbeatRequest req;
    req.set_worker_id(worker_id_);
    {
      std::unique_lock<std::mutex> lock(mu_);
      state_cv_.wait_for(lock, heartbeat_interval_, [this] { return done_; });
      if (done_) return;
      for (const auto& [token, h] : held_) req.add_lease_tokens(token);
      req.set_in_flight(static_cast<int>(held_.size()));
    }
    v1::HeartbeatResponse resp;
    grpc::Status s =
        client_->Call(stub_.get(), &v1::Workers::Stub::Heartbeat, req, &resp, heartbeat_interval_);
    if (!s.ok()) continue;
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : resp.cancelled()) {
      auto it = held_.find(c.lease_token());
      if (it != held_.end()) it->second.cancelled->store(true);
    }
  }
}

}  // namespace cueball::client
