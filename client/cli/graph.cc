#include "client/cli/graph.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace cueball::cli {
namespace {

// A DOT string literal.
std::string Q(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string Dur(const google::protobuf::Duration& d) {
  int64_t ms = google::protobuf::util::TimeUtil::DurationToMilliseconds(d);
  if (ms % 3600000 == 0 && ms >= 3600000) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0 && ms >= 60000) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0 && ms >= 1000) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// What the run's history says about each step.
struct StepSeen {
  int attempts = 0;
  bool succeeded = false;
  bool failed = false;   // its last attempt failed for good (run_failed here)
  bool waiting = false;  // a step_waiting not yet followed by a finish
};

}  // namespace

void WriteGraph(const v1::WorkflowType& type, const v1::Run* run, std::ostream& out) {
  std::map<std::string, StepSeen> seen;
  std::set<std::string> signals_received;
  bool run_succeeded = false, run_failed = false, run_canceled = false;
  if (run) {
    for (const auto& e : run->history()) {
      auto& s = seen[e.step()];
      if (e.kind() == "step_started") s.attempts = std::max(s.attempts, e.attempt());
      if (e.kind() == "step_succeeded") s.succeeded = true, s.waiting = false;
      if (e.kind() == "step_waiting") s.waiting = true;
      if (e.kind() == "run_woken") s.waiting = false;
      if (e.kind() == "run_failed") s.failed = true, run_failed = true;
      if (e.kind() == "run_succeeded") run_succeeded = true;
      if (e.kind() == "run_canceled") run_canceled = true;
      if (e.kind() == "signal_received") {
        auto data = nlohmann::json::parse(e.data(), nullptr, false);
        if (data.is_object() && data.contains("signal") && data["signal"].is_string()) {
          signals_received.insert(data["signal"].get<std::string>());
        }
      }
    }
  }
  const bool finished = run_succeeded || run_failed || run_canceled;
  out << "digraph " << Q(type.name()) << " {\n";
  out << "  rankdir=LR;\n  labelloc=t;\n";
  std::string title = type.name();
  if (!type.description().empty()) title += "\n" + type.description();
  if (run) title += "\nrun " + run->id();
  out << "  label=" << Q(title) << ";\n";
  out << "  node [shape=box, style=\"rounded,filled\", fillcolor=white, fontname=Helvetica];\n";
  out << "  edge [fontname=Helvetica, fontsize=10];\n";
  out << "  start [shape=circle, label=\"\", width=0.25, fillcolor=black];\n";
  out << "  succeeded [shape=doublecircle, label=\"succeeded\""
      << (run_succeeded ? ", fillcolor=palegreen" : "") << "];\n";
  out << "  failed [shape=doublecircle, label=\"failed\""
      << (run_failed ? ", fillcolor=salmon" : "") << "];\n";
  if (run_canceled)
    out << "  canceled [shape=doublecircle, label=\"canceled\", fillcolor=grey80];\n";

  const int n = type.steps_size();
  for (int i = 0; i < n; ++i) {
    const auto& st = type.steps(i);
    const std::string id = "step" + std::to_string(i);
    std::string label = st.name() + "\n" + (st.kind().empty() ? "code" : st.kind());
    if (!st.summary().empty()) label += ": " + st.summary().substr(0, 60);
    const auto& rp = st.retry();
    label +=
        "\nretry " + std::to_string(rp.max_attempts()) + "x " + rp.backoff() +
        (rp.max_attempts() > 1 ? " " + Dur(rp.initial_delay()) + ".." + Dur(rp.max_delay()) : "") +
        ", timeout " + Dur(st.timeout());
    std::string fill;
    if (run) {
      auto it = seen.find(st.name());
      if (it != seen.end()) {
        const StepSeen& s = it->second;
        if (s.attempts > 0) label += "\nattempts: " + std::to_string(s.attempts);
        if (s.failed) {
          fill = "salmon";
        } else if (s.succeeded) {
          fill = "palegreen";
        } else if (!finished && (s.waiting || run->step() == st.name())) {
          fill = s.waiting ? "orange" : "gold";
          if (s.waiting) label += "\nwaiting";
        }
      } else if (!finished && run->step() == st.name()) {
        fill = "gold";
      }
      if (run_canceled && run->step() == st.name() && fill.empty()) fill = "grey80";
    }
    out << "  " << id << " [label=" << Q(label);
    if (!fill.empty()) out << ", fillcolor=" << fill;
    if (st.sleeps()) out << ", peripheries=2";
    out << "];\n";
    // Retries loop back on the step; giving up fails the run.
    if (rp.max_attempts() > 1) {
      out << "  " << id << " -> " << id << " [label=" << Q("retry")
          << ", style=dashed, color=grey50];\n";
    }
    const bool failed_here = seen.count(st.name()) && seen[st.name()].failed;
    out << "  " << id << " -> failed ["
        << (failed_here ? "color=red, penwidth=2.5" : "style=dotted, color=grey50") << "];\n";
    for (const auto& sig : st.signals()) {
      const std::string sid = "signal_" + std::to_string(i) + "_" + sig;
      const bool got = signals_received.count(sig) > 0;
      out << "  " << Q(sid) << " [shape=cds, label=" << Q("signal " + sig)
          << (got ? ", fillcolor=palegreen" : "") << "];\n";
      out << "  " << Q(sid) << " -> " << id << " [style=dashed, label=\"resumes\"];\n";
    }
    if (st.sleeps()) {
      const std::string tid = "timer_" + std::to_string(i);
      out << "  " << tid << " [shape=ellipse, label=\"durable timer\"];\n";
      out << "  " << id << " -> " << tid << " [style=dashed, label=\"sleeps\"];\n";
    }
    if (st.children()) {
      const std::string cid = "children_" + std::to_string(i);
      std::string clabel = "child runs";
      for (const auto& ct : st.child_types()) clabel += "\n" + ct;
      out << "  " << cid << " [shape=component, label=" << Q(clabel) << "];\n";
      out << "  " << id << " -> " << cid << " [style=dashed, label=\"enqueues\"];\n";
      if (st.waits_for_runs()) {
        out << "  " << cid << " -> " << id << " [style=dotted, label=\"waits for\"];\n";
      }
    }
  }
  auto edge = [&](const std::string& from, const std::string& to, bool taken) {
    out << "  " << from << " -> " << to;
    if (taken) out << " [color=forestgreen, penwidth=2.5]";
    out << ";\n";
  };
  auto done = [&](int i) {
    auto it = seen.find(type.steps(i).name());
    return it != seen.end() && it->second.succeeded;
  };
  auto started = [&](int i) {
    auto it = seen.find(type.steps(i).name());
    return it != seen.end() && it->second.attempts > 0;
  };
  if (n > 0) edge("start", "step0", run && started(0));
  for (int i = 0; i + 1 < n; ++i)
    edge("step" + std::to_string(i), "step" + std::to_string(i + 1),
         run && done(i) && started(i + 1));
  if (n > 0) edge("step" + std::to_string(n - 1), "succeeded", run_succeeded);
  if (run_canceled)
    out << "  step" << std::max(0, run->step_index())
        << " -> canceled [color=grey40, penwidth=2];\n";
  out << "}\n";
}

}  // namespace cueball::cli
