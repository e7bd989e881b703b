#include "server/maintenance/node_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "server/logging/logging.h"

namespace cueball::maintenance {

NodeRegistry::NodeRegistry(store::NodeStore* store, store::NodeInfo self, Millis interval)
    : store_(store), self_(std::move(self)), interval_(interval) {}

NodeRegistry::~NodeRegistry() { Stop(); }

void NodeRegistry::Start(const std::string& listen) {
  self_.listen = listen;
  Status st = store_->RegisterNode(self_);
  auto log = spdlog::get("maint");
  if (!st.ok() && log) logging::Warn(log, "node registration failed", {{"error", st.message()}});
  heartbeat_.Start(interval_, [this, log] {
    Status beat = Beat();
    if (!beat.ok() && log) logging::Warn(log, "node heartbeat failed", {{"error", beat.message()}});
  });
}

void NodeRegistry::Stop() {
  if (heartbeat_.Stop()) (void)store_->StopNode(self_.id);
}

Status NodeRegistry::Beat() {
  Status st = store_->TouchNode(self_.id);
  if (st.code() == StatusCode::kNotFound) st = store_->RegisterNode(self_);
  return st;
}

StatusOr<std::vector<NodeView>> NodeRegistry::List() {
  auto nodes = store_->ListNodes(Millis(3600 * 1000));
  if (!nodes.ok()) return nodes.status();
  std::vector<NodeView> out;
  for (auto& n : *nodes) {
    NodeView v;
    v.alive = !n.stopped_at && n.since_seen <= interval_ * 3;
    v.info = std::move(n);
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<bool> NodeRegistry::Serves(const std::string& type, const std::string& queue) {
  std::lock_guard<std::mutex> lock(served_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!live_ || now - served_read_ >= std::chrono::seconds(2)) {
    auto nodes = List();
    served_read_ = now;
    if (nodes.ok()) {
      live_.emplace();
      for (auto& v : *nodes) {
        if (v.alive) live_->push_back(std::move(v.info));
      }
    } else if (!live_) {
      return std::nullopt;
    }
    if (workers_) {
      auto workers = workers_->ListWorkers(Millis(3600 * 1000));
      if (workers.ok()) {
        live_workers_.clear();
        for (auto& w : *workers) {
          if (w.alive) live_workers_.push_back(std::move(w));
        }
      }
    }
  }
  auto has = [](const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  for (const auto& n : *live_) {
    if (has(n.queues, queue) && (n.types.empty() || has(n.types, type))) return true;
  }
  for (const auto& w : live_workers_) {
    if (has(w.queues, queue) && has(w.types, type)) return true;
  }
  return false;
}

}  // namespace cueball::maintenance
