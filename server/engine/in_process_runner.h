// InProcessRunner: runs a step's C++ handler (workflow.h) in the daemon, on
// the calling worker thread, with the step services (signals, child runs,
// blobs, runs to wait for) of its attempt, each fenced by the attempt's
// lease. A run that woke from a timer or a wait's timeout gets the engine's
// own result without its handler running.
#pragma once

#include <cstdint>

#include "server/engine/attempt_services.h"
#include "server/engine/step_runner.h"
#include "server/store/blob_store.h"
#include "server/store/dispatch_store.h"
#include "server/store/run_store.h"
#include "server/store/wait_store.h"

namespace cueball::engine {

class InProcessRunner final : public StepRunner {
 public:
  // What a step's services use of the store (AttemptServices).
  using Services = AttemptServices::Stores;
  InProcessRunner(const Registry* registry, Services services)
      : registry_(registry), services_(services) {}

  StepResult Run(const std::shared_ptr<Attempt>& attempt, const StepDef& step, const Json& input,
                 Json& state) override;

 private:
  const Registry* const registry_;
  const Services services_;
};

}  // namespace cueball::engine
