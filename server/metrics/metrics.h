// Metrics: cueballd's Prometheus metrics. Components record what happens
// (runs enqueued and finished, step durations, retries, rescues, RPCs);
// values that are states rather than events (queue depth, waiters, pool use)
// are sampled by callbacks when the endpoint is scraped. The header has no
// prometheus-cpp types, so the engine depends only on this interface.
// Thread-safe. Components take a Metrics* that may be null (tests, tools).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace cueball::metrics {

using Labels = std::map<std::string, std::string>;

struct Sample {
  Labels labels;
  double value = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void RunsEnqueued(const std::string& type, const std::string& queue, int n = 1);
  void RunFinished(const std::string& type, const std::string& status, int n = 1);
  // outcome: next, complete, retry, fail, defer, release.
  void StepFinished(const std::string& type, const std::string& step, const std::string& outcome,
                    double seconds);
  void StepRetried(const std::string& type, const std::string& step);
  void LeasesRescued(int n);
  // Next steps run on this daemon straight after the step before was
  // recorded, without a claim (while steps are fast).
  void StepsContinued(int n);
  // Vacuums of the runs' table this daemon ran after a burst (Vacuumer).
  void RunsVacuumed();
  void Rpc(const std::string& method, const std::string& code, double seconds);

  // A gauge whose samples `fn` returns at each scrape (it should be cheap or
  // cached; it runs on the scraping thread).
  void AddGauge(const std::string& name, const std::string& help,
                std::function<std::vector<Sample>()> fn);

  // The Prometheus text exposition format of every metric.
  std::string Scrape() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cueball::metrics
