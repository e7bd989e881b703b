#include "server/api/health_service.h"

#include <chrono>

namespace cueball::api {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

bool HealthService::Known(const std::string& service) {
  return service.empty() || service == "cueball.v1.Workflows";
}

void HealthService::SetServing(bool serving) {
  if (serving_.exchange(serving) == serving) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++version_;
  changed_.notify_all();
}

void HealthService::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  serving_ = false;
  shutdown_ = true;
  ++version_;
  changed_.notify_all();
}

grpc::Status HealthService::DoCheck(const HealthCheckRequest& req,
                                    HealthCheckResponse* resp) const {
  if (!Known(req.service())) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "service: unknown service '" + req.service().substr(0, 128) + "'");
  }
  resp->set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx, const HealthCheckRequest* req,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  uint64_t seen = 0;
  int last = -1;
  for (;;) {
    HealthCheckResponse resp;
    bool ending;
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wake now and then to notice a client that went away.
      changed_.wait_for(lock, std::chrono::seconds(1),
                        [&] { return version_ != seen || shutdown_ || last < 0; });
      seen = version_;
      ending = shutdown_;
    }
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    if (!Known(req->service())) {
      resp.set_status(HealthCheckResponse::SERVICE_UNKNOWN);
    } else {
      resp.set_status(serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING);
    }
    if (static_cast<int>(resp.status()) != last) {
      last = static_cast<int>(resp.status());
      if (!writer->Write(resp)) return grpc::Status::OK;
    }
    if (ending) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the daemon is shutting down");
    }
  }
}

}  // namespace cueball::api
