#include "server/engine/workflow.h"

#include <cctype>
#include <set>

namespace cueball::engine {

Status Registry::Register(WorkflowType type) {
  if (type.name.empty()) return InvalidArgument("workflow type: name is empty");
  if (types_.count(type.name)) {
    return AlreadyExists("workflow type '" + type.name + "' is registered twice");
  }
  if (type.steps.empty()) return InvalidArgument("workflow type '" + type.name + "' has no steps");
  std::set<std::string> names;
  for (const auto& s : type.steps) {
    if (s.name.empty() || !names.insert(s.name).second) {
      return InvalidArgument("workflow type '" + type.name +
                             "': step names must be unique and "
                             "non-empty ('" +
                             s.name + "')");
    }
    if (!s.handler) {
      return InvalidArgument("workflow type '" + type.name + "': step '" + s.name +
                             "' has no handler");
    }
    if (s.retry.max_attempts < 1) {
      return InvalidArgument("workflow type '" + type.name + "': step '" + s.name +
                             "' needs max_attempts >= 1");
    }
    if (s.timeout.count() <= 0) {
      return InvalidArgument("workflow type '" + type.name + "': step '" + s.name +
                             "' needs a positive timeout");
    }
  }
  std::string name = type.name;
  types_.emplace(name, std::make_unique<WorkflowType>(std::move(type)));
  return Status::Ok();
}

std::string BadBlobName(const std::string& name) {
  if (name.empty() || name.size() > 128) return "blob name must be 1..128 characters";
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return "blob name '" + name + "' may hold only letters, digits, '.', '_' and '-'";
    }
  }
  return "";
}

const WorkflowType* Registry::Find(const std::string& name) const {
  auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.get();
}

std::vector<const WorkflowType*> Registry::All() const {
  std::vector<const WorkflowType*> out;
  for (const auto& [name, t] : types_) out.push_back(t.get());
  return out;
}

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : types_) out.push_back(name);
  return out;
}

}  // namespace cueball::engine
