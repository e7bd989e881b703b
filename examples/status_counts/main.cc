// status_counts: a small read model built from cueball's event stream — how
// many runs are in each status — back-filled from history and then kept up
// to date live, with no gap or double count at the seam.
//
// The pattern every durable consumer follows:
//  1. Load the saved model; it records the last position applied.
//  2. Stream events after that position: history first, then live, in one
//     stream with no seam (the daemon resumes after the last position it
//     examined, and the client library reconnects after a daemon restart).
//  3. Apply each event once: skip any event at or below the saved position
//     (delivery is at-least-once, so a replayed event must change nothing).
//  4. Save the model and its position together (write to a temporary file,
//     then rename), so a crash leaves the old or the new state, never half.
// A consumer that keeps no state of its own uses a durable subscription
// instead (`cueball watch --subscription NAME`), acknowledging positions.
//
//   status_counts --server localhost:7420 --state counts.json
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "client/cli/connect_flags.h"
#include "client/client.h"

namespace {

using nlohmann::json;

// The status a run is in after an event of this kind; empty: no change
// (the event is always followed by one that says where the run went). A run
// counts as running from its step_started, which the daemon writes once the
// step has run 100 ms, or with the step's end for a quicker one
// (docs/design.md, "The event stream"): quick steps are seldom seen running.
std::string StatusAfter(const std::string& kind) {
  static const std::map<std::string, std::string> kStatus = {
      {"enqueued", "enqueued"},      {"retry_scheduled", "enqueued"},
      {"step_deferred", "enqueued"}, {"step_released", "enqueued"},
      {"run_retried", "enqueued"},   {"step_succeeded", "enqueued"},
      {"step_started", "running"},   {"run_succeeded", "succeeded"},
      {"run_failed", "failed"},      {"run_canceled", "canceled"},
  };
  auto it = kStatus.find(kind);
  return it == kStatus.end() ? "" : it->second;
}

struct Model {
  int64_t position = 0;                       // last event applied
  std::map<std::string, std::string> status;  // run id -> status
  std::map<std::string, int64_t> counts;      // status -> runs

  void Apply(const cueball::v1::Event& e) {
    if (e.position() <= position) return;  // replayed: already applied
    position = e.position();
    std::string next = StatusAfter(e.kind());
    if (next.empty()) return;
    auto& current = status[e.run_id()];
    if (!current.empty() && --counts[current] == 0) counts.erase(current);
    current = next;
    ++counts[next];
  }

  json ToJson() const { return {{"position", position}, {"status", status}, {"counts", counts}}; }

  void Load(const std::string& path) {
    std::ifstream in(path);
    if (!in) return;  // first start: empty model
    json j = json::parse(in);
    position = j.at("position").get<int64_t>();
    status = j.at("status").get<std::map<std::string, std::string>>();
    counts = j.at("counts").get<std::map<std::string, int64_t>>();
  }

  void Save(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << ToJson().dump();
    }
    std::rename(tmp.c_str(), path.c_str());  // atomic: old or new, never half
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"status_counts: runs per status, from cueball's event stream"};
  cueball::client::ConnectFlags connect;
  std::string state_path = "status_counts.json";
  bool no_follow = false;
  connect.Add(app);
  app.add_option("--state", state_path, "where the model and its position are saved");
  app.add_flag("--no-follow", no_follow, "exit once caught up instead of following live");
  CLI11_PARSE(app, argc, argv);

  Model model;
  model.Load(state_path);
  std::unique_ptr<cueball::client::Client> connected;
  try {
    connected = std::make_unique<cueball::client::Client>(connect.Resolve());
  } catch (const std::invalid_argument& e) {
    std::cerr << "status_counts: " << e.what() << "\n";
    return 2;
  }
  cueball::client::Client& client = *connected;
  cueball::v1::WatchEventsRequest req;
  req.set_after_position(model.position);
  cueball::client::EventWatcher watcher(&client, req);
  auto st = watcher.Run([&](const cueball::v1::WatchEventsResponse& msg) {
    for (const auto& e : msg.events()) model.Apply(e);
    if (msg.events_size() > 0) {
      model.Save(state_path);
      std::cout << json({{"position", model.position}, {"counts", model.counts}}).dump() << "\n"
                << std::flush;
    }
    return !(no_follow && msg.through() >= msg.head());
  });
  if (!st.ok()) {
    std::cerr << "status_counts: " << st.error_message() << "\n";
    return 1;
  }
  std::cout << json({{"position", model.position}, {"counts", model.counts}}).dump() << "\n";
  return 0;
}
