// EventStore: the event log as one ordered stream. Every event gets a global
// position once it has committed: positions are dense (1, 2, 3, ...), given in
// the order events become visible, and never reused, so a reader that has seen
// position P never later finds a new event at or below P. Also durable
// subscriptions (named cursors kept in the database) and retention of
// finished runs. Thread-safe; errors are Status values, never exceptions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"

namespace cueball::store {

struct EventFilter {
  std::optional<std::string> run_id;
  std::optional<std::string> workflow_type;
  std::vector<std::string> kinds;  // empty: any kind
};

struct EventPage {
  std::vector<Event> events;  // positions ascending, all > the cursor given
  // Every event up to here has been examined: resume after `through` (not
  // after the last event returned, which may be lower when a filter skipped
  // events). Never beyond `head`.
  int64_t through = 0;
  int64_t head = 0;            // highest position given out when read
  int64_t pruned_through = 0;  // highest position retention has removed
};

struct SequenceResult {
  int64_t sequenced = 0;  // events given a position by this call
  int64_t head = 0;       // the head afterwards
};

struct Subscription {
  std::string name;
  int64_t position = 0;  // last acknowledged position
  TimePoint created_at;
  std::optional<TimePoint> acked_at;
};

// How long finished runs are kept, per final status; nullopt keeps them.
struct RetentionPolicy {
  std::optional<Millis> succeeded;
  std::optional<Millis> failed;
  std::optional<Millis> canceled;
  bool keep_summary = true;  // leave a compact summary of each pruned run
  int batch = 500;           // runs removed per transaction
};

struct PruneResult {
  int64_t runs = 0;     // runs removed
  bool held = false;    // some runs were due but kept for a subscription
  int64_t horizon = 0;  // lowest acknowledged subscription position (or head)
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Gives positions to up to `limit` committed events that have none, in
  // insertion order, and advances the head in the same transaction. Callers on
  // every daemon may run it concurrently; they take turns.
  virtual StatusOr<SequenceResult> Sequence(int limit) = 0;

  virtual StatusOr<int64_t> Head() = 0;

  // Up to `limit` events with position > after that match the filter.
  virtual StatusOr<EventPage> Read(int64_t after, const EventFilter& filter, int limit) = 0;

  // Returns the named subscription, creating it at `start` if it is new.
  virtual StatusOr<Subscription> OpenSubscription(const std::string& name, int64_t start) = 0;
  // Moves the subscription's position up to `position` (never down).
  // NOT_FOUND for an unknown name; INVALID_ARGUMENT beyond the head.
  virtual StatusOr<Subscription> Ack(const std::string& name, int64_t position) = 0;
  virtual StatusOr<std::vector<Subscription>> ListSubscriptions() = 0;
  virtual Status DeleteSubscription(const std::string& name) = 0;

  // Removes finished runs older than the policy allows, with their events,
  // except runs with events above the lowest subscription position.
  virtual StatusOr<PruneResult> Prune(const RetentionPolicy& policy) = 0;
};

}  // namespace cueball::store
