// HealthService: grpc.health.v1.Health, served by cueballd itself. Check is
// an async method answered on the api's completion queue (it reads one
// atomic); Watch is a server stream that sends the status now and on every
// change, holding a thread while it lasts. It stands in for gRPC's built-in
// health service, which in gRPC 1.51 is a callback service: any callback
// service makes gRPC start its "nexting" threads, whose naps stalled every
// call (docs/design.md, "The api serves calls from a completion queue").
// Services known: "" (the whole daemon) and "cueball.v1.Workflows"; any
// other name is NOT_FOUND for Check and SERVICE_UNKNOWN for Watch.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>

#include "grpc/health/v1/health.grpc.pb.h"

namespace cueball::api {

using HealthServiceBase =
    grpc::health::v1::Health::WithAsyncMethod_Check<grpc::health::v1::Health::Service>;

class HealthService final : public HealthServiceBase {
 public:
  void SetServing(bool serving);
  // Ends every Watch stream (at shutdown, before the server stops).
  void Shutdown();

  // The Check handler (called by the async server).
  grpc::Status DoCheck(const grpc::health::v1::HealthCheckRequest& req,
                       grpc::health::v1::HealthCheckResponse* resp) const;

  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  static bool Known(const std::string& service);

  std::atomic<bool> serving_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t version_ = 0;
  bool shutdown_ = false;
};

}  // namespace cueball::api
