// HealthMonitor: probes the database and schema every interval and keeps the
// answer for the gRPC health service, /readyz and the call policy. A change
// is logged once (warn when the daemon stops being ready, info when it
// recovers) and reported through `on_change`. Stop() marks it not ready
// ("shutting down") so probes drain traffic away before the listener closes.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "server/maintenance/periodic.h"
#include "server/store/schema_probe.h"

namespace cueball::maintenance {

class HealthMonitor {
 public:
  // on_change(ready, reason) runs on the monitor's thread (or the caller's,
  // for CheckNow) whenever readiness flips.
  HealthMonitor(store::SchemaProbe* probe, Millis interval,
                std::function<void(bool, const std::string&)> on_change);
  ~HealthMonitor() { Stop(); }

  // Probes once, now; returns whether the daemon is ready.
  bool CheckNow();
  void Start();
  void Stop();

  bool ready();
  std::string reason();  // why not ready; empty when ready

 private:
  void Set(bool ready, const std::string& reason);

  store::SchemaProbe* const probe_;
  const Millis interval_;
  std::function<void(bool, const std::string&)> on_change_;
  std::mutex mu_;
  bool ready_ = false;
  bool known_ = false;
  bool stopped_ = false;
  std::string reason_ = "starting";
  Periodic loop_;
};

}  // namespace cueball::maintenance
