// Probes a running daemon the way operators' tools do: a plain HTTP GET (for
// /metrics, /healthz, /readyz) and the standard gRPC health check.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "client/http_get.h"

namespace cueball::testing {

using client::HttpGet;
using client::HttpResponse;
using client::MetricValue;

// grpc.health.v1.Health/Check for service "": 1 SERVING, 2 NOT_SERVING,
// -1 when the call itself failed.
int GrpcHealth(const std::shared_ptr<grpc::Channel>& channel);
int GrpcHealth(const std::string& address);

}  // namespace cueball::testing
