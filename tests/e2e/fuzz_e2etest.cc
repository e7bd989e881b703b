// Every RPC, fed malformed, extreme and random values by a seeded generator
// (the same calls on every run): no call may answer INTERNAL or UNKNOWN, the
// daemon must stay up, and a refused call must write no row. Strings are
// always valid UTF-8: a proto3 string that is not is refused by gRPC's own
// parser ("Unable to parse request") before cueballd sees the call.
#include <google/protobuf/util/time_util.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <vector>

#include "client/client.h"
#include "cueball/v1/workers.grpc.pb.h"
#include "tests/support/daemon.h"
#include "tests/support/test_db.h"

using namespace cueball;
using namespace cueball::testing;

namespace {

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  int64_t Int(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(int percent) { return Int(1, 100) <= percent; }
  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[static_cast<size_t>(Int(0, static_cast<int64_t>(v.size()) - 1))];
  }

  // Valid UTF-8 with the awkward characters: NUL, controls, quotes,
  // backslashes, '=', newlines, 2-, 3- and 4-byte sequences.
  std::string Text(size_t max_len) {
    static const std::vector<std::string> kPieces = {
        "a",    "Z",    "0",  "-", "_",  ".",  ":",
        " ",    "\"",   "\\", "=", "\n", "\t", std::string(1, '\0'),
        "\x01", "\x7f", "é",  "€", "𝄞",  "ü",  "'",
        "%",    "{",    "}",  "[", "]",  ",",  "/",
        "*"};
    size_t n = static_cast<size_t>(Int(0, static_cast<int64_t>(max_len)));
    std::string s;
    while (s.size() < n) s += Pick(kPieces);
    return s;
  }

  std::string Name() {
    switch (Int(0, 7)) {
      case 0:
        return "";
      case 1:
        return "noop";
      case 2:
        return "demo.pipeline";
      case 3:
        return std::string(static_cast<size_t>(Int(129, 5000)), 'n');
      case 4:
        return "go";
      case 5:
        return Text(40);
      case 6:
        return std::string(static_cast<size_t>(Int(1, 300)), 'x') + "\xc3\xa9";
      default:
        return "demo." + Text(8);
    }
  }

  std::string Id() {
    switch (Int(0, 7)) {
      case 0:
        return "";
      case 1:
        return "00000000-0000-0000-0000-000000000000";
      case 2:
        return "01a206fc-1c2b-7d3e-8f40-123456789abc";
      case 3:
        return "not-a-uuid";
      case 4:
        return "01A206FC-1C2B-7D3E-8F40-123456789ABC";
      case 5:
        return std::string(static_cast<size_t>(Int(37, 100000)), 'f');
      case 6:
        return known_.empty() ? Text(36) : Pick(known_);
      default:
        return Text(36);
    }
  }

  std::string Number() {
    static const std::vector<std::string> kNumbers = {"0",
                                                      "-0",
                                                      "1e400",
                                                      "-1e400",
                                                      "1e-400",
                                                      "123456789012345678901234567890",
                                                      "-9223372036854775809",
                                                      "18446744073709551616",
                                                      "1.7976931348623157e308",
                                                      "4.9e-324",
                                                      "0.1",
                                                      "1E+2",
                                                      "2e-5"};
    return Pick(kNumbers);
  }

  // JSON text: mostly valid (deep, extreme numbers, escapes), sometimes not.
  std::string Json(int depth = 0) {
    switch (Int(0, depth > 3 ? 5 : 11)) {
      case 0:
        return Number();
      case 1:
        return "\"" + Escaped() + "\"";
      case 2:
        return "true";
      case 3:
        return "null";
      case 4:
        return "\"\\u0000\"";
      case 5:
        return "\"\\ud800\"";  // a lone surrogate
      case 6: {
        std::string s = "{";
        int n = static_cast<int>(Int(0, 4));
        for (int i = 0; i < n; ++i) {
          if (i) s += ",";
          s += "\"" + Escaped() + "\":" + Json(depth + 1);
        }
        return s + "}";
      }
      case 7: {
        std::string s = "[";
        int n = static_cast<int>(Int(0, 4));
        for (int i = 0; i < n; ++i) s += (i ? "," : "") + Json(depth + 1);
        return s + "]";
      }
      case 8: {  // deep nesting, around the limit
        int n = static_cast<int>(Int(60, 2000));
        return std::string(static_cast<size_t>(n), '[') + "1" +
               std::string(static_cast<size_t>(n), ']');
      }
      case 9:
        return Text(20);  // not JSON
      case 10:
        return "{\"n\":" + Number() + "}";
      default:
        return "{\"s\":\"" + std::string(static_cast<size_t>(Int(0, 3000000)), 'x') + "\"}";
    }
  }

  google::protobuf::Timestamp Time() {
    google::protobuf::Timestamp t;
    static const std::vector<int64_t> kSeconds = {0,
                                                  -1,
                                                  -62135596801,
                                                  253402300800,
                                                  int64_t{1} << 62,
                                                  -(int64_t{1} << 62),
                                                  1796533707,
                                                  1796533707 + 86400 * 365};
    t.set_seconds(Pick(kSeconds));
    t.set_nanos(static_cast<int32_t>(Pick(std::vector<int64_t>{0, 999999999, 1000000000, -1})));
    return t;
  }

  google::protobuf::Duration Duration() {
    google::protobuf::Duration d;
    static const std::vector<int64_t> kSeconds = {
        0, 1, -1, 3600, 3601, 315576000000, -315576000000, int64_t{1} << 62};
    d.set_seconds(Pick(kSeconds));
    int32_t nanos = static_cast<int32_t>(Pick(std::vector<int64_t>{0, 1, -1, 999999999}));
    if ((d.seconds() > 0 && nanos < 0) || (d.seconds() < 0 && nanos > 0)) nanos = -nanos;
    d.set_nanos(nanos);
    return d;
  }

  int32_t Small() {
    return static_cast<int32_t>(
        Pick(std::vector<int64_t>{0, 1, -1, 1000, 1001, -1000, -1001, INT32_MAX, INT32_MIN, 50}));
  }

  v1::EnqueueRequest Enqueue() {
    v1::EnqueueRequest r;
    r.set_workflow_type(Chance(60) ? "noop" : Name());
    if (Chance(80)) r.set_input(Json());
    if (Chance(30)) r.set_queue(Chance(50) ? Text(70) : std::string("fuzz"));
    if (Chance(30)) r.set_priority(Small());
    if (Chance(20)) *r.mutable_run_at() = Time();
    if (Chance(20)) *r.mutable_delay() = Duration();
    if (Chance(30))
      r.set_idempotency_key(Chance(50) ? Text(300) : "k" + std::to_string(Int(0, 20)));
    if (Chance(30)) Tags(r.mutable_tags());
    if (Chance(15)) *r.mutable_deadline() = Time();
    if (Chance(15)) {
      // Accepted deadlines lie a day or more ahead: one passing while a
      // refused call is checked would change the rows counted.
      auto d = Duration();
      if (d.seconds() > 0 && d.seconds() < 86400) d.set_seconds(86400);
      *r.mutable_timeout() = d;
    }
    if (Chance(15)) r.set_deadline_action(Chance(50) ? "cancel" : Text(10));
    return r;
  }

  // Tags: mostly good ones, sometimes too many, bad keys or long values.
  void Tags(google::protobuf::Map<std::string, std::string>* tags) {
    const int n = static_cast<int>(Pick(std::vector<int64_t>{0, 1, 2, 16, 17}));
    for (int i = 0; i < n; ++i) {
      std::string key = Chance(70) ? "k" + std::to_string(Int(0, 30)) : Text(70);
      (*tags)[key] = Chance(80) ? "v" + std::to_string(Int(0, 5)) : Text(300);
    }
  }

  // A bulk action's filter: often empty, sometimes with bad fields.
  void Filter(v1::RunFilter* f) {
    if (Chance(30)) f->set_workflow_type(Chance(50) ? "noop" : Name());
    if (Chance(30)) f->set_queue(Chance(50) ? "fuzz" : Text(80));
    for (int k = 0; k < Int(0, 2); ++k) f->add_statuses(static_cast<v1::RunStatus>(Small()));
    if (Chance(20)) *f->mutable_created_after() = Time();
    if (Chance(20)) *f->mutable_created_before() = Time();
    if (Chance(30)) Tags(f->mutable_tags());
    if (Chance(20)) f->set_idempotency_key(Chance(50) ? Text(300) : "k1");
  }

  void Remember(const std::string& id) { known_.push_back(id); }

 private:
  std::string Escaped() {
    static const std::vector<std::string> kEscapes = {
        "a", "\\n", "\\\"", "\\\\", "\\u00e9", "\\ud83d\\ude00", "\\udc00", "\\/", "é"};
    std::string s;
    int n = static_cast<int>(Int(0, 6));
    for (int i = 0; i < n; ++i) s += Pick(kEscapes);
    return s;
  }

  std::mt19937_64 rng_;
  std::vector<std::string> known_;
};

bool Bad(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::INTERNAL ||
         s.error_code() == grpc::StatusCode::UNKNOWN;
}

}  // namespace

TEST_CASE("Random, malformed and extreme values to every RPC never answer INTERNAL or UNKNOWN") {
  TestDatabase db;
  // A queue no worker serves keeps accepted runs queued, so that row counts
  // change only by what the calls themselves write.
  Daemon d(db, {"--queues", "fuzz-idle", "--max-payload-bytes", "2097152"});
  client::Client c(d.address(), Millis(20000));
  Gen g(28);
  auto rows = [&] {
    return db.Scalar(
        "SELECT (SELECT count(*) FROM cueball_runs) || '/' || (SELECT count(*) FROM "
        "cueball_signals) || '/' || (SELECT count(*) FROM cueball_subscriptions) || '/' || "
        "(SELECT count(*) FROM cueball_events) || '/' || (SELECT count(*) FROM cueball_queues) || "
        "'/' || (SELECT count(*) FROM cueball_schedules)");
  };
  int calls = 0, refused = 0;
  const int kCalls = 3000;
  for (int i = 0; i < kCalls; ++i) {
    const int64_t which = g.Int(0, 19);
    // Calls that write: the rows they may touch are counted before and after.
    const bool writes =
        which <= 4 || which == 12 || which == 14 || which == 15 || which == 16 || which == 18;
    std::string before = writes ? rows() : "";
    grpc::Status s;
    std::string what;  // the request, where it helps to read a failure
    bool mutating = false;
    switch (which) {
      case 0: {
        v1::EnqueueResponse resp;
        auto req = g.Enqueue();
        what = req.ShortDebugString();
        s = c.Enqueue(req, &resp);
        if (s.ok()) g.Remember(resp.run().id());
        mutating = true;
        break;
      }
      case 1: {
        v1::EnqueueBatchRequest req;
        int n = static_cast<int>(g.Pick(std::vector<int64_t>{0, 1, 2, 10, 1000, 1001}));
        for (int k = 0; k < n; ++k) *req.add_runs() = n > 10 ? v1::EnqueueRequest() : g.Enqueue();
        if (n > 10) {
          for (auto& r : *req.mutable_runs()) r.set_workflow_type("noop");
        }
        v1::EnqueueBatchResponse resp;
        s = c.EnqueueBatch(req, &resp);
        mutating = true;
        break;
      }
      case 2: {
        v1::SignalRequest req;
        req.set_run_id(g.Id());
        req.set_name(g.Chance(50) ? "go" : g.Name());
        if (g.Chance(80)) req.set_payload(g.Json());
        if (g.Chance(30)) req.set_idempotency_key(g.Text(300));
        v1::SignalResponse resp;
        s = c.Signal(req, &resp);
        mutating = true;
        break;
      }
      case 3: {
        v1::CancelRequest req;
        req.set_id(g.Id());
        req.set_reason(g.Text(g.Chance(10) ? 5000 : 50));
        v1::CancelResponse resp;
        s = c.Cancel(req, &resp);
        mutating = true;
        break;
      }
      case 4: {
        v1::RetryRequest req;
        req.set_id(g.Id());
        req.set_reason(g.Text(g.Chance(10) ? 5000 : 50));
        v1::RetryResponse resp;
        s = c.Retry(req, &resp);
        mutating = true;
        break;
      }
      case 5: {
        v1::GetRequest req;
        req.set_id(g.Id());
        req.set_include_history(g.Chance(50));
        v1::GetResponse resp;
        s = c.Get(req, &resp);
        break;
      }
      case 6: {
        v1::WaitRequest req;
        int n = static_cast<int>(g.Pick(std::vector<int64_t>{0, 1, 3, 1001}));
        for (int k = 0; k < n; ++k) req.add_ids(g.Id());
        req.set_mode(static_cast<v1::WaitMode>(g.Pick(std::vector<int64_t>{0, 1, 7, -3})));
        auto dur = g.Duration();
        if (dur.seconds() > 0 || dur.nanos() > 0) {  // keep the test short
          dur.set_seconds(0);
          dur.set_nanos(g.Chance(50) ? 0 : 1000000);
        }
        if (g.Chance(70)) *req.mutable_timeout() = dur;
        v1::WaitResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        s = c.stub()->Wait(&ctx, req, &resp);
        if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) s = grpc::Status::OK;
        break;
      }
      case 7: {
        v1::ListRequest req;
        if (g.Chance(40)) req.set_workflow_type(g.Name());
        if (g.Chance(40)) req.set_queue(g.Text(80));
        for (int k = 0; k < g.Int(0, 3); ++k)
          req.add_statuses(static_cast<v1::RunStatus>(g.Small()));
        if (g.Chance(30)) *req.mutable_created_after() = g.Time();
        if (g.Chance(30)) *req.mutable_created_before() = g.Time();
        if (g.Chance(60)) req.set_page_size(g.Small());
        if (g.Chance(30)) req.set_page_token(g.Text(200));
        if (g.Chance(20)) g.Tags(req.mutable_tags());
        if (g.Chance(10)) req.set_idempotency_key(g.Text(300));
        v1::ListResponse resp;
        s = c.List(req, &resp);
        break;
      }
      case 8: {
        v1::ListNodesResponse resp;
        s = c.ListNodes(&resp);
        break;
      }
      case 9: {
        v1::ListWorkflowTypesResponse resp;
        s = c.ListWorkflowTypes(&resp);
        break;
      }
      case 10: {
        v1::ListBlobsResponse resp;
        s = c.ListBlobs(g.Id(), &resp);
        break;
      }
      case 11: {
        v1::Blob blob;
        std::string data;
        s = c.GetBlob(g.Id(), g.Name(), &blob, &data);
        break;
      }
      case 12: {
        v1::AckEventsRequest req;
        req.set_subscription(g.Chance(50) ? "fuzz" : g.Name());
        req.set_position(g.Pick(std::vector<int64_t>{0, -1, 1, INT64_MAX, INT64_MIN, 5}));
        v1::AckEventsResponse resp;
        s = c.AckEvents(req, &resp);
        mutating = true;
        break;
      }
      case 13: {
        v1::ListSubscriptionsResponse resp;
        s = c.ListSubscriptions(&resp);
        break;
      }
      case 14: {
        s = c.DeleteSubscription(g.Chance(50) ? "fuzz" : g.Name());
        mutating = true;
        break;
      }
      case 15: {
        // Bulk actions: a dry run most of the time; every kind of filter.
        v1::RunFilter filter;
        g.Filter(&filter);
        const bool all = g.Chance(20), dry = g.Chance(70);
        const std::string reason = g.Text(g.Chance(10) ? 5000 : 50);
        if (g.Chance(50)) {
          v1::CancelRunsRequest req;
          *req.mutable_filter() = filter;
          req.set_all(all);
          req.set_dry_run(dry);
          req.set_reason(reason);
          what = req.ShortDebugString();
          v1::CancelRunsResponse resp;
          s = c.CancelRuns(req, &resp);
        } else {
          v1::RetryRunsRequest req;
          *req.mutable_filter() = filter;
          req.set_all(all);
          req.set_dry_run(dry);
          req.set_reason(reason);
          what = req.ShortDebugString();
          v1::RetryRunsResponse resp;
          s = c.RetryRuns(req, &resp);
        }
        mutating = true;
        break;
      }
      case 16: {
        const std::string queue = g.Chance(40) ? "fuzz-idle" : g.Text(130);
        if (g.Chance(50)) {
          v1::PauseQueueRequest req;
          req.set_queue(queue);
          req.set_reason(g.Text(g.Chance(10) ? 5000 : 50));
          v1::PauseQueueResponse resp;
          s = c.PauseQueue(req, &resp);
        } else {
          v1::ResumeQueueRequest req;
          req.set_queue(queue);
          v1::ResumeQueueResponse resp;
          s = c.ResumeQueue(req, &resp);
        }
        mutating = true;
        break;
      }
      case 17: {
        v1::ListQueuesResponse resp;
        s = c.ListQueues(&resp);
        break;
      }
      case 18: {
        // Schedules: created with every kind of field, paused, resumed, deleted.
        const std::string name =
            g.Chance(50) ? "fuzz-s" + std::to_string(g.Int(0, 3)) : g.Text(140);
        v1::Schedule out;
        switch (g.Int(0, 3)) {
          case 0: {
            // Valid ones fire only far from today (a tick while a refused
            // call is checked would change the rows counted).
            static const std::vector<std::string> kCrons = {
                "0 0 1 1 *",  "@yearly", "*/0 * * * *", "61 * * * *",
                "0 0 29 2 *", "@never",  "0 0 30 2 *",  "1-5/2 1,2 * JAN-mar MON",
                "* * *",      ""};
            v1::Schedule sch;
            sch.set_name(name);
            sch.set_cron(g.Chance(80) ? kCrons[static_cast<size_t>(g.Int(0, 9))] : g.Text(300));
            sch.set_timezone(g.Chance(60) ? "Europe/Berlin" : g.Text(40));
            sch.set_workflow_type(g.Chance(70) ? "noop" : g.Name());
            if (g.Chance(50)) sch.set_input(g.Json());
            if (g.Chance(30)) sch.set_queue(g.Text(80));
            if (g.Chance(30)) sch.set_priority(g.Small());
            if (g.Chance(30)) g.Tags(sch.mutable_tags());
            if (g.Chance(30)) sch.set_catch_up(g.Chance(50) ? "skip" : g.Text(10));
            what = sch.ShortDebugString();
            s = c.CreateSchedule(sch, &out);
            break;
          }
          case 1:
            s = c.PauseSchedule(name, &out);
            break;
          case 2:
            s = c.ResumeSchedule(name, &out);
            break;
          default:
            s = c.DeleteSchedule(name);
            break;
        }
        mutating = true;
        break;
      }
      default: {
        v1::WatchEventsRequest req;
        switch (g.Int(0, 3)) {
          case 0:
            req.set_after_position(g.Pick(std::vector<int64_t>{0, -1, INT64_MAX, INT64_MIN}));
            break;
          case 1:
            req.set_from_now(g.Chance(50));
            break;
          case 2:
            req.set_subscription(g.Chance(50) ? "fuzz" : g.Name());
            break;
          default:
            break;
        }
        if (g.Chance(30)) req.set_run_id(g.Id());
        if (g.Chance(30)) req.set_workflow_type(g.Name());
        for (int k = 0; k < g.Int(0, 2); ++k)
          req.add_kinds(g.Chance(50) ? "run_enqueued" : g.Name());
        req.set_new_subscription_from_now(g.Chance(20));
        grpc::ClientContext ctx;
        c.Prepare(&ctx);
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
        auto reader = c.stub()->WatchEvents(&ctx, req);
        v1::WatchEventsResponse msg;
        reader->Read(&msg);
        s = reader->Finish();
        if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) s = grpc::Status::OK;
        break;
      }
    }
    ++calls;
    INFO("call " << i << " (kind " << which << "): " << s.error_code() << " " << s.error_message()
                 << " request: " << what.substr(0, 400));
    REQUIRE_FALSE(Bad(s));
    if (!s.ok()) {
      ++refused;
      CHECK_FALSE(s.error_message().empty());
      if (mutating) REQUIRE(rows() == before);  // a refused call wrote nothing
    }
  }
  CHECK(calls == kCalls);
  CHECK(refused > kCalls / 4);  // the generator does reach the refusals
  v1::ListWorkflowTypesResponse types;
  REQUIRE(c.ListWorkflowTypes(&types).ok());                             // still up
  CHECK_FALSE(d.proc().Wait(std::chrono::milliseconds(0)).has_value());  // never exited
}

TEST_CASE("Random, malformed and extreme values to every Workers RPC never answer INTERNAL") {
  TestDatabase db;
  Daemon d(db, {"--queues", "fuzz-idle"});
  client::Client c(d.address(), Millis(20000));
  auto stub = v1::Workers::NewStub(c.channel());
  Gen g(30);
  // One real worker, with real attempts to mutate: its tokens, cut and
  // patched, go back through every call.
  v1::RegisterWorkerRequest reg;
  reg.set_identity("fuzz");
  reg.set_slots(8);
  auto* type = reg.add_types();
  type->set_name("fuzz.remote");
  type->add_steps()->set_name("a");
  type->add_steps()->set_name("b");
  v1::RegisterWorkerResponse registered;
  {
    grpc::ClientContext ctx;
    REQUIRE(stub->RegisterWorker(&ctx, reg, &registered).ok());
  }
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) {
    v1::EnqueueRequest req;
    req.set_workflow_type("fuzz.remote");
    v1::EnqueueResponse resp;
    REQUIRE(c.Enqueue(req, &resp).ok());
  }
  auto mutate = [&](const std::string& t) -> std::string {
    if (t.empty() || g.Chance(30)) return g.Text(80);
    std::string s = t;
    switch (g.Int(0, 3)) {
      case 0:
        return s.substr(0, static_cast<size_t>(g.Int(0, static_cast<int64_t>(s.size()))));
      case 1:
        s[static_cast<size_t>(g.Int(0, static_cast<int64_t>(s.size()) - 1))] = 'A';
        return s;
      case 2:
        return s + g.Text(4);
      default:
        return s;
    }
  };
  auto token = [&] { return tokens.empty() ? g.Text(40) : mutate(g.Pick(tokens)); };
  auto worker = [&] {
    return g.Chance(80) ? registered.worker_id() : g.Chance(50) ? g.Text(70) : g.Name();
  };
  auto runs = [&] { return db.Scalar("SELECT count(*) || '/' || sum(attempt) FROM cueball_runs"); };
  const int kCalls = 1500;
  int refused = 0;
  for (int i = 0; i < kCalls; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s;
    std::string what;
    const int64_t which = g.Int(0, 9);
    switch (which) {
      case 0: {
        v1::RegisterWorkerRequest req;
        req.set_identity(g.Chance(80) ? "fuzz" : g.Text(300));
        req.set_slots(g.Small());
        for (int k = 0; k < g.Int(0, 2); ++k) req.add_queues(g.Chance(50) ? "fuzz-idle" : g.Name());
        if (g.Chance(50)) *req.mutable_lease() = g.Duration();
        for (int k = 0; k < g.Int(0, 2); ++k) {
          auto* t = req.add_types();
          t->set_name(g.Chance(50) ? "fuzz.other" : g.Name());
          for (int j = 0; j < g.Int(0, 3); ++j) {
            auto* st = t->add_steps();
            st->set_name(g.Chance(50) ? "a" : g.Name());
            if (g.Chance(30)) {
              st->mutable_retry()->set_max_attempts(g.Small());
              st->mutable_retry()->set_backoff(g.Chance(50) ? "fixed" : g.Text(10));
              *st->mutable_retry()->mutable_initial_delay() = g.Duration();
              *st->mutable_retry()->mutable_max_delay() = g.Duration();
            }
            if (g.Chance(30)) *st->mutable_timeout() = g.Duration();
          }
        }
        what = req.ShortDebugString();
        v1::RegisterWorkerResponse resp;
        s = stub->RegisterWorker(&ctx, req, &resp);
        break;
      }
      case 1:
      case 2: {
        v1::PollStepsRequest req;
        req.set_worker_id(worker());
        req.set_max_steps(g.Chance(70) ? static_cast<int32_t>(g.Int(1, 8)) : g.Small());
        // Waits are short, or cut short by the call's deadline: the daemon
        // answers (empty) before a caller's deadline.
        if (g.Chance(70)) {
          req.mutable_wait()->set_nanos(static_cast<int32_t>(g.Int(0, 20)) * 1000000);
        } else {
          *req.mutable_wait() = g.Duration();
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
        }
        if (g.Chance(20)) req.add_queues(g.Chance(50) ? "default" : g.Name());
        if (g.Chance(20)) req.add_types(g.Chance(50) ? "fuzz.remote" : g.Name());
        what = req.ShortDebugString();
        v1::PollStepsResponse resp;
        s = stub->PollSteps(&ctx, req, &resp);
        for (const auto& a : resp.attempts()) tokens.push_back(a.lease_token());
        break;
      }
      case 3: {
        v1::HeartbeatRequest req;
        req.set_worker_id(worker());
        for (int k = 0; k < g.Int(0, 3); ++k) req.add_lease_tokens(token());
        req.set_in_flight(g.Small());
        v1::HeartbeatResponse resp;
        s = stub->Heartbeat(&ctx, req, &resp);
        break;
      }
      case 4:
      case 5: {
        v1::CompleteStepsRequest req;
        req.set_worker_id(worker());
        for (int k = 0; k < g.Int(0, 3); ++k) {
          auto* o = req.add_outcomes();
          o->set_lease_token(token());
          if (g.Chance(30)) o->set_state(g.Json());
          switch (g.Int(0, 9)) {
            case 0:
              o->mutable_next()->set_result(g.Json());
              break;
            case 1:
              o->mutable_complete()->set_result(g.Json());
              break;
            case 2:
              o->mutable_retry()->set_error(g.Text(100));
              if (g.Chance(50)) *o->mutable_retry()->mutable_delay() = g.Duration();
              break;
            case 3:
              o->mutable_fail()->set_error(g.Text(100));
              break;
            case 4:
              if (g.Chance(80))
                *o->mutable_defer()->mutable_until() = g.Time();
              else
                o->mutable_defer();
              break;
            case 5:
              *o->mutable_sleep()->mutable_until() = g.Time();
              break;
            case 6:
              o->mutable_wait_signal()->set_name(g.Name());
              if (g.Chance(50)) *o->mutable_wait_signal()->mutable_timeout() = g.Duration();
              break;
            case 7:
              for (int j = 0; j < g.Int(0, 3); ++j) o->mutable_wait_runs()->add_run_ids(g.Id());
              break;
            case 8:
              o->mutable_release()->set_reason(g.Text(20));
              break;
            default:
              break;  // no outcome
          }
        }
        what = req.ShortDebugString();
        std::string before = runs();
        v1::CompleteStepsResponse resp;
        s = stub->CompleteSteps(&ctx, req, &resp);
        if (!s.ok() && s.error_code() != grpc::StatusCode::UNAVAILABLE) {
          INFO(what.substr(0, 400));
          CHECK(runs() == before);  // a refused call changed nothing
        }
        break;
      }
      case 6: {
        v1::TakeSignalRequest req;
        req.set_lease_token(token());
        req.set_name(g.Name());
        v1::TakeSignalResponse resp;
        s = stub->TakeSignal(&ctx, req, &resp);
        break;
      }
      case 7: {
        v1::EnqueueChildRequest req;
        req.set_lease_token(token());
        req.set_key(g.Chance(50) ? "k" : g.Text(120));
        req.set_workflow_type(g.Chance(50) ? "noop" : g.Name());
        req.set_input(g.Json());
        req.set_priority(g.Small());
        v1::EnqueueChildResponse resp;
        s = stub->EnqueueChild(&ctx, req, &resp);
        break;
      }
      case 8: {
        v1::SaveBlobRequest req;
        req.set_lease_token(token());
        req.set_name(g.Chance(50) ? "out.txt" : g.Name());
        req.set_data(g.Text(100));
        req.set_content_type(g.Text(30));
        v1::SaveBlobResponse resp;
        s = stub->SaveBlob(&ctx, req, &resp);
        break;
      }
      default: {
        v1::GetRunsRequest req;
        req.set_lease_token(token());
        for (int k = 0; k < g.Int(0, 3); ++k) req.add_run_ids(g.Id());
        v1::GetRunsResponse resp;
        s = stub->GetRuns(&ctx, req, &resp);
        break;
      }
    }
    INFO("call " << i << " (kind " << which << "): " << s.error_code() << " " << s.error_message()
                 << " request: " << what.substr(0, 400));
    REQUIRE_FALSE(Bad(s));
    if (!s.ok()) {
      ++refused;
      CHECK_FALSE(s.error_message().empty());
    }
  }
  CHECK(refused > kCalls / 4);
  CHECK_FALSE(d.proc().Wait(std::chrono::milliseconds(0)).has_value());  // never exited
}
