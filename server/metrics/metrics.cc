#include "server/metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <string_view>
#include <unordered_map>

namespace cueball::metrics {
namespace {

const prometheus::Histogram::BucketBoundaries& StepBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.001, 0.005, 0.01, 0.05, 0.1, 0.5,
                                                         1,     5,     10,   30,   60,  300};
  return b;
}

const prometheus::Histogram::BucketBoundaries& RpcBuckets() {
  static const prometheus::Histogram::BucketBoundaries b{0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                                         0.05,   0.1,   0.25,  0.5,   1,    5};
  return b;
}

struct Gauge {
  std::string name, help;
  std::function<std::vector<Sample>()> fn;
};

// Family::Add builds and hashes a label map on every call: about 7,000
// instructions per step finished, seen with callgrind in a drain. The
// metrics updated per run, step or call are found here by their label
// values, joined into one key; Add runs once per new set of labels. (The
// sets are few: types, steps, queues, statuses, methods, codes.)
template <typename T>
class LabelCache {
 public:
  template <typename Make>
  T& Get(const std::string& key, Make make) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(key);
    if (it != items_.end()) return *it->second;
    T& metric = make();
    items_.emplace(key, &metric);
    return metric;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string, T*> items_;
};

// The values, each after its length, so no two label sets share a key.
std::string Key(std::initializer_list<std::string_view> values) {
  std::string key;
  for (auto v : values) {
    key += std::to_string(v.size());
    key += ':';
    key.append(v);
  }
  return key;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& enqueued =
      prometheus::BuildCounter()
          .Name("cueball_runs_enqueued_total")
          .Help("Runs created by Enqueue/EnqueueBatch on this daemon (idempotent repeats excluded)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& finished =
      prometheus::BuildCounter()
          .Name("cueball_runs_finished_total")
          .Help("Runs that reached a final status through this daemon, by type and status")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& steps =
      prometheus::BuildHistogram()
          .Name("cueball_step_duration_seconds")
          .Help("Time a step handler ran, by type, step and outcome")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& retries =
      prometheus::BuildCounter()
          .Name("cueball_step_retries_total")
          .Help("Step attempts that failed and were scheduled to run again")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& rescues =
      prometheus::BuildCounter()
          .Name("cueball_lease_rescues_total")
          .Help(
              "Steps whose lease expired (their daemon died or hung) and that this daemon rescued")
          .Register(*registry);
  prometheus::Counter& rescued = rescues.Add({});
  prometheus::Family<prometheus::Counter>& continuations =
      prometheus::BuildCounter()
          .Name("cueball_steps_continued_total")
          .Help(
              "Next steps this daemon ran straight after recording the step before, without "
              "a claim (while steps are fast)")
          .Register(*registry);
  prometheus::Counter& continued = continuations.Add({});
  prometheus::Family<prometheus::Counter>& vacuums =
      prometheus::BuildCounter()
          .Name("cueball_runs_vacuums_total")
          .Help("Vacuums of the runs' table this daemon ran soon after a burst of runs")
          .Register(*registry);
  prometheus::Counter& vacuumed = vacuums.Add({});
  prometheus::Family<prometheus::Histogram>& rpcs =
      prometheus::BuildHistogram()
          .Name("cueball_rpc_duration_seconds")
          .Help("gRPC calls handled, by method and status code (_count is the call count)")
          .Register(*registry);

  LabelCache<prometheus::Counter> enqueued_by, finished_by, retries_by;
  LabelCache<prometheus::Histogram> steps_by, rpcs_by;

  mutable std::mutex mu;
  std::vector<Gauge> gauges;
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::RunsEnqueued(const std::string& type, const std::string& queue, int n) {
  impl_->enqueued_by
      .Get(
          Key({type, queue}),
          [&]() -> auto& {
            return impl_->enqueued.Add({{"type", type}, {"queue", queue}});
          })
      .Increment(n);
}

void Metrics::RunFinished(const std::string& type, const std::string& status, int n) {
  impl_->finished_by
      .Get(
          Key({type, status}),
          [&]() -> auto& {
            return impl_->finished.Add({{"type", type}, {"status", status}});
          })
      .Increment(n);
}

void Metrics::StepFinished(const std::string& type, const std::string& step,
                           const std::string& outcome, double seconds) {
  impl_->steps_by
      .Get(
          Key({type, step, outcome}),
          [&]() -> auto& {
            return impl_->steps.Add({{"type", type}, {"step", step}, {"outcome", outcome}},
                                    StepBuckets());
          })
      .Observe(seconds);
}

void Metrics::StepRetried(const std::string& type, const std::string& step) {
  impl_->retries_by
      .Get(
          Key({type, step}),
          [&]() -> auto& {
            return impl_->retries.Add({{"type", type}, {"step", step}});
          })
      .Increment();
}

void Metrics::LeasesRescued(int n) { impl_->rescued.Increment(n); }

void Metrics::StepsContinued(int n) { impl_->continued.Increment(n); }

void Metrics::RunsVacuumed() { impl_->vacuumed.Increment(); }

void Metrics::Rpc(const std::string& method, const std::string& code, double seconds) {
  impl_->rpcs_by
      .Get(
          Key({method, code}),
          [&]() -> auto& {
            return impl_->rpcs.Add({{"method", method}, {"code", code}}, RpcBuckets());
          })
      .Observe(seconds);
}

void Metrics::AddGauge(const std::string& name, const std::string& help,
                       std::function<std::vector<Sample>()> fn) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->gauges.push_back({name, help, std::move(fn)});
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = impl_->registry->Collect();
  std::vector<Gauge> gauges;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    gauges = impl_->gauges;
  }
  for (const auto& g : gauges) {
    prometheus::MetricFamily family;
    family.name = g.name;
    family.help = g.help;
    family.type = prometheus::MetricType::Gauge;
    for (const auto& s : g.fn()) {
      prometheus::ClientMetric m;
      for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
      m.gauge.value = s.value;
      family.metric.push_back(std::move(m));
    }
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace cueball::metrics
