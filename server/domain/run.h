// Value types of the run record: ids, statuses, runs and their events.
// Plain data with no dependencies; JSON documents are held as JSON text and
// are parsed only by the layers that need their contents.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cueball {

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::microseconds>;
using Millis = std::chrono::milliseconds;

inline TimePoint Now() {
  return std::chrono::time_point_cast<std::chrono::microseconds>(Clock::now());
}
inline int64_t ToMicros(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint FromMicros(int64_t us) { return TimePoint(std::chrono::microseconds(us)); }
// RFC 3339 in UTC with millisecond precision, e.g. 2026-11-22T10:00:00.123Z.
std::string FormatTime(TimePoint t);

// A run id: a UUIDv7 (time-ordered), always held in canonical lower-case form.
class RunId {
 public:
  // Accepts the 8-4-4-4-12 hex form, any case; nullopt for anything else.
  static std::optional<RunId> Parse(std::string_view text);
  // A fresh UUIDv7: 48 bits of Unix milliseconds, then random bits. Thread-safe.
  static RunId NewV7();
  const std::string& str() const { return text_; }
  bool operator==(const RunId& o) const { return text_ == o.text_; }
  bool operator<(const RunId& o) const { return text_ < o.text_; }

 private:
  explicit RunId(std::string text) : text_(std::move(text)) {}
  std::string text_;
};

enum class RunStatus { kEnqueued, kRunning, kWaiting, kSucceeded, kFailed, kCanceled };

const char* RunStatusName(RunStatus s);  // "enqueued", "running", ...
std::optional<RunStatus> ParseRunStatus(std::string_view name);
inline bool IsTerminal(RunStatus s) {
  return s == RunStatus::kSucceeded || s == RunStatus::kFailed || s == RunStatus::kCanceled;
}

// Event kinds written by the engine; the set is open (later features add kinds).
namespace event_kind {
inline constexpr const char* kEnqueued = "enqueued";
inline constexpr const char* kStepStarted = "step_started";
inline constexpr const char* kStepSucceeded = "step_succeeded";
inline constexpr const char* kStepFailed = "step_failed";
inline constexpr const char* kRetryScheduled = "retry_scheduled";
inline constexpr const char* kStepDeferred = "step_deferred";
inline constexpr const char* kStepReleased = "step_released";
inline constexpr const char* kRunSucceeded = "run_succeeded";
inline constexpr const char* kRunFailed = "run_failed";
inline constexpr const char* kRunCanceled = "run_canceled";
inline constexpr const char* kRunRescued = "run_rescued";
inline constexpr const char* kRunRetried = "run_retried";
inline constexpr const char* kStepWaiting = "step_waiting";  // suspended: signal, runs or timer
inline constexpr const char* kSignalReceived = "signal_received";
inline constexpr const char* kRunWoken = "run_woken";  // a wait ended (data.woke says how)
inline constexpr const char* kChildEnqueued = "child_enqueued";  // on the parent
inline constexpr const char* kBlobSaved = "blob_saved";
// Every kind above, for validating filters.
const std::vector<std::string>& All();
}  // namespace event_kind

struct Event {
  int64_t seq = 0;       // insertion order (per-run history order)
  int64_t position = 0;  // global stream position; 0 until the sequencer numbers it
  std::string run_id;
  std::string workflow_type;  // filled when read from the stream
  std::string kind;
  std::string step;
  int attempt = 0;
  std::string data = "{}";  // JSON text
  TimePoint created_at;
};

// A run started by another run's step.
struct ChildRun {
  std::string id;
  std::string workflow_type;
  RunStatus status = RunStatus::kEnqueued;
};

struct Run {
  std::string id;
  std::string workflow_type;
  std::string queue;
  int priority = 0;
  RunStatus status = RunStatus::kEnqueued;
  int step_index = 0;
  std::string step_name;
  int attempt = 0;
  std::string input = "{}";
  std::string state = "{}";
  std::optional<std::string> result;
  std::optional<std::string> error;
  std::optional<std::string> idempotency_key;
  TimePoint created_at;
  TimePoint updated_at;
  TimePoint run_at;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::vector<Event> history;            // only when asked for
  std::optional<std::string> parent_id;  // the run whose step enqueued this one
  // JSON text while WAITING: what the run waits for ({"for": "signal" |
  // "runs" | "timer", ...}); once woken, the same with "woke" (signal, runs,
  // timer or timeout) until the next attempt is recorded.
  std::optional<std::string> wait;
  std::vector<ChildRun> children;  // filled by Get
  // Labels given at enqueue (key -> value); empty: none. List and the bulk
  // actions filter on them.
  std::map<std::string, std::string> tags;
  // The whole run's deadline, and what happens past it: "fail" or "cancel".
  std::optional<TimePoint> deadline;
  std::string deadline_action;
  // Retention removed the record; only this summary is left (no input, state,
  // result, error or history).
  bool pruned = false;
};

}  // namespace cueball
