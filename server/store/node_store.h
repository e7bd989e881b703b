// NodeStore: the registry of daemons sharing one database. Each daemon
// upserts its row at start, touches last_seen_at on every heartbeat and sets
// stopped_at on a clean exit. Thread-safe; UNAVAILABLE when the database is
// unreachable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"

namespace cueball::store {

struct NodeInfo {
  std::string id;
  std::string host;
  int pid = 0;
  std::string version;
  std::string listen;
  std::vector<std::string> queues;
  std::vector<std::string> types;  // workflow types it runs (empty: an older build, unknown)
  int workers = 0;
  TimePoint started_at;
  TimePoint last_seen_at;
  std::optional<TimePoint> stopped_at;
  Millis since_seen{0};  // by the database clock, at the time of the read
};

class NodeStore {
 public:
  virtual ~NodeStore() = default;
  virtual Status RegisterNode(const NodeInfo& node) = 0;  // insert or replace, last_seen = now
  virtual Status TouchNode(const std::string& id) = 0;    // last_seen = now
  virtual Status StopNode(const std::string& id) = 0;     // stopped_at = now
  // Nodes seen within `window`, most recently started first.
  virtual StatusOr<std::vector<NodeInfo>> ListNodes(Millis window) = 0;
};

}  // namespace cueball::store
