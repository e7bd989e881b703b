// PgWorkerStore: WorkerStore on PostgreSQL (tables cueball_workers and
// cueball_workflow_types, migration 0012).
#pragma once

#include <string>

#include "server/store/postgres/pg_pool.h"
#include "server/store/worker_store.h"

namespace cueball::store::pg {

class PgWorkerStore final : public WorkerStore {
 public:
  explicit PgWorkerStore(const std::string& dsn);

  StatusOr<std::vector<TypeDefinition>> GetDefinitions(
      const std::vector<std::string>& names) override;
  Status PutDefinitions(const std::vector<TypeDefinition>& types) override;
  StatusOr<int64_t> LiveWorkersServing(const std::string& type, const std::string& except) override;
  Status RegisterWorker(const WorkerInfo& worker,
                        const std::vector<DefinitionWrite>& definitions) override;
  StatusOr<std::optional<WorkerInfo>> GetWorker(const std::string& id) override;
  Status TouchWorker(const std::string& id, int in_flight) override;
  Status StopWorker(const std::string& id) override;
  StatusOr<std::vector<WorkerInfo>> ListWorkers(Millis window) override;

 private:
  PgPool pool_;
};

}  // namespace cueball::store::pg
