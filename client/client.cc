#include "client/client.h"

#include <google/protobuf/util/time_util.h>

namespace cueball::client {

Client::Client(const std::string& target, Millis rpc_timeout)
    : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
      stub_(v1::Workflows::NewStub(channel_)),
      rpc_timeout_(rpc_timeout) {}

void Client::SetDeadline(grpc::ClientContext* ctx, Millis d) const {
  ctx->set_deadline(std::chrono::system_clock::now() + d);
}

grpc::Status Client::Enqueue(const v1::EnqueueRequest& req, v1::EnqueueResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->Enqueue(&ctx, req, resp);
}

grpc::Status Client::EnqueueBatch(const v1::EnqueueBatchRequest& req,
                                  v1::EnqueueBatchResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->EnqueueBatch(&ctx, req, resp);
}

grpc::Status Client::Get(const v1::GetRequest& req, v1::GetResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->Get(&ctx, req, resp);
}

grpc::Status Client::Wait(const v1::WaitRequest& req, v1::WaitResponse* resp) {
  grpc::ClientContext ctx;
  Millis wait =
      req.has_timeout()
          ? Millis(google::protobuf::util::TimeUtil::DurationToMilliseconds(req.timeout()))
          : Millis(60000);
  if (wait.count() < 0) wait = Millis(0);
  SetDeadline(&ctx, wait + rpc_timeout_);
  return stub_->Wait(&ctx, req, resp);
}

grpc::Status Client::List(const v1::ListRequest& req, v1::ListResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->List(&ctx, req, resp);
}

grpc::Status Client::Cancel(const v1::CancelRequest& req, v1::CancelResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->Cancel(&ctx, req, resp);
}

grpc::Status Client::Retry(const v1::RetryRequest& req, v1::RetryResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->Retry(&ctx, req, resp);
}

grpc::Status Client::ListWorkflowTypes(v1::ListWorkflowTypesResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->ListWorkflowTypes(&ctx, v1::ListWorkflowTypesRequest(), resp);
}

grpc::Status Client::ListNodes(v1::ListNodesResponse* resp) {
  grpc::ClientContext ctx;
  SetDeadline(&ctx, rpc_timeout_);
  return stub_->ListNodes(&ctx, v1::ListNodesRequest(), resp);
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
