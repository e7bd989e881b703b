// PgNodeStore: NodeStore on PostgreSQL (table cueball_nodes, migration 0002).
#pragma once

#include <string>

#include "server/store/node_store.h"
#include "server/store/postgres/pg_pool.h"

namespace cueball::store::pg {

class PgNodeStore final : public NodeStore {
 public:
  explicit PgNodeStore(const std::string& dsn);

  Status RegisterNode(const NodeInfo& node) override;
  Status TouchNode(const std::string& id) override;
  Status StopNode(const std::string& id) override;
  StatusOr<std::vector<NodeInfo>> ListNodes(Millis window) override;

 private:
  PgPool pool_;
};

}  // namespace cueball::store::pg
