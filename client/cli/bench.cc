#include "client/cli/bench.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>

#include "client/cli/bench_support.h"
#include "client/http_get.h"
#include "client/worker.h"

namespace cueball::bench {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<std::string> kScenarios = {"throughput", "latency", "pipeline",
                                             "wait",       "backlog", "remote"};
// The remote scenario's workflow type: one no-op step that a C++ remote
// worker inside the bench runs (client/worker.h).
constexpr const char* kRemoteType = "bench.remote_noop";
constexpr int kWaitChunk = 1000;  // the daemon's most ids per Wait

class Bench {
 public:
  Bench(client::Client& c, const BenchOptions& o)
      : c_(c), o_(o), progress_(o.progress == "always" || (o.progress == "auto" && isatty(2))) {}

  void CheckTypes() {
    v1::ListWorkflowTypesResponse resp;
    Check(c_.ListWorkflowTypes(&resp), "ListWorkflowTypes");
    for (const auto& t : resp.types()) steps_[t.name()] = t.steps_size();
    for (const char* need : {"noop", "demo.pipeline"}) {
      if (!steps_.count(need)) {
        throw BenchError(std::string("the daemon does not run workflow type ") + need +
                         " (the bench needs cueballd's built-in types)");
      }
    }
  }

  std::vector<Figure> Run(const std::string& scenario) {
    if (scenario == "throughput") return Throughput();
    if (scenario == "latency") return Latency();
    if (scenario == "pipeline") return Pipeline();
    if (scenario == "wait") return Wait();
    if (scenario == "remote") return Remote();
    return Backlog();
  }

  void Note(const std::string& text) {
    progress_.End();
    std::cerr << "cueball bench: " << text << "\n";
    notes_.push_back(text);
  }
  const std::vector<std::string>& notes() const { return notes_; }
  // Median empty-queue drain rate measured so far (throughput), for backlog.
  std::vector<double> drain_rates;
  std::vector<double> enqueue_rates;

 private:
  int64_t Size(int64_t given, int64_t full, int64_t quick) const {
    return given > 0 ? given : (o_.quick ? quick : full);
  }

  // Enqueues n runs of `type` with EnqueueBatch from o_.connections threads;
  // run i gets run_at = run_at_us(i). Returns the ids in order.
  std::vector<std::string> EnqueueMany(const std::string& type, int64_t n,
                                       const std::function<int64_t(int64_t)>& run_at_us,
                                       double* seconds, const std::string& label) {
    std::vector<std::string> ids(n);
    const int64_t batches = (n + o_.batch - 1) / o_.batch;
    std::atomic<int64_t> next{0};
    std::mutex err_mu;
    std::optional<std::string> error;
    progress_.Begin(label, n);
    const auto t0 = std::chrono::steady_clock::now();
    auto worker = [&] {
      v1::EnqueueBatchRequest req;
      v1::EnqueueBatchResponse resp;
      for (int64_t b; (b = next++) < batches;) {
        {
          std::lock_guard<std::mutex> lock(err_mu);
          if (error) return;
        }
        const int64_t lo = b * o_.batch, hi = std::min(n, lo + o_.batch);
        req.Clear();
        for (int64_t i = lo; i < hi; ++i) {
          auto* r = req.add_runs();
          r->set_workflow_type(type);
          *r->mutable_run_at() = ToTimestamp(run_at_us(i));
          for (int t = 0; t < o_.tags; ++t) {
            (*r->mutable_tags())["tag" + std::to_string(t)] = std::to_string(i);
          }
        }
        resp.Clear();
        auto s = c_.EnqueueBatch(req, &resp);
        if (!s.ok() || resp.runs_size() != hi - lo) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (!error) error = "EnqueueBatch failed: " + s.error_message();
          return;
        }
        for (int64_t i = lo; i < hi; ++i) ids[i] = resp.runs(i - lo).run().id();
        progress_.Add(hi - lo);
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < o_.connections; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    progress_.End();
    if (error) throw BenchError(*error);
    return ids;
  }

  // Waits for one run to finish; the run itself when it SUCCEEDED.
  v1::Run WaitOne(const std::string& id) {
    v1::WaitRequest req;
    req.add_ids(id);
    req.mutable_timeout()->set_seconds(600);
    v1::WaitResponse resp;
    Check(c_.Wait(req, &resp), "Wait");
    if (!resp.satisfied()) throw BenchError("run " + id + " did not finish within 10 minutes");
    return resp.runs(0);
  }

  // Waits until every run has finished and returns their timestamps in the
  // order of `ids`; every run must have SUCCEEDED. While runs drain it waits
  // only on one run per percent (in queue order), for the progress bar, so
  // that the bench adds almost no load; the timestamps are read afterwards
  // (1,000 ids per Wait).
  std::vector<RunTimes> WaitAll(const std::vector<std::string>& ids, const std::string& label) {
    const size_t n = ids.size();
    progress_.Begin(label, static_cast<int64_t>(n));
    const size_t step = std::max<size_t>(1, n / 100);
    for (size_t done = 0; done < n;) {
      const size_t next = std::min(n, done + step);
      WaitOne(ids[next - 1]);
      progress_.Add(static_cast<int64_t>(next - done));
      done = next;
    }
    progress_.End();
    std::vector<RunTimes> out(n);
    for (size_t lo = 0; lo < n; lo += kWaitChunk) {
      const size_t hi = std::min(n, lo + kWaitChunk);
      v1::WaitRequest req;
      for (size_t i = lo; i < hi; ++i) req.add_ids(ids[i]);
      req.mutable_timeout()->set_seconds(600);
      v1::WaitResponse resp;
      Check(c_.Wait(req, &resp), "Wait");
      if (!resp.satisfied()) throw BenchError("runs did not finish within 10 minutes");
      for (int i = 0; i < resp.runs_size(); ++i) {
        const auto& r = resp.runs(i);
        if (r.status() != v1::RUN_STATUS_SUCCEEDED) {
          throw BenchError("run " + r.id() + " ended " + client::StatusName(r.status()) +
                           (r.error().empty() ? "" : ": " + r.error()));
        }
        out[lo + i] = {Micros(r.created_at()), Micros(r.started_at()), Micros(r.finished_at())};
      }
    }
    return out;
  }

  // Holds runs until every one is enqueued: due `hold_seconds` from now.
  struct Held {
    std::vector<std::string> ids;
    double enqueue_seconds = 0;
    std::vector<RunTimes> times;
    int64_t first_started = 0;  // microseconds, database clock
    double drain_seconds = 0;   // first start to last finish
  };
  Held EnqueueHeldAndDrain(const std::string& type, int64_t n, double hold_seconds,
                           const std::string& name) {
    Held h;
    const int64_t due = NowMicros() + static_cast<int64_t>(hold_seconds * 1e6);
    h.ids = EnqueueMany(
        type, n, [due](int64_t) { return due; }, &h.enqueue_seconds, name + ": enqueue");
    if (NowMicros() > due) {
      Note(name + ": enqueueing took longer than the hold (" + Thousands(hold_seconds, 1) +
           " s), so the daemon started draining before every run was queued");
    }
    h.times = WaitAll(h.ids, name + ": drain");
    int64_t first = INT64_MAX, last = 0;
    for (const auto& t : h.times) {
      first = std::min(first, t.started);
      last = std::max(last, t.finished);
    }
    h.first_started = first;
    h.drain_seconds = std::max(1e-6, (last - first) / 1e6);
    return h;
  }

  std::vector<Figure> Throughput() {
    const int64_t n = Size(o_.runs, 100000, 5000);
    Held h = EnqueueHeldAndDrain("noop", n, 1.5 + n / 20000.0, "throughput");
    const double enq = n / h.enqueue_seconds, drain = n / h.drain_seconds;
    enqueue_rates.push_back(enq);
    drain_rates.push_back(drain);
    return {{"throughput.enqueue", enq, "runs/s", 0, ">=", 50000},
            {"throughput.drain", drain, "runs/s", 0, ">=", 30000},
            {"throughput.total", h.enqueue_seconds + h.drain_seconds, "s", 2, "", 0}};
  }

  // Enqueue calls sent open loop: every send time is fixed before the first
  // call (exponential gaps with a fixed seed by default, as peers measure;
  // even gaps with --arrivals even), and calls are asynchronous, so a slow
  // answer never delays the calls after it and every stall shows.
  // Single Enqueue calls of type_of(i), sent open loop at `rate` for
  // `secs`; per call: the RPC's time and enqueue-to-start and -finish (ms).
  struct OpenLoopTimes {
    std::vector<double> rpc_ms, start_ms, finish_ms;
  };
  OpenLoopTimes OpenLoop(const std::function<std::string(int64_t)>& type_of, double rate,
                         double secs, bool poisson, const std::string& label) {
    std::vector<double> at;  // seconds after the start
    std::mt19937_64 rng(20261206 + latency_round_++);
    std::exponential_distribution<double> gap(rate);
    for (double t = 0;;) {
      t += poisson ? gap(rng) : 1.0 / rate;
      if (t > secs && !at.empty()) break;
      at.push_back(t);
    }
    const int64_t n = static_cast<int64_t>(at.size());
    std::vector<std::string> ids(n);
    std::vector<int64_t> sent(n);
    OpenLoopTimes out;
    out.rpc_ms.resize(n);
    std::vector<std::chrono::steady_clock::time_point> sent_steady(n);
    std::vector<std::unique_ptr<grpc::ClientContext>> ctx(n);
    std::vector<v1::EnqueueResponse> resp(n);
    std::vector<grpc::Status> status(n);
    std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<v1::EnqueueResponse>>> calls(n);
    grpc::CompletionQueue cq;
    std::thread receiver([&] {
      void* tag = nullptr;
      bool ok = false;
      for (int64_t got = 0; got < n && cq.Next(&tag, &ok); ++got) {
        const auto i = static_cast<int64_t>(reinterpret_cast<intptr_t>(tag));
        out.rpc_ms[i] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                                  sent_steady[i])
                            .count();
        progress_.Add(1);
      }
    });
    progress_.Begin(label, n);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < n; ++i) {
      std::this_thread::sleep_until(t0 +
                                    std::chrono::microseconds(static_cast<int64_t>(at[i] * 1e6)));
      v1::EnqueueRequest req;
      req.set_workflow_type(type_of(i));
      ctx[i] = std::make_unique<grpc::ClientContext>();
      c_.Prepare(ctx[i].get());
      sent_steady[i] = std::chrono::steady_clock::now();
      sent[i] = NowMicros();
      calls[i] = c_.stub()->AsyncEnqueue(ctx[i].get(), req, &cq);
      calls[i]->Finish(&resp[i], &status[i], reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    }
    receiver.join();
    cq.Shutdown();
    progress_.End();
    for (int64_t i = 0; i < n; ++i) {
      Check(status[i], "Enqueue");
      ids[i] = resp[i].run().id();
    }
    auto times = WaitAll(ids, label + ": collect");
    out.start_ms.resize(n);
    out.finish_ms.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      out.start_ms[i] = (times[i].started - sent[i]) / 1000.0;
      out.finish_ms[i] = (times[i].finished - sent[i]) / 1000.0;
    }
    return out;
  }

  // Enqueue calls sent open loop: every send time is fixed before the first
  // call (exponential gaps with a fixed seed by default, as peers measure;
  // even gaps with --arrivals even), and calls are asynchronous, so a slow
  // answer never delays the calls after it and every stall shows.
  std::vector<Figure> Latency() {
    const bool poisson = o_.arrivals != "even";
    const double rate = o_.rate > 0 ? o_.rate : (poisson ? 20 : (o_.quick ? 100 : 200));
    const double secs = o_.seconds > 0 ? o_.seconds : (o_.quick ? 3 : (poisson ? 25 : 10));
    OpenLoopTimes t =
        OpenLoop([](int64_t) { return std::string("noop"); }, rate, secs, poisson,
                 std::string("latency: enqueue (") + (poisson ? "poisson" : "even") + ")");
    const double max_start = *std::max_element(t.start_ms.begin(), t.start_ms.end());
    return {{"latency.calls", static_cast<double>(t.start_ms.size()), "calls", 0, "", 0},
            {"latency.enqueue_rpc_p50", Percentile(t.rpc_ms, 0.5), "ms", 2, "", 0},
            {"latency.enqueue_rpc_p99", Percentile(t.rpc_ms, 0.99), "ms", 2, "", 0},
            {"latency.enqueue_rpc_max", Percentile(t.rpc_ms, 1), "ms", 2, "", 0},
            {"latency.start_p50", Percentile(t.start_ms, 0.5), "ms", 2, "<=", 3},
            {"latency.start_p90", Percentile(t.start_ms, 0.9), "ms", 2, "", 0},
            {"latency.start_p99", Percentile(t.start_ms, 0.99), "ms", 2, "<=", poisson ? 5.0 : 8.0},
            {"latency.start_max", max_start, "ms", 2, poisson ? "<=" : "", 20},
            {"latency.finish_p50", Percentile(t.finish_ms, 0.5), "ms", 2, "", 0},
            {"latency.finish_p90", Percentile(t.finish_ms, 0.9), "ms", 2, "", 0},
            {"latency.finish_p99", Percentile(t.finish_ms, 0.99), "ms", 2, "", 0}};
  }

  // Remote workers against the in-process pool, in one run: a C++ remote
  // worker inside the bench (client::Worker, --remote-slots slots) serves
  // bench.remote_noop. Latency: open loop at 20/s, calls alternating
  // between the two types. Drain: n no-op runs in-process, then n remote.
  std::vector<Figure> Remote() {
    client::Worker::Options wo;
    wo.identity = "cueball-bench";
    wo.slots = o_.remote_slots;
    wo.poll_wait = Millis(5000);
    client::Worker worker(&c_, wo);
    v1::WorkflowDefinition def;
    def.set_name(kRemoteType);
    def.set_description("cueball bench: one no-op step run by a remote worker");
    auto* step = def.add_steps();
    step->set_name("noop");
    step->mutable_retry()->set_max_attempts(3);
    worker.AddType(def, {{"noop", [](client::StepCall&) { return client::StepCall::Next(); }}});
    grpc::Status registered;
    std::atomic<bool> ended{false};
    std::thread serving([&] {
      registered = worker.Run();
      ended = true;
    });
    // Wait until it has registered, or Run returned (registration failed).
    for (int i = 0; i < 1000 && !worker.registered() && !ended; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!worker.registered()) {
      worker.Stop();
      serving.join();
      throw BenchError("RegisterWorker failed: " + registered.error_message());
    }
    struct Stop {
      client::Worker& w;
      std::thread& t;
      ~Stop() {
        w.Stop();
        t.join();
      }
    } stop{worker, serving};
    // Latency first, on an idle daemon (the goal's condition): a drain of
    // 100,000 runs leaves a vacuum and a checkpoint behind it, which a
    // repetition's latency waits out.
    if (remote_drained_) std::this_thread::sleep_for(std::chrono::seconds(o_.quick ? 1 : 10));
    const double rate = o_.rate > 0 ? o_.rate : 20;
    const double secs = o_.seconds > 0 ? o_.seconds : (o_.quick ? 3 : 25);
    OpenLoopTimes t =
        OpenLoop([](int64_t i) { return std::string(i % 2 == 0 ? "noop" : kRemoteType); }, rate,
                 secs, o_.arrivals != "even", "remote: latency");
    const int64_t n = Size(o_.runs, 100000, 5000);
    Held local = EnqueueHeldAndDrain("noop", n, 1.5 + n / 20000.0, "remote: in-process");
    Held remote = EnqueueHeldAndDrain(kRemoteType, n, 1.5 + n / 20000.0, "remote: remote");
    remote_drained_ = true;
    const double local_rate = n / local.drain_seconds, remote_rate = n / remote.drain_seconds;
    std::vector<double> local_ms, remote_ms;
    for (size_t i = 0; i < t.start_ms.size(); ++i) {
      (i % 2 == 0 ? local_ms : remote_ms).push_back(t.start_ms[i]);
    }
    if (remote_ms.empty()) remote_ms = local_ms;
    const double local_p99 = Percentile(local_ms, 0.99), remote_p99 = Percentile(remote_ms, 0.99);
    return {{"remote.calls", static_cast<double>(t.start_ms.size()), "calls", 0, "", 0},
            {"remote.drain_in_process", local_rate, "runs/s", 0, "", 0},
            {"remote.drain_remote", remote_rate, "runs/s", 0, "", 0},
            {"remote.drain_ratio", remote_rate / local_rate, "x", 2, ">=", 0.5},
            {"remote.start_p50", Percentile(remote_ms, 0.5), "ms", 2, "", 0},
            {"remote.start_p99", remote_p99, "ms", 2, "", 0},
            {"remote.start_max", Percentile(remote_ms, 1), "ms", 2, "", 0},
            {"remote.in_process_start_p99", local_p99, "ms", 2, "", 0},
            {"remote.start_p99_excess", remote_p99 - local_p99, "ms", 2, "<=", 5}};
  }

  std::vector<Figure> Pipeline() {
    const int64_t n = Size(o_.pipeline_runs, 20000, 2000);
    const int steps = steps_["demo.pipeline"];
    Held h = EnqueueHeldAndDrain("demo.pipeline", n, 1.5 + n / 20000.0, "pipeline");
    return {{"pipeline.runs", n / h.drain_seconds, "runs/s", 0, ">=", 10000},
            {"pipeline.transitions", n * steps / h.drain_seconds, "steps/s", 0, "", 0}};
  }

  // The daemon's resident memory from its metrics endpoint; nullopt if unreachable.
  std::optional<double> DaemonRssMb() {
    if (o_.metrics.empty()) return std::nullopt;
    auto r = client::HttpGet(o_.metrics, "/metrics");
    if (r.code != 200) return std::nullopt;
    double v = client::MetricValue(r.body, "process_resident_memory_bytes");
    if (v < 0) return std::nullopt;
    return v / (1024.0 * 1024.0);
  }

  std::vector<Figure> Wait() {
    const int k = static_cast<int>(Size(o_.waiters, 1000, 200));
    const double spread = o_.quick ? 1.0 : 2.0;
    // Every Wait is registered well before the first run is due.
    const int64_t due = NowMicros() + static_cast<int64_t>((1.5 + k / 2000.0) * 1e6);
    double enq_secs = 0;
    auto ids = EnqueueMany(
        "noop", k, [&](int64_t i) { return due + static_cast<int64_t>(i * spread * 1e6 / k); },
        &enq_secs, "wait: enqueue");
    grpc::CompletionQueue cq;
    std::vector<std::unique_ptr<grpc::ClientContext>> ctx(k);
    std::vector<v1::WaitResponse> resp(k);
    std::vector<grpc::Status> status(k);
    std::vector<std::unique_ptr<grpc::ClientAsyncResponseReader<v1::WaitResponse>>> calls(k);
    for (int i = 0; i < k; ++i) {
      ctx[i] = std::make_unique<grpc::ClientContext>();
      c_.Prepare(ctx[i].get());
      ctx[i]->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      v1::WaitRequest req;
      req.add_ids(ids[i]);
      req.mutable_timeout()->set_seconds(60);
      calls[i] = c_.stub()->AsyncWait(ctx[i].get(), req, &cq);
      calls[i]->Finish(&resp[i], &status[i], reinterpret_cast<void*>(static_cast<intptr_t>(i)));
    }
    if (NowMicros() > due) {
      Note("wait: some Wait calls were sent after their run was due; their latency is overstated");
    }
    // Sample the daemon's memory while the waiters are pending.
    std::atomic<bool> sampling{true};
    std::optional<double> rss;
    std::thread sampler([&] {
      while (sampling) {
        auto v = DaemonRssMb();
        if (v && (!rss || *v > *rss)) rss = v;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    progress_.Begin("wait: waiters", k);
    std::vector<int64_t> received(k);
    void* tag;
    bool ok;
    for (int got = 0; got < k && cq.Next(&tag, &ok); ++got) {
      received[reinterpret_cast<intptr_t>(tag)] = NowMicros();
      progress_.Add(1);
    }
    progress_.End();
    sampling = false;
    sampler.join();
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    std::vector<double> wake_ms;
    for (int i = 0; i < k; ++i) {
      Check(status[i], "Wait");
      if (!resp[i].satisfied() || resp[i].runs_size() != 1) {
        throw BenchError("a Wait returned before its run finished");
      }
      wake_ms.push_back((received[i] - Micros(resp[i].runs(0).finished_at())) / 1000.0);
    }
    std::vector<Figure> out = {{"wait.wake_p50", Percentile(wake_ms, 0.5), "ms", 2, "", 0},
                               {"wait.wake_p99", Percentile(wake_ms, 0.99), "ms", 2, "<=", 5}};
    if (rss) {
      out.push_back({"wait.daemon_rss", *rss, "MB", 1, "<=", 200});
    } else {
      Note("wait: no daemon RSS: the metrics endpoint " + o_.metrics +
           " did not answer (set --metrics to the daemon's --metrics-listen)");
    }
    return out;
  }

  std::vector<Figure> Backlog() {
    const int64_t n = Size(o_.backlog, 1000000, 20000);
    // Hold long enough to enqueue everything at the rate seen so far.
    const double rate = enqueue_rates.empty() ? 10000 : 0.7 * Median(enqueue_rates);
    Held h = EnqueueHeldAndDrain("noop", n, 2.0 + n / rate, "backlog");
    std::vector<int64_t> fin;
    for (const auto& t : h.times) fin.push_back(t.finished);
    std::sort(fin.begin(), fin.end());
    const int64_t tenth = std::max<int64_t>(1, n / 10);
    const double deep = tenth / std::max(1e-6, (fin[tenth - 1] - h.first_started) / 1e6);
    const double shallow = tenth / std::max(1e-6, (fin[n - 1] - fin[n - tenth]) / 1e6);
    const double drain = n / h.drain_seconds;
    std::vector<Figure> out = {{"backlog.drain", drain, "runs/s", 0, "", 0},
                               {"backlog.first_tenth", deep, "runs/s", 0, "", 0},
                               {"backlog.last_tenth", shallow, "runs/s", 0, "", 0}};
    if (!drain_rates.empty()) {
      out.push_back({"backlog.vs_throughput", drain / Median(drain_rates), "x", 2, ">=", 0.8});
    }
    return out;
  }

  client::Client& c_;
  const BenchOptions& o_;
  Progress progress_;
  std::map<std::string, int> steps_;
  std::vector<std::string> notes_;
  int latency_round_ = 0;  // each repetition draws its own gaps
  bool remote_drained_ = false;
};

}  // namespace

void AddBenchOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("scenarios", o->scenarios,
                  "throughput, latency, pipeline, wait, backlog, remote (default: all, in this "
                  "order)")
      ->check(CLI::IsMember(kScenarios));
  cmd->add_flag("--quick", o->quick, "small sizes: every scenario in well under a minute");
  cmd->add_option("--repeat", o->repeat,
                  "run each scenario this many times and report medians (default 3; 1 with "
                  "--quick)")
      ->check(CLI::Range(1, 50));
  cmd->add_option("--runs", o->runs, "throughput: runs to enqueue and drain (default 100000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  cmd->add_option("--rate", o->rate,
                  "latency: Enqueue calls per second (default 20; 200 with --arrivals even)")
      ->check(CLI::Range(0.1, 100000.0));
  cmd->add_option("--seconds", o->seconds,
                  "latency: how long to enqueue (default 25; 10 with --arrivals even)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--arrivals", o->arrivals,
                  "latency: gaps between calls, open loop: poisson (exponential, fixed seed) or "
                  "even")
      ->check(CLI::IsMember({"poisson", "even"}))
      ->capture_default_str();
  cmd->add_option("--pipeline-runs", o->pipeline_runs, "pipeline: runs (default 20000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}));
  cmd->add_option("--waiters", o->waiters, "wait: concurrent Wait calls (default 1000)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--backlog", o->backlog, "backlog: runs queued before draining (default 1000000)")
      ->check(CLI::Range(int64_t{10}, int64_t{100000000}));
  cmd->add_option("--remote-slots", o->remote_slots,
                  "remote: slots of the bench's C++ remote worker")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cmd->add_option("--connections", o->connections, "concurrent EnqueueBatch callers")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "runs per EnqueueBatch")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--tags", o->tags,
                  "tags on each run the bench enqueues, each with a value of its own (the cost "
                  "of tags)")
      ->check(CLI::Range(0, 16))
      ->capture_default_str();
  cmd->add_option("--metrics", o->metrics,
                  "the daemon's --metrics-listen HOST:PORT, for its memory (\"\": skip)")
      ->capture_default_str();
  cmd->add_option("--progress", o->progress, "progress bar on stderr: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

int RunBench(client::Client& client, const BenchOptions& opts, std::ostream& out) {
  BenchOptions o = opts;
  if (o.repeat == 0) o.repeat = o.quick ? 1 : 3;
  std::vector<std::string> scenarios;
  for (const auto& s : kScenarios) {
    if (o.scenarios.empty() ||
        std::find(o.scenarios.begin(), o.scenarios.end(), s) != o.scenarios.end()) {
      scenarios.push_back(s);
    }
  }
  Bench bench(client, o);
  std::vector<Figure> order;  // first sample of each figure, in order
  std::map<std::string, std::vector<double>> samples;
  try {
    bench.CheckTypes();
    for (const auto& s : scenarios) {
      for (int r = 0; r < o.repeat; ++r) {
        for (auto& f : bench.Run(s)) {
          if (!samples.count(f.name)) order.push_back(f);
          samples[f.name].push_back(f.value);
        }
      }
    }
  } catch (const BenchError& e) {
    std::cerr << "cueball bench: " << e.what() << "\n";
    return 1;
  }
  Json doc;
  doc["quick"] = o.quick;
  doc["repeat"] = o.repeat;
  Json figures = Json::object();
  for (const auto& f : order) {
    const auto& v = samples[f.name];
    const double median = Median(v);
    std::string target;
    bool met = true;
    if (!f.op.empty()) {
      met = f.op == ">=" ? median >= f.target : median <= f.target;
      target = "target " + f.op + " " + Thousands(f.target, f.decimals) + " " + f.unit + ": " +
               (met ? "met" : "MISSED");
    }
    if (o.json) {
      Json j = {{"value", median}, {"unit", f.unit}, {"samples", v}};
      if (!f.op.empty()) j["target"] = {{"op", f.op}, {"value", f.target}, {"met", met}};
      figures[f.name] = j;
      continue;
    }
    char line[256];
    std::snprintf(line, sizeof line, "%-26s %14s %-8s %s", f.name.c_str(),
                  Thousands(median, f.decimals).c_str(), f.unit.c_str(), target.c_str());
    std::string text = line;
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (v.size() > 1) text += "  (median of " + std::to_string(v.size()) + ")";
    out << text << "\n";
  }
  if (o.json) {
    doc["figures"] = figures;
    doc["notes"] = bench.notes();
    out << doc.dump(2) << "\n";
  }
  return 0;
}

}  // namespace cueball::bench
