#include "server/engine/new_run.h"

#include <cctype>

namespace cueball::engine {

bool ValidName(const std::string& name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

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
