#include "server/app/probe_routes.h"

namespace cueball::app {

void AddProbeRoutes(http::Server* server, const metrics::Metrics* metrics,
                    std::function<Readiness()> readiness) {
  server->Route("/metrics", {"GET"}, [metrics](const http::Request&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics ? metrics->Scrape() : "";
    return r;
  });
  server->Route("/healthz", {"GET"}, [](const http::Request&) {
    http::Response r;
    r.body = "ok\n";
    return r;
  });
  server->Route("/readyz", {"GET"}, [readiness](const http::Request&) {
    Readiness ready = readiness ? readiness() : Readiness{true, ""};
    http::Response r;
    r.status = ready.ready ? 200 : 503;
    r.body = ready.ready ? "ready\n" : "not ready: " + ready.reason + "\n";
    return r;
  });
}

}  // namespace cueball::app
