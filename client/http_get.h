// A plain-HTTP GET (libcurl) for the daemon's own endpoint (/metrics,
// /healthz, /readyz on --metrics-listen): HOST:PORT (a name, IPv4 or
// [IPv6]), http only, no redirects, no proxy. For the bench tool and the
// tests.
#pragma once

#include <string>

namespace cueball::client {

struct HttpResponse {
  int code = 0;  // 0: no answer (unreachable, timeout, not HTTP)
  std::string body;
};

// `host_port` is "127.0.0.1:7421"; `path` starts with '/'. Times out after 5 s.
HttpResponse HttpGet(const std::string& host_port, const std::string& path);

// The value of one sample in Prometheus text, e.g.
// MetricValue(text, "cueball_runs_enqueued_total{queue=\"default\",type=\"noop\"}"); -1 if absent.
double MetricValue(const std::string& text, const std::string& series);

}  // namespace cueball::client
