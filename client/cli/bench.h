// `cueball bench`: drives a running cueballd over gRPC and measures it, the
// way a user's services would load it. Scenarios (docs/performance.md):
//   throughput  enqueue N no-op runs with EnqueueBatch, then drain them
//   latency     single Enqueue calls, open loop at a low rate (Poisson arrivals by
//               default): enqueue-to-start/finish p50, p99 and max
//   pipeline    3-step demo.pipeline runs: runs/s and step transitions/s
//   wait        K concurrent Wait calls on runs finishing over time
//   backlog     drain rate with a deep queue versus the throughput scenario
//   remote      a C++ remote worker (client/worker.h) in the bench: its drain
//               rate against the in-process pool's, and enqueue-to-start
//               p99 of remote steps against in-process ones (open loop)
// Runs are held (run_at in the near future) while they are enqueued, so that
// enqueue and drain are measured apart. Durations come from the runs' own
// timestamps (database clock) where they can; latencies measured from the
// client's send or receive time assume the bench runs on the daemon's host.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "client/client.h"

namespace cueball::bench {

struct BenchOptions {
  std::vector<std::string> scenarios;      // empty: all, in the order above
  bool quick = false;                      // small sizes: the whole bench in under a minute
  int repeat = 0;                          // 0: 3, or 1 with --quick; figures are medians
  int64_t runs = 0;                        // throughput runs (0: 100,000; quick 5,000)
  double rate = 0;                         // latency: enqueues per second (0: 20; even 200)
  double seconds = 0;                      // latency: how long (0: 25; even 10; quick 3)
  std::string arrivals = "poisson";        // latency: exponential (poisson) or even gaps
  int64_t pipeline_runs = 0;               // (0: 20,000; quick 2,000)
  int waiters = 0;                         // (0: 1,000; quick 200)
  int64_t backlog = 0;                     // (0: 1,000,000; quick 20,000)
  int remote_slots = 512;                  // remote: the bench worker's slots
  int connections = 4;                     // concurrent EnqueueBatch callers
  int batch = 1000;                        // runs per EnqueueBatch
  int tags = 0;                            // tags on each enqueued run (a distinct value per run)
  std::string metrics = "127.0.0.1:7421";  // the daemon's --metrics-listen, for its RSS
  std::string progress = "auto";           // auto (when stderr is a terminal), always, never
  bool json = false;
};

// Registers the `bench` subcommand's options on `cmd`.
void AddBenchOptions(CLI::App* cmd, BenchOptions* opts);

// Runs the scenarios; prints one line per figure (or one JSON object) to
// `out`. Returns the process exit code: 0, 1 when a call failed, 2 for bad
// options.
int RunBench(client::Client& client, const BenchOptions& opts, std::ostream& out);

}  // namespace cueball::bench
