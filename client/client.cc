#include "client/client.h"

#include <google/protobuf/util/time_util.h>

namespace cueball::client {

Client::Client(const std::string& target, Millis rpc_timeout)
    : channel_(grpc::CreateChannel(target, grpc::InsecureChannelCredentials())),
      stub_(v1::Workflows::NewStub(channel_)),
      rpc_timeout_(rpc_timeout) {}

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

grpc::Status Client::ListNodes(v1::ListNodesResponse* resp) {
  return Unary(&v1::Workflows::Stub::ListNodes, v1::ListNodesRequest(), resp, rpc_timeout_);
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
