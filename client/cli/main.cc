// cueball: the command-line client of cueballd.
// Exit codes: 0 success; 1 the call failed (the server's message is printed);
// 2 usage error; for `wait`: 3 every run finished but not all succeeded,
// 4 the timeout passed first.
// `watch` reconnects by itself while the daemon is unavailable and resumes
// after the last position it received.
#include <google/protobuf/util/time_util.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>

#include "client/cli/bench.h"
#include "client/cli/connect_flags.h"
#include "client/cli/graph.h"
#include "client/cli/output.h"
#include "client/client.h"
#include "server/domain/duration.h"

namespace {

using namespace cueball;  // NOLINT: a small program
using google::protobuf::util::TimeUtil;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotSucceeded = 3;
constexpr int kExitTimeout = 4;

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    default:
      return "ERROR";
  }
}

int Fail(const grpc::Status& s) {
  std::cerr << "cueball: " << CodeName(s.error_code()) << ": " << s.error_message() << "\n";
  return kExitError;
}

int Usage(const std::string& msg) {
  std::cerr << "cueball: " << msg << "\n";
  return kExitUsage;
}

// "@path" reads the file, "@-" reads stdin; anything else is the text itself.
bool ReadInputArg(const std::string& arg, std::string* out) {
  if (arg.empty() || arg[0] != '@') {
    *out = arg;
    return true;
  }
  if (arg == "@-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(arg.substr(1), std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

struct Globals {
  client::ConnectFlags connect;
  bool json = false;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cueball: enqueue, inspect, wait for and cancel workflow runs on a cueballd"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags may follow the command: `cueball get ID --json`
  Globals g;
  g.connect.Add(app);
  app.add_flag("--json", g.json, "machine-readable JSON output");

  // enqueue
  auto* enq = app.add_subcommand("enqueue", "enqueue a run; prints its id");
  std::string e_type, e_input, e_queue, e_key, e_delay, e_run_at;
  int e_priority = 0;
  enq->add_option("type", e_type, "workflow type")->required();
  enq->add_option("--input", e_input, "input as JSON text, @FILE or @- for stdin (default {})");
  enq->add_option("--queue", e_queue, "queue (default \"default\")");
  enq->add_option("--priority", e_priority, "-1000..1000, lower runs first");
  enq->add_option("--delay", e_delay, "start no sooner than this from now (e.g. 30s)");
  enq->add_option("--run-at", e_run_at, "start no sooner than this RFC 3339 time");
  enq->add_option("--key", e_key, "idempotency key: the same key always returns the same run");

  // get
  auto* get = app.add_subcommand("get", "show a run and its history");
  std::string g_id;
  bool g_no_history = false;
  get->add_option("id", g_id, "run id")->required();
  get->add_flag("--no-history", g_no_history, "omit the history");

  // wait
  auto* wait = app.add_subcommand("wait", "wait until runs finish");
  std::vector<std::string> w_ids;
  std::string w_timeout = "60s";
  bool w_any = false;
  wait->add_option("ids", w_ids, "run ids")->required();
  wait->add_option("--timeout", w_timeout, "give up after this long (e.g. 30s)")
      ->capture_default_str();
  wait->add_flag("--any", w_any, "return when any one run finishes");

  // list
  auto* list = app.add_subcommand("list", "list runs, newest first");
  std::vector<std::string> l_status;
  std::string l_type, l_queue, l_token;
  int l_limit = 50;
  bool l_all = false;
  list->add_option("--status", l_status, "enqueued|running|waiting|succeeded|failed|canceled")
      ->delimiter(',');
  list->add_option("--type", l_type, "workflow type");
  list->add_option("--queue", l_queue, "queue");
  list->add_option("--limit", l_limit, "runs per page (1..1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  list->add_option("--page-token", l_token, "continue from a previous page");
  list->add_flag("--all", l_all, "follow every page");

  // cancel
  auto* cancel = app.add_subcommand("cancel", "cancel a run that has not finished");
  std::string c_id, c_reason;
  cancel->add_option("id", c_id, "run id")->required();
  cancel->add_option("--reason", c_reason, "why (recorded in the history)");

  // retry
  auto* retry = app.add_subcommand("retry", "re-enqueue a failed run from its failed step");
  std::string r_id, r_reason;
  retry->add_option("id", r_id, "run id")->required();
  retry->add_option("--reason", r_reason, "why (recorded in the history)");

  // signal
  auto* signal =
      app.add_subcommand("signal", "send a signal to a run (buffered until a step asks for it)");
  std::string s_id, s_name, s_payload, s_key;
  signal->add_option("id", s_id, "run id")->required();
  signal->add_option("name", s_name, "signal name")->required();
  signal->add_option("--payload", s_payload,
                     "payload as JSON text, @FILE or @- for stdin (default null)");
  signal->add_option("--key", s_key, "idempotency key: a repeated signal with it changes nothing");

  // blob
  auto* blob = app.add_subcommand("blob", "list and read the artifacts (blobs) of a run");
  blob->require_subcommand(1);
  auto* blob_ls = blob->add_subcommand("ls", "list a run's blobs");
  std::string b_id, b_name;
  blob_ls->add_option("id", b_id, "run id")->required();
  auto* blob_get = blob->add_subcommand("get", "write a blob's bytes to stdout");
  blob_get->add_option("id", b_id, "run id")->required();
  blob_get->add_option("name", b_name, "blob name")->required();

  // graph
  auto* graph = app.add_subcommand(
      "graph", "print a workflow type as Graphviz DOT (--run ID colours the path a run took)");
  std::string gr_type, gr_run;
  graph->add_option("type", gr_type, "workflow type")->required();
  graph->add_option("--run", gr_run, "colour the path this run took");

  // types
  auto* types = app.add_subcommand("types", "list the workflow types the daemon runs");

  // nodes
  auto* nodes = app.add_subcommand("nodes", "list the daemons sharing the database");
  bool n_all = false;
  nodes->add_flag("--all", n_all, "include stopped and silent daemons (seen in the last hour)");

  // watch
  auto* watch = app.add_subcommand(
      "watch", "follow the event stream: history from a position, then live (Ctrl-C stops)");
  int64_t wa_from = -1;
  bool wa_now = false, wa_new_now = false, wa_no_follow = false;
  std::string wa_sub, wa_type, wa_run;
  std::vector<std::string> wa_kinds;
  int64_t wa_count = 0;
  auto* wa_from_opt = watch->add_option(
      "--from", wa_from, "start after this position (0: the beginning, the default)");
  auto* wa_now_opt = watch->add_flag("--from-now", wa_now, "only events from now on");
  auto* wa_sub_opt = watch->add_option(
      "--subscription", wa_sub,
      "durable subscription: resume after its acknowledged position and acknowledge what is "
      "printed");
  wa_from_opt->excludes(wa_now_opt)->excludes(wa_sub_opt);
  // -1 (the default) means "not given"; a negative position given was read
  // as 0 without a word.
  wa_from_opt->check([](const std::string& v) {
    return !v.empty() && v[0] == '-'
               ? std::string("must be 0 or more (a position in the event log)")
               : std::string();
  });
  wa_now_opt->excludes(wa_sub_opt);
  watch
      ->add_flag("--new-from-now", wa_new_now,
                 "a subscription that does not exist yet starts at the head, not the beginning")
      ->needs(wa_sub_opt);
  watch->add_option("--type", wa_type, "only runs of this workflow type");
  watch->add_option("--run", wa_run, "only this run");
  watch->add_option("--kind", wa_kinds, "only these event kinds (repeat or comma-separate)")
      ->delimiter(',');
  watch->add_option("--count", wa_count, "exit after this many events")
      ->check(CLI::Range(1, 1 << 30));
  watch->add_flag("--no-follow", wa_no_follow, "exit once caught up with the head");

  // subscriptions
  auto* subs =
      app.add_subcommand("subscriptions", "list, acknowledge or delete durable subscriptions");
  auto* subs_ack = subs->add_subcommand("ack", "acknowledge events up to a position");
  std::string sa_name;
  int64_t sa_pos = 0;
  subs_ack->add_option("name", sa_name, "subscription name")->required();
  subs_ack->add_option("position", sa_pos, "position processed")->required();
  auto* subs_rm = subs->add_subcommand("delete", "delete a subscription (releases retention)");
  std::string sd_name;
  subs_rm->add_option("name", sd_name, "subscription name")->required();

  // bench
  auto* bench_cmd = app.add_subcommand(
      "bench", "measure a running daemon: throughput, latency, pipeline, wait, backlog");
  bench::BenchOptions b_opts;
  bench::AddBenchOptions(bench_cmd, &b_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }

  std::unique_ptr<client::Client> connected;
  try {
    connected = std::make_unique<client::Client>(g.connect.Resolve());
  } catch (const std::invalid_argument& e) {
    return Usage(e.what());
  }
  client::Client& c = *connected;

  if (bench_cmd->parsed()) {
    b_opts.json = g.json;
    return bench::RunBench(c, b_opts, std::cout);
  }

  if (enq->parsed()) {
    v1::EnqueueRequest req;
    req.set_workflow_type(e_type);
    std::string input;
    if (!ReadInputArg(e_input, &input)) {
      return Usage("--input: cannot read " + e_input.substr(1));
    }
    req.set_input(input);
    req.set_queue(e_queue);
    req.set_priority(e_priority);
    req.set_idempotency_key(e_key);
    if (!e_delay.empty()) {
      auto d = ParseDuration(e_delay);
      if (!d) return Usage("--delay: '" + e_delay + "' is not a duration (e.g. 500ms, 30s, 5m)");
      *req.mutable_delay() = TimeUtil::MillisecondsToDuration(d->count());
    }
    if (!e_run_at.empty()) {
      if (!TimeUtil::FromString(e_run_at, req.mutable_run_at())) {
        return Usage("--run-at: '" + e_run_at + "' is not an RFC 3339 time");
      }
    }
    v1::EnqueueResponse resp;
    auto s = c.Enqueue(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << "\n";
      if (!resp.created()) std::cerr << "cueball: idempotency key matched an existing run\n";
    }
    return 0;
  }

  if (get->parsed()) {
    v1::GetRequest req;
    req.set_id(g_id);
    req.set_include_history(!g_no_history);
    v1::GetResponse resp;
    auto s = c.Get(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp.run()).dump(2) << "\n";
    } else {
      cli::PrintRunDetail(resp.run(), std::cout);
    }
    return 0;
  }

  if (wait->parsed()) {
    auto d = ParseDuration(w_timeout);
    if (!d) return Usage("--timeout: '" + w_timeout + "' is not a duration (e.g. 30s)");
    v1::WaitRequest req;
    for (const auto& id : w_ids) req.add_ids(id);
    req.set_mode(w_any ? v1::WAIT_MODE_ANY : v1::WAIT_MODE_ALL);
    *req.mutable_timeout() = TimeUtil::MillisecondsToDuration(d->count());
    v1::WaitResponse resp;
    auto s = c.Wait(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
    } else {
      std::vector<const v1::Run*> runs;
      for (const auto& r : resp.runs()) runs.push_back(&r);
      cli::PrintRunTable(runs, std::cout);
    }
    if (!resp.satisfied()) {
      std::cerr << "cueball: timed out after " << w_timeout << "\n";
      return kExitTimeout;
    }
    bool ok = w_any ? false : true;
    for (const auto& r : resp.runs()) {
      bool finished = r.status() == v1::RUN_STATUS_SUCCEEDED ||
                      r.status() == v1::RUN_STATUS_FAILED || r.status() == v1::RUN_STATUS_CANCELED;
      bool succeeded = r.status() == v1::RUN_STATUS_SUCCEEDED;
      if (w_any && finished && succeeded) ok = true;
      if (!w_any && !succeeded) ok = false;
    }
    return ok ? 0 : kExitNotSucceeded;
  }

  if (list->parsed()) {
    v1::ListRequest req;
    req.set_workflow_type(l_type);
    req.set_queue(l_queue);
    req.set_page_size(l_limit);
    req.set_page_token(l_token);
    for (const auto& name : l_status) {
      static const std::pair<const char*, v1::RunStatus> kNames[] = {
          {"enqueued", v1::RUN_STATUS_ENQUEUED}, {"running", v1::RUN_STATUS_RUNNING},
          {"waiting", v1::RUN_STATUS_WAITING},   {"succeeded", v1::RUN_STATUS_SUCCEEDED},
          {"failed", v1::RUN_STATUS_FAILED},     {"canceled", v1::RUN_STATUS_CANCELED}};
      bool found = false;
      for (const auto& [n, v] : kNames) {
        if (name == n) {
          req.add_statuses(v);
          found = true;
        }
      }
      if (!found) {
        return Usage("--status: '" + name +
                     "' is not one of enqueued, running, waiting, succeeded, failed, canceled");
      }
    }
    std::vector<v1::ListResponse> pages;
    while (true) {
      v1::ListResponse resp;
      auto s = c.List(req, &resp);
      if (!s.ok()) return Fail(s);
      pages.push_back(resp);
      if (!l_all || resp.next_page_token().empty()) break;
      req.set_page_token(resp.next_page_token());
    }
    const std::string next = pages.back().next_page_token();
    if (g.json) {
      nlohmann::json out = {{"runs", nlohmann::json::array()}, {"next_page_token", next}};
      for (const auto& p : pages) {
        for (const auto& r : p.runs()) out["runs"].push_back(cli::ToJson(r));
      }
      std::cout << out.dump(2) << "\n";
    } else {
      std::vector<const v1::Run*> runs;
      for (const auto& p : pages) {
        for (const auto& r : p.runs()) runs.push_back(&r);
      }
      cli::PrintRunTable(runs, std::cout);
      if (!next.empty()) std::cerr << "more: --page-token " << next << "\n";
    }
    return 0;
  }

  if (cancel->parsed()) {
    v1::CancelRequest req;
    req.set_id(c_id);
    req.set_reason(c_reason);
    v1::CancelResponse resp;
    auto s = c.Cancel(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp.run()).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << " canceled\n";
    }
    return 0;
  }

  if (graph->parsed()) {
    v1::ListWorkflowTypesResponse resp;
    auto s = c.ListWorkflowTypes(&resp);
    if (!s.ok()) return Fail(s);
    const v1::WorkflowType* found = nullptr;
    std::string known;
    for (const auto& t : resp.types()) {
      if (t.name() == gr_type) found = &t;
      known += (known.empty() ? "" : ", ") + t.name();
    }
    if (!found) {
      std::cerr << "cueball: NOT_FOUND: type: no workflow type named '" << gr_type
                << "' (known: " << known << ")\n";
      return kExitError;
    }
    std::optional<v1::Run> run;
    if (!gr_run.empty()) {
      v1::GetRequest req;
      req.set_id(gr_run);
      req.set_include_history(true);
      v1::GetResponse got;
      auto gs = c.Get(req, &got);
      if (!gs.ok()) return Fail(gs);
      if (got.run().workflow_type() != gr_type) {
        return Usage("--run: run " + gr_run + " is of type '" + got.run().workflow_type() +
                     "', not '" + gr_type + "'");
      }
      run = got.run();
    }
    cli::WriteGraph(*found, run ? &*run : nullptr, std::cout);
    return 0;
  }

  if (signal->parsed()) {
    v1::SignalRequest req;
    req.set_run_id(s_id);
    req.set_name(s_name);
    std::string payload;
    if (!ReadInputArg(s_payload, &payload)) return Usage("--payload: cannot read " + s_payload);
    req.set_payload(payload);
    req.set_idempotency_key(s_key);
    v1::SignalResponse resp;
    auto s = c.Signal(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
    } else if (resp.duplicate()) {
      std::cout << "signal " << s_name << " #" << resp.seq() << " was already delivered to "
                << resp.run().id() << " (same key): nothing changed\n";
    } else {
      std::cout << "signal " << s_name << " #" << resp.seq() << " delivered to " << resp.run().id()
                << (resp.resumed() ? "; the run was waiting for it and resumes"
                                   : "; buffered until a step asks for it")
                << "\n";
    }
    return 0;
  }

  if (blob_ls->parsed()) {
    v1::ListBlobsResponse resp;
    auto s = c.ListBlobs(b_id, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
      return 0;
    }
    cli::Table t({"NAME", "SIZE", "CONTENT TYPE", "SHA256", "UPDATED"});
    for (const auto& b : resp.blobs()) {
      t.Add({b.name(), std::to_string(b.size()), b.content_type(), b.sha256().substr(0, 16),
             cli::FormatTimestamp(b.updated_at())});
    }
    t.Print(std::cout);
    return 0;
  }

  if (blob_get->parsed()) {
    v1::Blob info;
    std::string data;
    auto s = c.GetBlob(b_id, b_name, &info, &data);
    if (!s.ok()) return Fail(s);
    std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
    std::cout.flush();
    return 0;
  }

  if (retry->parsed()) {
    v1::RetryRequest req;
    req.set_id(r_id);
    req.set_reason(r_reason);
    v1::RetryResponse resp;
    auto s = c.Retry(req, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp.run()).dump(2) << "\n";
    } else {
      std::cout << resp.run().id() << " retrying from step " << resp.run().step() << "\n";
    }
    return 0;
  }

  if (nodes->parsed()) {
    v1::ListNodesResponse resp;
    auto s = c.ListNodes(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
      return 0;
    }
    cli::Table t({"ID", "ALIVE", "HOST", "PID", "LISTEN", "WORKERS", "QUEUES", "VERSION", "STARTED",
                  "LAST SEEN"});
    for (const auto& n : resp.nodes()) {
      if (!n_all && !n.alive()) continue;
      std::string queues;
      for (const auto& q : n.queues()) queues += (queues.empty() ? "" : ",") + q;
      t.Add({n.id(), n.alive() ? "yes" : "no", n.host(), std::to_string(n.pid()), n.listen(),
             std::to_string(n.workers()), queues, n.version(), cli::FormatTimestamp(n.started_at()),
             cli::FormatTimestamp(n.last_seen_at())});
    }
    t.Print(std::cout);
    return 0;
  }

  if (watch->parsed()) {
    v1::WatchEventsRequest req;
    if (!wa_sub.empty()) {
      req.set_subscription(wa_sub);
      req.set_new_subscription_from_now(wa_new_now);
    } else if (wa_now) {
      req.set_from_now(true);
    } else {
      req.set_after_position(wa_from < 0 ? 0 : wa_from);
    }
    req.set_workflow_type(wa_type);
    req.set_run_id(wa_run);
    for (const auto& k : wa_kinds) req.add_kinds(k);
    client::EventWatcher watcher(&c, req);
    int64_t printed = 0;
    grpc::Status ack_error;
    auto s = watcher.Run([&](const v1::WatchEventsResponse& msg) {
      // Everything examined up to `through` counts as processed, unless
      // --count stops inside this batch: then up to the last event printed.
      int64_t upto = msg.through();
      for (const auto& e : msg.events()) {
        if (g.json) {
          std::cout << cli::ToJson(e).dump() << "\n";
        } else {
          cli::PrintEventLine(e, std::cout);
        }
        if (wa_count > 0 && ++printed >= wa_count) {
          upto = e.position();
          break;
        }
      }
      std::cout.flush();
      bool done =
          (wa_count > 0 && printed >= wa_count) || (wa_no_follow && msg.through() >= msg.head());
      if (!wa_sub.empty() && (msg.events_size() > 0 || done)) {
        v1::AckEventsRequest ack;
        ack.set_subscription(wa_sub);
        ack.set_position(upto);
        v1::AckEventsResponse ack_resp;
        ack_error = c.AckEvents(ack, &ack_resp);
        if (!ack_error.ok()) return false;
      }
      return !done;
    });
    if (!ack_error.ok()) return Fail(ack_error);
    if (!s.ok()) return Fail(s);
    return 0;
  }

  if (subs->parsed()) {
    if (subs_ack->parsed()) {
      v1::AckEventsRequest req;
      req.set_subscription(sa_name);
      req.set_position(sa_pos);
      v1::AckEventsResponse resp;
      auto s = c.AckEvents(req, &resp);
      if (!s.ok()) return Fail(s);
      if (g.json) {
        std::cout << cli::ToJson(resp.subscription()).dump(2) << "\n";
      } else {
        std::cout << resp.subscription().name() << " at position " << resp.subscription().position()
                  << "\n";
      }
      return 0;
    }
    if (subs_rm->parsed()) {
      auto s = c.DeleteSubscription(sd_name);
      if (!s.ok()) return Fail(s);
      if (!g.json) std::cout << sd_name << " deleted\n";
      return 0;
    }
    v1::ListSubscriptionsResponse resp;
    auto s = c.ListSubscriptions(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
      return 0;
    }
    cli::Table t({"NAME", "POSITION", "LAG", "CREATED", "ACKED"});
    for (const auto& sub : resp.subscriptions()) {
      t.Add({sub.name(), std::to_string(sub.position()), std::to_string(sub.lag()),
             cli::FormatTimestamp(sub.created_at()), cli::FormatTimestamp(sub.acked_at())});
    }
    t.Print(std::cout);
    std::cout << "head " << resp.head() << "\n";
    return 0;
  }

  if (types->parsed()) {
    v1::ListWorkflowTypesResponse resp;
    auto s = c.ListWorkflowTypes(&resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << cli::ToJson(resp).dump(2) << "\n";
      return 0;
    }
    cli::Table t({"TYPE", "STEPS", "DESCRIPTION"});
    for (const auto& wt : resp.types()) {
      std::string steps;
      for (const auto& st : wt.steps()) {
        steps += (steps.empty() ? "" : " -> ") + st.name() + "(x" +
                 std::to_string(st.retry().max_attempts()) + ")";
      }
      t.Add({wt.name(), steps, wt.description()});
    }
    t.Print(std::cout);
    return 0;
  }
  return kExitUsage;
}
