// Probes a running daemon the way operators' tools do: a plain HTTP GET (for
// /metrics, /healthz, /readyz) and the standard gRPC health check.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

namespace cueball::testing {

struct HttpResponse {
  int code = 0;  // 0: no answer
  std::string body;
};
HttpResponse HttpGet(const std::string& host_port, const std::string& path);

// grpc.health.v1.Health/Check for service "": 1 SERVING, 2 NOT_SERVING,
// -1 when the call itself failed.
int GrpcHealth(const std::shared_ptr<grpc::Channel>& channel);
int GrpcHealth(const std::string& address);

// The value of one sample in Prometheus text, e.g.
// MetricValue(text, "cueball_runs_enqueued_total{queue=\"default\",type=\"noop\"}"); -1 if absent.
double MetricValue(const std::string& text, const std::string& series);

}  // namespace cueball::testing
