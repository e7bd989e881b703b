// cueball client library: a thin, synchronous wrapper over the cueball.v1
// Workflows stub that applies per-call deadlines. No SQL, no engine: the
// proto contract is all it shares with the daemon. Thread-safe.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "cueball/v1/workflows.grpc.pb.h"
#include "server/domain/run.h"

namespace cueball::client {

inline constexpr const char* kDefaultServer = "localhost:7420";

// How to reach a cueballd: address, TLS and credentials.
struct ConnectOptions {
  std::string server = kDefaultServer;  // HOST:PORT
  // Bounds every call except Wait, whose deadline is its own timeout plus this.
  Millis rpc_timeout{30000};
  std::string token;            // bearer token sent on every call ("" for none)
  bool tls = false;             // TLS; implied by any tls_* file below
  std::string tls_ca_file;      // PEM roots that sign the server's certificate (default: system)
  std::string tls_cert_file;    // client certificate chain, for mutual TLS
  std::string tls_key_file;     // its private key
  std::string tls_server_name;  // name to verify in the server certificate, if not the host
};

class Client {
 public:
  // Throws std::invalid_argument naming the file when a TLS file cannot be read.
  explicit Client(const ConnectOptions& options);
  // Plaintext, no token: `target` is HOST:PORT.
  explicit Client(const std::string& target, Millis rpc_timeout = Millis(30000));

  // Adds this client's credentials (the bearer token) to a context, for
  // calls made directly on stub().
  void Prepare(grpc::ClientContext* ctx) const;

  grpc::Status Enqueue(const v1::EnqueueRequest& req, v1::EnqueueResponse* resp);
  grpc::Status EnqueueBatch(const v1::EnqueueBatchRequest& req, v1::EnqueueBatchResponse* resp);
  grpc::Status Get(const v1::GetRequest& req, v1::GetResponse* resp);
  grpc::Status Wait(const v1::WaitRequest& req, v1::WaitResponse* resp);
  grpc::Status List(const v1::ListRequest& req, v1::ListResponse* resp);
  grpc::Status Cancel(const v1::CancelRequest& req, v1::CancelResponse* resp);
  grpc::Status Retry(const v1::RetryRequest& req, v1::RetryResponse* resp);
  grpc::Status ListWorkflowTypes(v1::ListWorkflowTypesResponse* resp);
  // Bulk actions can run for minutes on millions of runs: `timeout` (0: an
  // hour) bounds them instead of the usual RPC timeout.
  grpc::Status CancelRuns(const v1::CancelRunsRequest& req, v1::CancelRunsResponse* resp,
                          Millis timeout = Millis(0));
  grpc::Status RetryRuns(const v1::RetryRunsRequest& req, v1::RetryRunsResponse* resp,
                         Millis timeout = Millis(0));
  grpc::Status PauseQueue(const v1::PauseQueueRequest& req, v1::PauseQueueResponse* resp);
  grpc::Status ResumeQueue(const v1::ResumeQueueRequest& req, v1::ResumeQueueResponse* resp);
  grpc::Status ListQueues(v1::ListQueuesResponse* resp);
  grpc::Status CreateSchedule(const v1::Schedule& schedule, v1::Schedule* out);
  grpc::Status ListSchedules(v1::ListSchedulesResponse* resp);
  grpc::Status PauseSchedule(const std::string& name, v1::Schedule* out);
  grpc::Status ResumeSchedule(const std::string& name, v1::Schedule* out);
  grpc::Status DeleteSchedule(const std::string& name);
  grpc::Status ListNodes(v1::ListNodesResponse* resp);
  grpc::Status AckEvents(const v1::AckEventsRequest& req, v1::AckEventsResponse* resp);
  grpc::Status ListSubscriptions(v1::ListSubscriptionsResponse* resp);
  grpc::Status DeleteSubscription(const std::string& name);
  grpc::Status Signal(const v1::SignalRequest& req, v1::SignalResponse* resp);
  grpc::Status ListBlobs(const std::string& run_id, v1::ListBlobsResponse* resp);
  // Reads a whole blob: its description and its bytes appended to `data`.
  grpc::Status GetBlob(const std::string& run_id, const std::string& name, v1::Blob* blob,
                       std::string* data);

  v1::Workflows::Stub* stub() { return stub_.get(); }
  // The connection, for other services' stubs (cueball.v1.Workers: worker.h).
  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  Millis rpc_timeout() const { return rpc_timeout_; }

  // One unary call of a stub made on channel(), with its own context, this
  // client's credentials and a deadline `timeout` from now.
  template <typename Stub, typename Req, typename Resp>
  grpc::Status Call(Stub* stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp, Millis timeout) const {
    grpc::ClientContext ctx;
    Prepare(&ctx);
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    return (stub->*method)(&ctx, req, resp);
  }

 private:
  template <typename Req, typename Resp>
  grpc::Status Unary(grpc::Status (v1::Workflows::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                 Resp*),
                     const Req& req, Resp* resp, Millis timeout) {
    return Call(stub_.get(), method, req, resp, timeout);
  }

  std::string authorization_;  // "Bearer TOKEN" or empty
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Workflows::Stub> stub_;
  Millis rpc_timeout_;
};

// Follows the event stream: calls `on_batch` for every message (events and
// heartbeats) until it returns false, Cancel() is called, or the stream fails
// for good. With `reconnect`, a stream that breaks with UNAVAILABLE (daemon
// restarting, network) is reopened after a jittered backoff, resuming after
// the last `through` received, so the caller sees every event once and in
// order across reconnects.
class EventWatcher {
 public:
  EventWatcher(Client* client, v1::WatchEventsRequest request, bool reconnect = true);

  // Blocks. OK when on_batch stopped it or Cancel() did; the last error otherwise.
  grpc::Status Run(const std::function<bool(const v1::WatchEventsResponse&)>& on_batch);
  // From any thread: ends Run promptly.
  void Cancel();
  // After the first message: the position to resume after.
  int64_t resume_after() const { return resume_after_.load(); }

 private:
  Client* const client_;
  v1::WatchEventsRequest request_;
  const bool reconnect_;
  std::atomic<int64_t> resume_after_{-1};
  std::mutex mu_;
  bool cancelled_ = false;
  grpc::ClientContext* ctx_ = nullptr;
};

// "succeeded", "failed", ... for a proto status.
std::string StatusName(v1::RunStatus s);

}  // namespace cueball::client
