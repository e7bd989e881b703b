#include "server/domain/run.h"

#include <array>
#include <cstdio>
#include <ctime>
#include <random>

namespace cueball {

std::string FormatTime(TimePoint t) {
  int64_t us = ToMicros(t);
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  int64_t rem = us % 1000000;
  if (rem < 0) {
    rem += 1000000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(rem / 1000));
  return buf;
}

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::optional<RunId> RunId::Parse(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out(36, '-');
  for (size_t i = 0; i < 36; ++i) {
    bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
    if (dash) {
      if (text[i] != '-') return std::nullopt;
      continue;
    }
    int v = HexValue(text[i]);
    if (v < 0) return std::nullopt;
    out[i] = "0123456789abcdef"[v];
  }
  return RunId(std::move(out));
}

RunId RunId::NewV7() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  std::array<uint8_t, 16> b{};
  uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  uint64_t r1 = rng(), r2 = rng();
  for (int i = 6; i < 16; ++i) b[i] = static_cast<uint8_t>((i < 11 ? r1 : r2) >> (8 * (i % 8)));
  b[6] = static_cast<uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  static const char* kHex = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s.push_back('-');
    s.push_back(kHex[b[i] >> 4]);
    s.push_back(kHex[b[i] & 0xf]);
  }
  return RunId(std::move(s));
}

const char* RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kEnqueued:
      return "enqueued";
    case RunStatus::kRunning:
      return "running";
    case RunStatus::kWaiting:
      return "waiting";
    case RunStatus::kSucceeded:
      return "succeeded";
    case RunStatus::kFailed:
      return "failed";
    case RunStatus::kCanceled:
      return "canceled";
  }
  return "unknown";
}

std::optional<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : {RunStatus::kEnqueued, RunStatus::kRunning, RunStatus::kWaiting,
                      RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kCanceled}) {
    if (name == RunStatusName(s)) return s;
  }
  return std::nullopt;
}

const std::vector<std::string>& event_kind::All() {
  static const std::vector<std::string> kinds = {
      kEnqueued,      kStepStarted,  kStepSucceeded, kStepFailed,     kRetryScheduled,
      kStepDeferred,  kStepReleased, kRunSucceeded,  kRunFailed,      kRunCanceled,
      kRunRescued,    kRunRetried,   kStepWaiting,   kSignalReceived, kRunWoken,
      kChildEnqueued, kBlobSaved};
  return kinds;
}

}  // namespace cueball
