// HttpEndpoint: the small plain-HTTP listener beside the gRPC port that
// serves GET /metrics (Prometheus text format), /healthz (liveness: the
// process answers) and /readyz (readiness: 200 when the daemon can serve,
// 503 with the reason otherwise). One thread handles one short request at a
// time, with a 2 s read timeout, which is plenty for probes and scrapers.
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>

#include "server/metrics/metrics.h"

namespace cueball::metrics {

struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready (shown in the 503 body)
};

class HttpEndpoint {
 public:
  HttpEndpoint(const Metrics* metrics, std::function<Readiness()> readiness);
  ~HttpEndpoint();

  // Binds HOST:PORT (port 0 picks one) and starts serving. Returns the bound
  // address, or an empty string with `error` set.
  std::string Start(const std::string& listen, std::string* error);
  void Stop();

 private:
  void Loop();
  void Handle(int fd);

  const Metrics* const metrics_;
  std::function<Readiness()> readiness_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace cueball::metrics
