// AttemptServices: the step services (workflow.h, StepServices) of one
// attempt, every call fenced by the attempt's lease: taking a signal, child
// runs by key, reading runs, blobs. The in-process runner gives one to each
// handler it calls; the remote workers' API (issue 30) is meant to serve a
// worker's calls through this same class, so that a step's effects are the
// same wherever the step runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/engine/workflow.h"
#include "server/store/blob_store.h"
#include "server/store/dispatch_store.h"
#include "server/store/run_store.h"
#include "server/store/wait_store.h"

namespace cueball::engine {

class AttemptServices final : public StepServices {
 public:
  // What the services use of the store: runs (children, the runs a step
  // waits for), signals it takes, its start (written before its own
  // events), and blobs (null: unavailable).
  struct Stores {
    store::RunStore* runs = nullptr;
    store::WaitStore* waits = nullptr;
    store::DispatchStore* dispatch = nullptr;
    store::BlobStore* blobs = nullptr;
    int64_t max_blob_bytes = 16 << 20;  // largest blob a step may save
  };
  // `claimed` is the attempt; `start_written` says whether its step_started
  // is written (set here when a service writes it first).
  AttemptServices(const Stores& stores, const Registry* registry, const store::ClaimedRun& claimed,
                  std::atomic<bool>& start_written)
      : stores_(stores), registry_(registry), claimed_(claimed), start_written_(start_written) {}

  std::optional<Signal> TakeSignal(const std::string& name) override;
  std::string EnqueueChild(const ChildSpec& child) override;
  std::vector<Run> GetRuns(const std::vector<std::string>& ids) override;
  void SaveBlob(const std::string& name, const std::string& data,
                const std::string& content_type) override;
  std::optional<Blob> LoadBlob(const std::string& name) override;

 private:
  // A step's own events (child_enqueued, blob_saved) come after its
  // step_started in the run's history, so a start not written yet is
  // written first (migration 0010).
  void WriteStart();

  const Stores& stores_;
  const Registry* registry_;
  const store::ClaimedRun& claimed_;
  std::atomic<bool>& start_written_;
};

}  // namespace cueball::engine
