// NodeRegistry: registers this daemon in the node table at start, heartbeats
// every interval (re-registering if its row vanished), marks it stopped on a
// clean exit, and lists the daemons sharing the database. A node is alive if
// it has not stopped and was seen within three heartbeat intervals.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>

#include "server/maintenance/periodic.h"
#include "server/store/node_store.h"
#include "server/store/worker_store.h"

namespace cueball::maintenance {

struct NodeView {
  store::NodeInfo info;
  bool alive = false;
};

class NodeRegistry {
 public:
  NodeRegistry(store::NodeStore* store, store::NodeInfo self, Millis interval);
  ~NodeRegistry();

  // Registers with the address the daemon actually listens on (retried by the
  // heartbeat if the database is down), then heartbeats.
  void Start(const std::string& listen);
  void Stop();  // marks this node stopped
  // Nodes seen in the last hour, newest first, with their liveness.
  StatusOr<std::vector<NodeView>> List();
  // One heartbeat (tests call this directly).
  Status Beat();
  // Whether a live daemon runs workflow type `type` on `queue` (a daemon of
  // an older build, which did not record its types, counts as running all),
  // or a live remote worker serves it there, from the node and worker lists
  // read at most every 2 s; nullopt while they cannot be read. A run nobody
  // serves is never claimed, nor rescued.
  std::optional<bool> Serves(const std::string& type, const std::string& queue);
  // Remote workers count as serving their types (null: none are read).
  void set_workers(store::WorkerStore* workers) { workers_ = workers; }

 private:
  store::NodeStore* const store_;
  store::NodeInfo self_;  // listen is set by Start
  const Millis interval_;
  Periodic heartbeat_;
  std::mutex served_mu_;
  std::chrono::steady_clock::time_point served_read_{};
  std::optional<std::vector<store::NodeInfo>> live_;  // for Serves
  store::WorkerStore* workers_ = nullptr;
  std::vector<store::WorkerInfo> live_workers_;  // for Serves
};

}  // namespace cueball::maintenance
