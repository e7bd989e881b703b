// cueball client library: a thin, synchronous wrapper over the cueball.v1
// Workflows stub that applies per-call deadlines. No SQL, no engine: the
// proto contract is all it shares with the daemon. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "cueball/v1/workflows.grpc.pb.h"
#include "server/domain/run.h"

namespace cueball::client {

inline constexpr const char* kDefaultServer = "localhost:7420";

class Client {
 public:
  // `target` is HOST:PORT; `rpc_timeout` bounds every call except Wait, whose
  // deadline is its own timeout plus a margin.
  explicit Client(const std::string& target, Millis rpc_timeout = Millis(30000));

  grpc::Status Enqueue(const v1::EnqueueRequest& req, v1::EnqueueResponse* resp);
  grpc::Status EnqueueBatch(const v1::EnqueueBatchRequest& req, v1::EnqueueBatchResponse* resp);
  grpc::Status Get(const v1::GetRequest& req, v1::GetResponse* resp);
  grpc::Status Wait(const v1::WaitRequest& req, v1::WaitResponse* resp);
  grpc::Status List(const v1::ListRequest& req, v1::ListResponse* resp);
  grpc::Status Cancel(const v1::CancelRequest& req, v1::CancelResponse* resp);
  grpc::Status Retry(const v1::RetryRequest& req, v1::RetryResponse* resp);
  grpc::Status ListWorkflowTypes(v1::ListWorkflowTypesResponse* resp);
  grpc::Status ListNodes(v1::ListNodesResponse* resp);

 private:
  // One unary call with its own context and a deadline `timeout` from now.
  template <typename Req, typename Resp>
  grpc::Status Unary(grpc::Status (v1::Workflows::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                 Resp*),
                     const Req& req, Resp* resp, Millis timeout) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    return ((*stub_).*method)(&ctx, req, resp);
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Workflows::Stub> stub_;
  Millis rpc_timeout_;
};

// "succeeded", "failed", ... for a proto status.
std::string StatusName(v1::RunStatus s);

}  // namespace cueball::client
