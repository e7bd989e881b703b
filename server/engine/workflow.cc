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

bool HasRemoteSteps(const WorkflowType& type) {
  for (const auto& s : type.steps) {
    if (IsRemote(s)) return true;
  }
  return false;
}

StepHandler RemoteStepHandler() {
  return [](StepContext&) {
    return StepResult::Release("a remote step: remote workers run it, not daemons");
  };
}

Status Registry::PutRemote(WorkflowType type) {
  if (types_.count(type.name)) {
    return FailedPrecondition("workflow type '" + type.name + "' is this daemon's own");
  }
  // The same definition again (the reload every few seconds): kept as it
  // is, so that replaced definitions pile up only when one really changes.
  auto same = [](const WorkflowType& a, const WorkflowType& b) {
    if (a.description != b.description || a.steps.size() != b.steps.size()) return false;
    for (size_t i = 0; i < a.steps.size(); ++i) {
      const StepDef &x = a.steps[i], &y = b.steps[i];
      if (x.name != y.name || x.traits.kind != y.traits.kind || x.timeout != y.timeout ||
          x.retry.max_attempts != y.retry.max_attempts || x.retry.backoff != y.retry.backoff ||
          x.retry.initial_delay != y.retry.initial_delay ||
          x.retry.max_delay != y.retry.max_delay) {
        return false;
      }
    }
    return true;
  };
  std::unique_lock<std::shared_mutex> lock(remote_mu_);
  auto& slot = remote_[type.name];
  if (slot && same(*slot, type)) return Status::Ok();
  if (slot) replaced_.push_back(std::move(slot));
  slot = std::make_shared<const WorkflowType>(std::move(type));
  return Status::Ok();
}

const WorkflowType* Registry::FindRemote(const std::string& name) const {
  std::shared_lock<std::shared_mutex> lock(remote_mu_);
  auto it = remote_.find(name);
  return it == remote_.end() ? nullptr : it->second.get();
}

const WorkflowType* Registry::Find(const std::string& name) const {
  // Its own types without a lock: they never change after start-up.
  auto it = types_.find(name);
  if (it != types_.end()) return it->second.get();
  if (const WorkflowType* t = FindRemote(name)) return t;
  if (!loader_) return nullptr;
  loader_(name);
  return FindRemote(name);
}

std::vector<const WorkflowType*> Registry::All() const {
  std::map<std::string, const WorkflowType*> all;
  for (const auto& [name, t] : types_) all[name] = t.get();
  {
    std::shared_lock<std::shared_mutex> lock(remote_mu_);
    for (const auto& [name, t] : remote_) all.emplace(name, t.get());
  }
  std::vector<const WorkflowType*> out;
  for (const auto& [name, t] : all) out.push_back(t);
  return out;
}

std::vector<std::string> Registry::Names() const {
  std::vector<std::string> out;
  for (const auto* t : All()) out.push_back(t->name);
  return out;
}

std::vector<std::string> Registry::OwnNames() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : types_) out.push_back(name);
  return out;
}

std::vector<std::string> Registry::InProcessClaims() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : types_) {
    if (!HasRemoteSteps(*t)) {
      out.push_back(name);
      continue;
    }
    for (const auto& s : t->steps) {
      if (!IsRemote(s)) out.push_back(name + "/" + s.name);
    }
  }
  return out;
}

}  // namespace cueball::engine
