// The routes a scraper and an orchestrator call on the daemon's HTTP
// listener: GET /metrics (Prometheus text format), /healthz (liveness: the
// process answers) and /readyz (readiness: 200 when the daemon can serve,
// 503 with the reason otherwise).
#pragma once

#include <functional>
#include <string>

#include "server/http/server.h"
#include "server/metrics/metrics.h"

namespace cueball::app {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready (shown in the 503 body)
};

void AddProbeRoutes(http::Server* server, const metrics::Metrics* metrics,
                    std::function<Readiness()> readiness);

}  // namespace cueball::app
