// DispatchStore: what dispatchers ask of the store (run_store.h lists the parts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/store/run_store.h"

namespace cueball::store {

class DispatchStore {
 public:
  virtual ~DispatchStore() = default;

  // Claims up to `limit` ready runs (status enqueued, run_at <= now) of the given
  // queues and types, in (priority, run_at, id) order, with FOR UPDATE SKIP
  // LOCKED so concurrent claimers never get the same run. Each claimed run
  // gets attempt+1, a new lease id, owner and expiry. Its step_started event
  // is written later: with the attempt's outcome (Outcome::start), while it
  // runs (RecordStarts), or by a cancel or rescue that ends it.
  // Fewer than `limit` runs means no ready run was left. While claims come
  // back full, a store may start each queue after the last run it claimed
  // there; a run sorting before that is found by a scan from the start, at
  // least every 100 ms while claims go on (PgRunStore::Claim).
  // When fewer than `limit` runs come back and `next_due` is given, it is set
  // to how long until the earliest enqueued run of these queues and types is
  // due, by the database clock: zero if one is due now (locked by another
  // claimer), nullopt if there is none. (A full claim leaves it nullopt.)
  virtual StatusOr<std::vector<ClaimedRun>> Claim(const std::string& owner,
                                                  const std::vector<std::string>& queues,
                                                  const std::vector<std::string>& types, int limit,
                                                  Millis lease,
                                                  std::optional<Millis>* next_due) = 0;
  StatusOr<std::vector<ClaimedRun>> Claim(const std::string& owner,
                                          const std::vector<std::string>& queues,
                                          const std::vector<std::string>& types, int limit,
                                          Millis lease) {
    return Claim(owner, queues, types, limit, lease, nullptr);
  }

  // Heartbeat: pushes the expiry of these attempts' leases to now + `lease`
  // (database clock), where the run is still RUNNING under that lease.
  // Returns the run ids of the attempts whose lease could not be extended
  // (lost: rescued or canceled meanwhile).
  virtual StatusOr<std::vector<std::string>> ExtendLeases(const std::vector<AttemptRef>& attempts,
                                                          Millis lease) = 0;

  // Applies many outcomes in one transaction. Returns, per outcome in order,
  // whether it was accepted (false: the lease was no longer this attempt's).
  // Wakes waiters of runs that reached a terminal state. With `recorded`,
  // an outcome's continue_lease and return_run are honoured (see Recorded);
  // without it, they are ignored (the run is enqueued, nothing is returned).
  virtual StatusOr<std::vector<bool>> RecordOutcomes(const std::vector<Outcome>& outcomes,
                                                     Recorded* recorded) = 0;
  StatusOr<std::vector<bool>> RecordOutcomes(const std::vector<Outcome>& outcomes) {
    return RecordOutcomes(outcomes, nullptr);
  }

  // Writes the step_started events of these attempts that still run and
  // whose start is not written yet (a start is written once, whoever ends
  // the attempt); the others are skipped.
  virtual Status RecordStarts(const std::vector<AttemptRef>& attempts) = 0;
};

}  // namespace cueball::store
