// CallPolicy: what every cueball.v1.Workflows call goes through before and
// after its handler, in one place: a request id (from `x-request-id`
// metadata, else a new one, echoed back and put on every log line of the
// call), bearer-token authentication (UNAUTHENTICATED, nothing done),
// readiness (UNAVAILABLE while the schema is not current), the request rate
// limit (RESOURCE_EXHAUSTED), exceptions turned into INTERNAL, and the RPC
// metrics by method and status code. The gRPC health service does not go
// through it, so probes work without a token.
#pragma once

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

#include "server/api/auth.h"
#include "server/api/rate_limiter.h"
#include "server/domain/run.h"
#include "server/logging/logging.h"
#include "server/metrics/metrics.h"

namespace cueball::api {

class CallPolicy {
 public:
  // Any pointer may be null: that check is off.
  CallPolicy(RateLimiter* limiter, Authenticator* auth, metrics::Metrics* metrics)
      : limiter_(limiter), auth_(auth), metrics_(metrics) {}

  // While false, calls get UNAVAILABLE with `reason` (e.g. migrations pending).
  void SetServing(bool serving, std::string reason = "");

  // The request id for this call, echoed to the client in initial metadata.
  static std::string RequestId(grpc::ServerContextBase* ctx);

  // For a held call (Wait, PollSteps) that would wait `wanted`: how long it
  // may wait to answer before the caller's own deadline (leaving the reply
  // 100 ms plus 5% of the time left, at most 1 s), so that the caller gets
  // an answer rather than DEADLINE_EXCEEDED. `wanted` when it has none.
  static Millis WaitWithinDeadline(grpc::ServerContextBase* ctx, Millis wanted);

  // Checks a call before its handler runs: OK to proceed, else the status
  // to answer with.
  grpc::Status Admit(const char* method, grpc::ServerContextBase* ctx);
  // Records the outcome of a call admitted (or not) at `start`.
  void Done(const char* method, const grpc::Status& s, std::chrono::steady_clock::time_point start);

  // A sync call from start to finish.
  template <typename F>
  grpc::Status Run(const char* method, grpc::ServerContextBase* ctx, F&& body) {
    const auto start = std::chrono::steady_clock::now();
    logging::ScopedRequestId rid(RequestId(ctx));
    grpc::Status s = Admit(method, ctx);
    if (s.ok()) {
      try {
        s = body();
      } catch (const std::exception& e) {
        logging::Error(Log(), "rpc threw", {{"method", method}, {"error", e.what()}});
        s = grpc::Status(grpc::StatusCode::INTERNAL, std::string(method) + ": internal error");
      }
    }
    Done(method, s, start);
    return s;
  }

 private:
  static std::shared_ptr<spdlog::logger> Log();

  RateLimiter* const limiter_;
  Authenticator* const auth_;
  metrics::Metrics* const metrics_;
  std::atomic<bool> serving_{true};
  std::mutex reason_mu_;
  std::string not_serving_reason_;
};

// "OK", "INVALID_ARGUMENT", ... for metrics labels and logs.
const char* StatusCodeName(grpc::StatusCode code);

}  // namespace cueball::api
