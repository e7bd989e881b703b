// Retention: removes finished runs (record, events; artifacts with them) once
// they are older than the age configured for their final status, leaving a
// compact summary if asked. Never touches unfinished runs, and never removes
// an event that a durable subscription has not acknowledged: such runs wait
// until the subscription moves on (a warning says which horizon holds them).
// Runs in every daemon; concurrent passes skip each other's rows.
#pragma once

#include "server/maintenance/periodic.h"
#include "server/store/event_store.h"

namespace cueball::maintenance {

class Retention {
 public:
  Retention(store::EventStore* store, store::RetentionPolicy policy, Millis interval);
  ~Retention();

  // True if any status has an age set (otherwise Start does nothing).
  bool enabled() const;
  void Start();
  void Stop();
  // One pass, batch after batch until nothing more is due (tests call this).
  StatusOr<store::PruneResult> RunOnce();

 private:
  void Pass();

  store::EventStore* const store_;
  const store::RetentionPolicy policy_;
  const Millis interval_;
  Periodic loop_;
};

}  // namespace cueball::maintenance
