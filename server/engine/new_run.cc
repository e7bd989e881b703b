#include "server/engine/new_run.h"

namespace cueball::engine {

store::NewRun MakeNewRun(const WorkflowType& type, const std::string& queue, int priority,
                         const std::string& input) {
  store::NewRun r;
  r.id = RunId::NewV7().str();
  r.workflow_type = type.name;
  r.first_step = type.steps.front().name;
  r.queue = queue.empty() ? "default" : queue;
  r.priority = priority;
  r.input = input.empty() ? "{}" : input;
  return r;
}

std::string ChildIdempotencyKey(const Run& parent, const std::string& key) {
  return "child:" + parent.id + ":" + parent.step_name + ":" + key;
}

}  // namespace cueball::engine
