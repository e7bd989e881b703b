#include "server/maintenance/health_monitor.h"

#include <spdlog/spdlog.h>

#include "server/logging/logging.h"

namespace cueball::maintenance {

HealthMonitor::HealthMonitor(store::SchemaProbe* probe, Millis interval,
                             std::function<void(bool, const std::string&)> on_change)
    : probe_(probe), interval_(interval), on_change_(std::move(on_change)) {}

bool HealthMonitor::CheckNow() {
  Status st = probe_->Probe();
  std::string reason;
  if (!st.ok()) {
    reason = st.code() == StatusCode::kFailedPrecondition ? st.message()
                                                          : "database unreachable: " + st.message();
  }
  Set(st.ok(), reason);
  return st.ok();
}

void HealthMonitor::Start() {
  loop_.Start(interval_, [this] { CheckNow(); });
}

void HealthMonitor::Stop() {
  loop_.Stop();
  bool known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = known_;
  }
  if (known) Set(false, "shutting down");
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

void HealthMonitor::Set(bool ready, const std::string& reason) {
  bool changed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    changed = !known_ || ready != ready_;
    known_ = true;
    ready_ = ready;
    reason_ = reason;
  }
  if (!changed) return;
  auto log = spdlog::get("maint");
  if (log) {
    if (ready) {
      logging::Info(log, "health serving");
    } else {
      logging::Warn(log, "health not_serving", {{"reason", reason}});
    }
  }
  if (on_change_) on_change_(ready, reason);
}

bool HealthMonitor::ready() {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_;
}

std::string HealthMonitor::reason() {
  std::lock_guard<std::mutex> lock(mu_);
  return reason_;
}

}  // namespace cueball::maintenance
