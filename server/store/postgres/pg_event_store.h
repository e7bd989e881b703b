// PgEventStore: EventStore on PostgreSQL. The sequencer numbers committed
// events under a row lock on cueball_event_head and sends NOTIFY
// cueball_events (payload: the new head) in the same transaction.
#pragma once

#include <string>

#include "server/store/event_store.h"
#include "server/store/postgres/pg_pool.h"

namespace cueball::store::pg {

inline constexpr const char* kEventsChannel = "cueball_events";

class PgEventStore final : public EventStore {
 public:
  PgEventStore(const std::string& dsn, int pool_size, Millis statement_timeout = Millis(30000));

  StatusOr<SequenceResult> Sequence(int limit) override;
  StatusOr<int64_t> Head() override;
  StatusOr<EventPage> Read(int64_t after, const EventFilter& filter, int limit) override;
  StatusOr<Subscription> OpenSubscription(const std::string& name, int64_t start) override;
  StatusOr<Subscription> Ack(const std::string& name, int64_t position) override;
  StatusOr<std::vector<Subscription>> ListSubscriptions() override;
  Status DeleteSubscription(const std::string& name) override;
  StatusOr<PruneResult> Prune(const RetentionPolicy& policy) override;

 private:
  PgPool pool_;

 public:
  PgPool::Stats pool_stats() { return pool_.stats(); }
};

}  // namespace cueball::store::pg
