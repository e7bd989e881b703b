// NodeRegistry: registers this daemon in the node table at start, heartbeats
// every interval (re-registering if its row vanished), marks it stopped on a
// clean exit, and lists the daemons sharing the database. A node is alive if
// it has not stopped and was seen within three heartbeat intervals.
#pragma once

#include "server/maintenance/periodic.h"
#include "server/store/node_store.h"

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

 private:
  store::NodeStore* const store_;
  store::NodeInfo self_;  // listen is set by Start
  const Millis interval_;
  Periodic heartbeat_;
};

}  // namespace cueball::maintenance
