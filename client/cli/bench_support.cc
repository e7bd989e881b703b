#include "client/cli/bench_support.h"

#include <algorithm>
#include <cmath>

namespace cueball::bench {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t Micros(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000 + t.nanos() / 1000;
}

google::protobuf::Timestamp ToTimestamp(int64_t micros) {
  google::protobuf::Timestamp t;
  t.set_seconds(micros / 1000000);
  t.set_nanos(static_cast<int32_t>(micros % 1000000) * 1000);
  return t;
}

void Check(const grpc::Status& s, const std::string& what) {
  if (!s.ok()) {
    throw BenchError(what + " failed (gRPC code " + std::to_string(s.error_code()) +
                     "): " + s.error_message());
  }
}

// Nearest-rank percentile, p in (0, 1].
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  if (n == 0) return 0;
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string Thousands(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  std::string s = buf;
  size_t end = s.find('.');
  if (end == std::string::npos) end = s.size();
  const size_t begin = s[0] == '-' ? 1 : 0;
  for (size_t i = end; i > begin + 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

void Progress::Draw() {
  const int64_t done = done_.load();
  const double frac = total_ > 0 ? std::min(1.0, static_cast<double>(done) / total_) : 0;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  const int width = 30;
  const int filled = static_cast<int>(frac * width);
  std::string bar(filled, '#');
  bar.append(width - filled, '.');
  std::fprintf(stderr, "\r\033[K%-22s [%s] %3d%% %s/%s %s/s", label_.c_str(), bar.c_str(),
               static_cast<int>(frac * 100), Thousands(done, 0).c_str(),
               Thousands(total_, 0).c_str(), Thousands(secs > 0 ? done / secs : 0, 0).c_str());
  std::fflush(stderr);
}

}  // namespace cueball::bench
