#include "client/client.h"

#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cueball::client {

namespace {

std::string ReadFileOrThrow(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(std::string("cannot read ") + what + " file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::shared_ptr<grpc::Channel> MakeChannel(const ConnectOptions& o) {
  const bool tls = o.tls || !o.tls_ca_file.empty() || !o.tls_cert_file.empty();
  grpc::ChannelArguments args;
  if (!tls) return grpc::CreateCustomChannel(o.server, grpc::InsecureChannelCredentials(), args);
  grpc::SslCredentialsOptions ssl;
  if (!o.tls_ca_file.empty()) ssl.pem_root_certs = ReadFileOrThrow(o.tls_ca_file, "TLS CA");
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    throw std::invalid_argument("a client certificate needs both its certificate and key files");
  }
  if (!o.tls_cert_file.empty()) {
    ssl.pem_cert_chain = ReadFileOrThrow(o.tls_cert_file, "TLS certificate");
    ssl.pem_private_key = ReadFileOrThrow(o.tls_key_file, "TLS key");
  }
  if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
  return grpc::CreateCustomChannel(o.server, grpc::SslCredentials(ssl), args);
}

}  // namespace

Client::Client(const ConnectOptions& options)
    : authorization_(options.token.empty() ? "" : "Bearer " + options.token),
      channel_(MakeChannel(options)),
      stub_(v1::Workflows::NewStub(channel_)),
      rpc_timeout_(options.rpc_timeout) {}

Client::Client(const std::string& target, Millis rpc_timeout)
    : Client([&] {
        ConnectOptions o;
        o.server = target;
        o.rpc_timeout = rpc_timeout;
        return o;
      }()) {}

void Client::Prepare(grpc::ClientContext* ctx) const {
  if (!authorization_.empty()) ctx->AddMetadata("authorization", authorization_);
}

grpc::Status Client::Enqueue(const v1::EnqueueRequest& req, v1::EnqueueResponse* resp) {
  return Unary(&v1::Workflows::Stub::Enqueue, req, resp, rpc_timeout_);
}

grpc::Status Client::EnqueueBatch(const v1::EnqueueBatchRequest& req,
                                  v1::EnqueueBatchResponse* resp) {
  return Unary(&v1::Workflows::Stub::EnqueueBatch, req, resp, rpc_timeout_);
}

grpc::Status Client::Get(const v1::GetRequest& req, v1::GetResponse* resp) {
  return Unary(&v1::Workflows::Stub::Get, req, resp, rpc_timeout_);
}

grpc::Status Client::Wait(const v1::WaitRequest& req, v1::WaitResponse* resp) {
  Millis wait =
      req.has_timeout()
          ? Millis(google::protobuf::util::TimeUtil::DurationToMilliseconds(req.timeout()))
          : Millis(60000);
  if (wait.count() < 0) wait = Millis(0);
  return Unary(&v1::Workflows::Stub::Wait, req, resp, wait + rpc_timeout_);
}

grpc::Status Client::List(const v1::ListRequest& req, v1::ListResponse* resp) {
  return Unary(&v1::Workflows::Stub::List, req, resp, rpc_timeout_);
}

grpc::Status Client::Cancel(const v1::CancelRequest& req, v1::CancelResponse* resp) {
  return Unary(&v1::Workflows::Stub::Cancel, req, resp, rpc_timeout_);
}

grpc::Status Client::Retry(const v1::RetryRequest& req, v1::RetryResponse* resp) {
  return Unary(&v1::Workflows::Stub::Retry, req, resp, rpc_timeout_);
}

grpc::Status Client::ListWorkflowTypes(v1::ListWorkflowTypesResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListWorkflowTypes, v1::ListWorkflowTypesRequest(), resp,
               rpc_timeout_);
}

grpc::Status Client::Signal(const v1::SignalRequest& req, v1::SignalResponse* resp) {
  return Unary(&v1::Workflows::Stub::Signal, req, resp, rpc_timeout_);
}

grpc::Status Client::ListBlobs(const std::string& run_id, v1::ListBlobsResponse* resp) {
  v1::ListBlobsRequest req;
  req.set_run_id(run_id);
  return Unary(&v1::Workflows::Stub::ListBlobs, req, resp, rpc_timeout_);
}

grpc::Status Client::GetBlob(const std::string& run_id, const std::string& name, v1::Blob* blob,
                             std::string* data) {
  v1::GetBlobRequest req;
  req.set_run_id(run_id);
  req.set_name(name);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  // A large blob takes longer than one call's timeout: allow ten.
  ctx.set_deadline(std::chrono::system_clock::now() + 10 * rpc_timeout_);
  auto reader = stub_->GetBlob(&ctx, req);
  v1::GetBlobResponse msg;
  bool first = true;
  while (reader->Read(&msg)) {
    if (first && msg.has_blob()) *blob = msg.blob();
    first = false;
    data->append(msg.data());
  }
  return reader->Finish();
}

grpc::Status Client::CancelRuns(const v1::CancelRunsRequest& req, v1::CancelRunsResponse* resp,
                                Millis timeout) {
  return Unary(&v1::Workflows::Stub::CancelRuns, req, resp,
               timeout.count() > 0 ? timeout : Millis(3600 * 1000));
}

grpc::Status Client::RetryRuns(const v1::RetryRunsRequest& req, v1::RetryRunsResponse* resp,
                               Millis timeout) {
  return Unary(&v1::Workflows::Stub::RetryRuns, req, resp,
               timeout.count() > 0 ? timeout : Millis(3600 * 1000));
}

grpc::Status Client::PauseQueue(const v1::PauseQueueRequest& req, v1::PauseQueueResponse* resp) {
  return Unary(&v1::Workflows::Stub::PauseQueue, req, resp, rpc_timeout_);
}

grpc::Status Client::ResumeQueue(const v1::ResumeQueueRequest& req, v1::ResumeQueueResponse* resp) {
  return Unary(&v1::Workflows::Stub::ResumeQueue, req, resp, rpc_timeout_);
}

grpc::Status Client::ListQueues(v1::ListQueuesResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListQueues, v1::ListQueuesRequest(), resp, rpc_timeout_);
}

grpc::Status Client::CreateSchedule(const v1::Schedule& schedule, v1::Schedule* out) {
  v1::CreateScheduleRequest req;
  *req.mutable_schedule() = schedule;
  v1::CreateScheduleResponse resp;
  auto s = Unary(&v1::Workflows::Stub::CreateSchedule, req, &resp, rpc_timeout_);
  if (s.ok()) *out = resp.schedule();
  return s;
}

grpc::Status Client::ListSchedules(v1::ListSchedulesResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListSchedules, v1::ListSchedulesRequest(), resp, rpc_timeout_);
}

grpc::Status Client::PauseSchedule(const std::string& name, v1::Schedule* out) {
  v1::PauseScheduleRequest req;
  req.set_name(name);
  v1::PauseScheduleResponse resp;
  auto s = Unary(&v1::Workflows::Stub::PauseSchedule, req, &resp, rpc_timeout_);
  if (s.ok()) *out = resp.schedule();
  return s;
}

grpc::Status Client::ResumeSchedule(const std::string& name, v1::Schedule* out) {
  v1::ResumeScheduleRequest req;
  req.set_name(name);
  v1::ResumeScheduleResponse resp;
  auto s = Unary(&v1::Workflows::Stub::ResumeSchedule, req, &resp, rpc_timeout_);
  if (s.ok()) *out = resp.schedule();
  return s;
}

grpc::Status Client::DeleteSchedule(const std::string& name) {
  v1::DeleteScheduleRequest req;
  req.set_name(name);
  v1::DeleteScheduleResponse resp;
  return Unary(&v1::Workflows::Stub::DeleteSchedule, req, &resp, rpc_timeout_);
}

grpc::Status Client::ListNodes(v1::ListNodesResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListNodes, v1::ListNodesRequest(), resp, rpc_timeout_);
}

grpc::Status Client::AckEvents(const v1::AckEventsRequest& req, v1::AckEventsResponse* resp) {
  return Unary(&v1::Workflows::Stub::AckEvents, req, resp, rpc_timeout_);
}

grpc::Status Client::ListSubscriptions(v1::ListSubscriptionsResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListSubscriptions, v1::ListSubscriptionsRequest(), resp,
               rpc_timeout_);
}

grpc::Status Client::DeleteSubscription(const std::string& name) {
  v1::DeleteSubscriptionRequest req;
  req.set_name(name);
  v1::DeleteSubscriptionResponse resp;
  return Unary(&v1::Workflows::Stub::DeleteSubscription, req, &resp, rpc_timeout_);
}

EventWatcher::EventWatcher(Client* client, v1::WatchEventsRequest request, bool reconnect)
    : client_(client), request_(std::move(request)), reconnect_(reconnect) {}

void EventWatcher::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  if (ctx_) ctx_->TryCancel();
}

grpc::Status EventWatcher::Run(
    const std::function<bool(const v1::WatchEventsResponse&)>& on_batch) {
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  while (true) {
    v1::WatchEventsRequest req = request_;
    if (resume_after_.load() >= 0) {
      // Resume exactly after what was examined, with the same filters.
      req.set_after_position(resume_after_.load());
      req.set_new_subscription_from_now(false);
    }
    grpc::ClientContext ctx;
    client_->Prepare(&ctx);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (cancelled_) return grpc::Status::OK;
      ctx_ = &ctx;
    }
    auto reader = client_->stub()->WatchEvents(&ctx, req);
    v1::WatchEventsResponse msg;
    bool stopped = false;
    while (reader->Read(&msg)) {
      failures = 0;
      resume_after_ = msg.through();
      if (!on_batch(msg)) {
        stopped = true;
        ctx.TryCancel();
        break;
      }
    }
    grpc::Status st = reader->Finish();
    bool cancelled;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ctx_ = nullptr;
      cancelled = cancelled_;
    }
    if (stopped || cancelled) return grpc::Status::OK;
    if (!reconnect_ || st.error_code() != grpc::StatusCode::UNAVAILABLE) return st;
    ++failures;
    int64_t cap = std::min<int64_t>(5000, 100LL << std::min(failures, 6));
    auto sleep = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap)(rng));
    auto until = std::chrono::steady_clock::now() + sleep;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (cancelled_) return grpc::Status::OK;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

std::string StatusName(v1::RunStatus s) {
  switch (s) {
    case v1::RUN_STATUS_ENQUEUED:
      return "enqueued";
    case v1::RUN_STATUS_RUNNING:
      return "running";
    case v1::RUN_STATUS_WAITING:
      return "waiting";
    case v1::RUN_STATUS_SUCCEEDED:
      return "succeeded";
    case v1::RUN_STATUS_FAILED:
      return "failed";
    case v1::RUN_STATUS_CANCELED:
      return "canceled";
    default:
      return "unspecified";
  }
}

}  // namespace cueball::client
