// PgQueueStore: QueueStore on PostgreSQL (table cueball_queues, migration
// 0013; the claim statement reads the same table).
#pragma once

#include <string>

#include "server/store/postgres/pg_pool.h"
#include "server/store/queue_store.h"

namespace cueball::store::pg {

class PgQueueStore final : public QueueStore {
 public:
  explicit PgQueueStore(const std::string& dsn);

  StatusOr<std::vector<QueueInfo>> ListQueues(Millis node_window) override;
  StatusOr<QueueInfo> SetPaused(const std::string& name, bool paused, const std::string& reason,
                                Millis node_window) override;

 private:
  PgPool pool_;
};

}  // namespace cueball::store::pg
