// What the bench's scenarios (bench.cc) share: time, percentiles, number
// formatting, the progress bar, and the figures they report.
#pragma once

#include <google/protobuf/timestamp.pb.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace cueball::bench {

// A call failed or the daemon misbehaved: the bench stops with this message.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

int64_t NowMicros();  // wall clock, microseconds since the epoch
int64_t Micros(const google::protobuf::Timestamp& t);
google::protobuf::Timestamp ToTimestamp(int64_t micros);
// Throws BenchError naming `what` when the call failed.
void Check(const grpc::Status& s, const std::string& what);
// Nearest-rank percentile, p in (0, 1].
double Percentile(std::vector<double> v, double p);
double Median(std::vector<double> v);
// v with `decimals` decimals and thousands separators: 12,345.6
std::string Thousands(double v, int decimals);

// A one-line progress bar on stderr, redrawn five times a second.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress() { End(); }

  void Begin(const std::string& label, int64_t total) {
    End();
    if (!enabled_) return;
    label_ = label;
    total_ = total;
    done_ = 0;
    started_ = std::chrono::steady_clock::now();
    stop_ = false;
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [&] { return stop_; })) Draw();
      Draw();
      std::fputs("\r\033[K", stderr);
    });
  }
  void Add(int64_t n) { done_ += n; }
  void End() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    thread_.join();
  }

 private:
  void Draw();

  const bool enabled_;
  std::string label_;
  int64_t total_ = 0;
  std::atomic<int64_t> done_{0};
  std::chrono::steady_clock::time_point started_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

struct RunTimes {
  int64_t created = 0, started = 0, finished = 0;  // microseconds, database clock
};

struct Figure {
  std::string name;
  double value = 0;
  std::string unit;
  int decimals = 0;
  std::string op;  // ">=", "<=" or "" (no target)
  double target = 0;
};

}  // namespace cueball::bench
