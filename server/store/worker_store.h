// WorkerStore: remote workers and the stored definitions of workflow types
// (migration 0012). The attempts workers run are leased on the runs
// themselves (DispatchStore, with the worker's id as the lease owner); this
// store keeps who the workers are, what they serve and whether they are
// alive. Thread-safe; UNAVAILABLE when the database is unreachable.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/domain/run.h"
#include "server/domain/status.h"

namespace cueball::store {

// A workflow type's definition as stored: JSON text (see migration 0012).
struct TypeDefinition {
  std::string name;
  std::string source;      // "worker", "builtin", or the workflow file a daemon loaded it from
  std::string definition;  // JSON text
};

// Writing a definition at a registration: it is written only if what is
// stored is still `expected` (nullopt: nothing stored); else the
// registration is refused with ABORTED and nothing is written.
struct DefinitionWrite {
  TypeDefinition type;
  std::optional<std::string> expected;  // JSON text as read before
  bool write = true;                    // false: only checked
};

struct WorkerInfo {
  std::string id;
  std::string identity;
  std::string node;  // the daemon it registered through
  std::vector<std::string> queues;
  std::vector<std::string> types;  // "type", or "type/step" for one step of a mixed type
  int slots = 1;
  Millis lease{30000};
  int in_flight = 0;
  TimePoint registered_at;
  TimePoint last_heartbeat_at;
  std::optional<TimePoint> stopped_at;
  bool alive = false;  // not stopped, heartbeating within its lease (database clock)
};

class WorkerStore {
 public:
  virtual ~WorkerStore() = default;
  // The stored definitions of these types (empty: all), by name.
  virtual StatusOr<std::vector<TypeDefinition>> GetDefinitions(
      const std::vector<std::string>& names) = 0;
  // A daemon's own types: stored, or replaced where they differ.
  virtual Status PutDefinitions(const std::vector<TypeDefinition>& types) = 0;
  // How many live workers other than `except` serve `type` (whole or a step).
  virtual StatusOr<int64_t> LiveWorkersServing(const std::string& type,
                                               const std::string& except) = 0;
  // In one transaction: checks (and writes) the definitions, then inserts
  // or replaces the worker's row. ABORTED when a definition changed since it
  // was read.
  virtual Status RegisterWorker(const WorkerInfo& worker,
                                const std::vector<DefinitionWrite>& definitions) = 0;
  virtual StatusOr<std::optional<WorkerInfo>> GetWorker(const std::string& id) = 0;
  // A heartbeat: NOT_FOUND when the worker is not registered, or stopped.
  virtual Status TouchWorker(const std::string& id, int in_flight) = 0;
  virtual Status StopWorker(const std::string& id) = 0;
  // Workers heard from within `window`, newest first.
  virtual StatusOr<std::vector<WorkerInfo>> ListWorkers(Millis window) = 0;
};

}  // namespace cueball::store
