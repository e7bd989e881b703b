// The event stream end to end: real daemons, real PostgreSQL, the C++ client
// and the CLI. Every consumer check is exact: each event once, in position
// order, positions 1..N with no hole, including events whose transaction
// committed after later ones.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "client/client.h"
#include "tests/e2e/enqueue_many.h"
#include "tests/support/daemon.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;

namespace {

// Follows the stream on a background thread and keeps every event.
class Consumer {
 public:
  Consumer(const std::string& address, v1::WatchEventsRequest req)
      : client_(address), watcher_(&client_, std::move(req)) {
    thread_ = std::thread([this] {
      status_ = watcher_.Run([this](const v1::WatchEventsResponse& msg) {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : msg.events()) events_.push_back(e);
        through_ = msg.through();
        return !stop_after_.has_value() || static_cast<int64_t>(events_.size()) < *stop_after_;
      });
      done_ = true;
    });
  }
  ~Consumer() { Stop(); }
  void StopAfter(int64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    stop_after_ = n;
  }
  void Stop() {
    watcher_.Cancel();
    if (thread_.joinable()) thread_.join();
  }
  std::vector<v1::Event> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  int64_t through() {
    std::lock_guard<std::mutex> lock(mu_);
    return through_;
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }
  bool done() const { return done_.load(); }
  int64_t resume_after() const { return watcher_.resume_after(); }
  grpc::Status status() const { return status_; }

 private:
  client::Client client_;
  client::EventWatcher watcher_;
  std::mutex mu_;
  std::vector<v1::Event> events_;
  int64_t through_ = 0;
  std::optional<int64_t> stop_after_;
  std::atomic<bool> done_{false};
  grpc::Status status_;
  std::thread thread_;
};

v1::WatchEventsRequest From(int64_t after) {
  v1::WatchEventsRequest r;
  r.set_after_position(after);
  return r;
}

bool AllFinished(client::Client& c, const std::vector<std::string>& ids) {
  for (size_t i = 0; i < ids.size(); i += 1000) {
    v1::WaitRequest req;
    for (size_t k = i; k < std::min(ids.size(), i + 1000); ++k) req.add_ids(ids[k]);
    req.mutable_timeout()->set_seconds(60);
    v1::WaitResponse resp;
    if (!c.Wait(req, &resp).ok() || !resp.satisfied()) return false;
  }
  return true;
}

int64_t Count(const TestDatabase& db, const std::string& where = "true") {
  return std::stoll(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE " + where));
}

// Every batch of events written so far has its stream positions.
bool AllNumbered(const TestDatabase& db) {
  return db.Scalar("SELECT count(*) FROM cueball_event_batches WHERE position IS NULL") == "0";
}

// Positions are 1..n, each once, in order.
void CheckDense(const std::vector<v1::Event>& events, int64_t first = 1) {
  std::set<int64_t> seqs;
  for (size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].position() == first + static_cast<int64_t>(i));
    seqs.insert(events[i].seq());
  }
  CHECK(seqs.size() == events.size());
}

// Each run's events arrive in the order they happened: the stream never puts
// a run's later event (its finish) before an earlier one (its start). A run's
// events are written one after another, so their seq order is that order.
void CheckRunOrder(const std::vector<v1::Event>& events) {
  std::map<std::string, std::vector<const v1::Event*>> by_run;
  for (const auto& e : events) by_run[e.run_id()].push_back(&e);
  int64_t out_of_order = 0;
  for (const auto& [run, list] : by_run) {
    for (size_t i = 1; i < list.size(); ++i) {
      if (list[i]->seq() < list[i - 1]->seq()) ++out_of_order;
    }
    CHECK(list.front()->kind() == "enqueued");
    CHECK(list.back()->kind().rfind("run_", 0) == 0);
  }
  CHECK(out_of_order == 0);
}

}  // namespace

TEST_CASE("three daemons write while a consumer follows live: every event once, in order") {
  TestDatabase db(false);
  Daemon d1(db, {"--workers", "16"});
  Daemon d2(db, {"--workers", "16"});
  Daemon d3(db, {"--workers", "16"});
  client::Client c1(d1.address()), c2(d2.address()), c3(d3.address());
  std::vector<std::string> ids = EnqueueMany(c1, 100, "noop");
  // The consumer starts with history already there, then follows live.
  Consumer consumer(d2.address(), From(0));
  std::vector<std::thread> writers;
  std::mutex ids_mu;
  for (client::Client* c : {&c1, &c2, &c3}) {
    writers.emplace_back([&, c] {
      for (int round = 0; round < 5; ++round) {
        auto more = EnqueueMany(*c, 40, round % 2 ? "noop" : "demo.flaky", R"({"succeed_on":2})");
        std::lock_guard<std::mutex> lock(ids_mu);
        ids.insert(ids.end(), more.begin(), more.end());
      }
    });
  }
  for (auto& w : writers) w.join();
  REQUIRE(AllFinished(c1, ids));
  // Every event written is numbered and reaches the consumer.
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  const int64_t total = Count(db);
  REQUIRE(WaitFor([&] { return static_cast<int64_t>(consumer.size()) >= total; }));
  consumer.Stop();
  auto events = consumer.events();
  CHECK(static_cast<int64_t>(events.size()) == total);
  CheckDense(events);
  CheckRunOrder(events);
  std::set<std::string> runs;
  for (const auto& e : events) runs.insert(e.run_id());
  CHECK(runs.size() == ids.size());
}

TEST_CASE("an event whose transaction commits late is streamed after everything already seen") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "8"});
  client::Client c(d.address());
  auto first = EnqueueMany(c, 1, "noop");
  REQUIRE(AllFinished(c, first));
  Consumer consumer(d.address(), From(0));

  // A writer draws its event id now and commits only after the daemon has
  // written, numbered and streamed many later events.
  pqxx::connection slow(db.url());
  pqxx::work slow_tx(slow);
  int64_t slow_seq = slow_tx
                         .exec_params(
                             "WITH b AS (SELECT nextval('cueball_event_batches_id_seq') AS id), "
                             "ev AS (INSERT INTO cueball_events "
                             "(run_id, kind, step, attempt, batch_id, ord) "
                             "SELECT $1::uuid, 'run_retried', 'noop', 0, id, 1 FROM b "
                             "RETURNING seq, batch_id), "
                             "bt AS (INSERT INTO cueball_event_batches (id, count, last_seq) "
                             "SELECT batch_id, 1, seq FROM ev) "
                             "SELECT seq FROM ev",
                             first[0])[0][0]
                         .as<int64_t>();
  auto later = EnqueueMany(c, 50, "noop");
  REQUIRE(AllFinished(c, later));
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  const int64_t before = Count(db);
  REQUIRE(WaitFor([&] { return static_cast<int64_t>(consumer.size()) >= before; }));
  int64_t highest_seen = consumer.events().back().position();
  slow_tx.commit();

  REQUIRE(WaitFor([&] { return static_cast<int64_t>(consumer.size()) >= before + 1; }));
  consumer.Stop();
  auto events = consumer.events();
  REQUIRE(static_cast<int64_t>(events.size()) == before + 1);
  CheckDense(events);
  CHECK(events.back().seq() == slow_seq);
  CHECK(events.back().position() == highest_seen + 1);
  CHECK(events.back().kind() == "run_retried");
}

TEST_CASE("a consumer that disconnects and resumes misses nothing, and a replay is identical") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "8"});
  client::Client c(d.address());
  auto ids = EnqueueMany(c, 150, "demo.flaky", R"({"succeed_on":2})");

  std::vector<v1::Event> got;
  int64_t resume = 0;
  {
    Consumer first(d.address(), From(0));
    first.StopAfter(100);
    REQUIRE(WaitFor([&] { return first.done(); }));
    got = first.events();
    REQUIRE(got.size() >= 100);
    resume = got.back().position();
  }
  auto more = EnqueueMany(c, 50, "noop");
  ids.insert(ids.end(), more.begin(), more.end());
  REQUIRE(AllFinished(c, ids));
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  const int64_t total = Count(db);
  {
    Consumer second(d.address(), From(resume));
    REQUIRE(WaitFor([&] {
      return static_cast<int64_t>(second.size()) >= total - static_cast<int64_t>(resume);
    }));
    second.Stop();
    auto rest = second.events();
    got.insert(got.end(), rest.begin(), rest.end());
  }
  REQUIRE(static_cast<int64_t>(got.size()) == total);
  CheckDense(got);

  Consumer replay(d.address(), From(0));
  REQUIRE(WaitFor([&] { return static_cast<int64_t>(replay.size()) >= total; }));
  replay.Stop();
  auto again = replay.events();
  REQUIRE(again.size() == got.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(again[i].seq() == got[i].seq());
    CHECK(again[i].kind() == got[i].kind());
    CHECK(again[i].run_id() == got[i].run_id());
  }
}

TEST_CASE("a stream ends with UNAVAILABLE and its resume position when the daemon stops") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4"});
  client::Client c(d.address());
  REQUIRE(AllFinished(c, EnqueueMany(c, 5, "noop")));
  client::EventWatcher watcher(&c, From(0), /*reconnect=*/false);
  std::atomic<int64_t> received{0};
  grpc::Status st;
  std::thread t([&] {
    st = watcher.Run([&](const v1::WatchEventsResponse& msg) {
      received += msg.events_size();
      return true;
    });
  });
  REQUIRE(WaitFor([&] { return received.load() >= 20; }));
  d.proc().Signal(SIGTERM);
  t.join();
  CHECK(st.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK_THAT(st.error_message(), Catch::Contains("resume after position"));
  CHECK(watcher.resume_after() >= 20);
  REQUIRE(d.proc().Wait(std::chrono::seconds(20)).has_value());
}

TEST_CASE("a stalled reader holds back only its own stream") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "16"});
  client::Client c(d.address());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    auto more = EnqueueMany(c, 1000, "noop", R"({"pad":")" + std::string(400, 'x') + R"("})");
    ids.insert(ids.end(), more.begin(), more.end());
  }
  REQUIRE(AllFinished(c, ids));
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  const int64_t total = Count(db);

  // Open a stream and do not read from it: the daemon can only send what
  // flow control lets through, then it waits.
  grpc::ClientContext stalled_ctx;
  auto stalled = c.stub()->WatchEvents(&stalled_ctx, From(0));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // Everything else still works meanwhile, including another stream.
  auto more = EnqueueMany(c, 10, "noop");
  REQUIRE(AllFinished(c, more));
  Consumer other(d.address(), From(0));
  REQUIRE(WaitFor([&] { return static_cast<int64_t>(other.size()) >= total; }));
  other.Stop();
  // The stalled stream, read at last, delivers everything in order.
  std::vector<v1::Event> late;
  v1::WatchEventsResponse msg;
  while (static_cast<int64_t>(late.size()) < total && stalled->Read(&msg)) {
    for (const auto& e : msg.events()) late.push_back(e);
  }
  stalled_ctx.TryCancel();
  stalled->Finish();
  late.resize(std::min<size_t>(late.size(), total));
  REQUIRE(static_cast<int64_t>(late.size()) == total);
  CheckDense(late);
}

TEST_CASE("bad stream and subscription requests are refused by field and change nothing") {
  TestDatabase db(false);
  Daemon d(db, {"--max-watchers", "1"});
  client::Client c(d.address());
  REQUIRE(AllFinished(c, EnqueueMany(c, 2, "noop")));
  auto first_error = [&](v1::WatchEventsRequest req) {
    grpc::ClientContext ctx;
    auto reader = c.stub()->WatchEvents(&ctx, req);
    v1::WatchEventsResponse msg;
    while (reader->Read(&msg)) {
    }
    return reader->Finish();
  };
  auto expect = [&](v1::WatchEventsRequest req, grpc::StatusCode code, const std::string& field) {
    auto s = first_error(std::move(req));
    CHECK(s.error_code() == code);
    CHECK_THAT(s.error_message(), Catch::StartsWith(field));
  };
  v1::WatchEventsRequest r;
  r.set_run_id("not-a-uuid");
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "run_id");
  r = {};
  r.add_kinds("run_exploded");
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "kinds[0]");
  r = From(-1);
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "after_position");
  r = From(1000000);
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "after_position: 1000000 is beyond the head");
  r = From(0);
  r.set_new_subscription_from_now(true);
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "new_subscription_from_now");
  r = {};
  r.set_subscription("has spaces");
  expect(r, grpc::StatusCode::INVALID_ARGUMENT, "subscription");

  v1::AckEventsRequest ack;
  ack.set_subscription("nobody");
  ack.set_position(1);
  v1::AckEventsResponse ack_resp;
  CHECK(c.AckEvents(ack, &ack_resp).error_code() == grpc::StatusCode::NOT_FOUND);
  ack.set_position(-5);
  CHECK(c.AckEvents(ack, &ack_resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(c.DeleteSubscription("").error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListSubscriptionsResponse subs;
  REQUIRE(c.ListSubscriptions(&subs).ok());
  CHECK(subs.subscriptions_size() == 0);

  // --max-watchers 1: a second concurrent stream is refused.
  Consumer one(d.address(), From(0));
  REQUIRE(WaitFor([&] { return one.size() >= 1; }));
  auto s = first_error(From(0));
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(s.error_message(), Catch::Contains("--max-watchers"));
}

TEST_CASE("cueball watch follows a durable subscription across restarts of the consumer") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4"});
  client::Client c(d.address());
  REQUIRE(AllFinished(c, EnqueueMany(c, 5, "noop")));  // 20 events

  auto first = d.Cli({"watch", "--subscription", "audit", "--count", "7", "--json"});
  REQUIRE(first.exit_code == 0);
  std::vector<int64_t> positions;
  std::istringstream lines(first.out);
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line);
    positions.push_back(j["position"].get<int64_t>());
    CHECK(j["workflow_type"] == "noop");
    CHECK(j["data"].is_object());
  }
  REQUIRE(positions.size() == 7);
  CHECK(positions.front() == 1);
  CHECK(positions.back() == 7);
  // A new consumer process resumes after the acknowledged position.
  auto second = d.Cli({"watch", "--subscription", "audit", "--no-follow", "--json"});
  REQUIRE(second.exit_code == 0);
  std::istringstream rest(second.out);
  std::string line;
  REQUIRE(std::getline(rest, line));
  CHECK(nlohmann::json::parse(line)["position"] == 8);
  auto listed = d.Cli({"subscriptions", "--json"});
  REQUIRE(listed.exit_code == 0);
  auto j = nlohmann::json::parse(listed.out);
  CHECK(j["subscriptions"][0]["name"] == "audit");
  CHECK(j["subscriptions"][0]["position"] == 20);
  CHECK(j["subscriptions"][0]["lag"] == 0);
  // Filters and the plain cursor.
  auto kinds = d.Cli({"watch", "--from", "0", "--kind", "run_succeeded", "--no-follow", "--json"});
  REQUIRE(kinds.exit_code == 0);
  CHECK(std::count(kinds.out.begin(), kinds.out.end(), '\n') == 5);
  auto bad = d.Cli({"watch", "--kind", "nonsense"});
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("kinds[0]: unknown event kind 'nonsense'"));
  auto negative = d.Cli({"watch", "--from", "-5", "--no-follow"});
  CHECK(negative.exit_code != 0);
  CHECK_THAT(negative.err, Catch::Contains("--from"));
  REQUIRE(d.Cli({"subscriptions", "delete", "audit"}).exit_code == 0);
}

TEST_CASE("retention prunes finished runs to summaries, after subscriptions have acknowledged") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "4", "--retain-succeeded", "1s", "--retention-interval", "200ms"});
  client::Client c(d.address());
  // A subscription at the beginning holds everything back until it acks.
  {
    v1::WatchEventsRequest req;
    req.set_subscription("reader");
    Consumer opener(d.address(), req);
    REQUIRE(WaitFor([&] {
      v1::ListSubscriptionsResponse subs;
      return c.ListSubscriptions(&subs).ok() && subs.subscriptions_size() == 1;
    }));
  }
  auto done = EnqueueMany(c, 3, "noop");
  REQUIRE(AllFinished(c, done));
  v1::EnqueueRequest later;
  later.set_workflow_type("noop");
  later.mutable_delay()->set_seconds(3600);
  v1::EnqueueResponse later_resp;
  REQUIRE(c.Enqueue(later, &later_resp).ok());

  auto pruned = [&](const std::string& id) {
    v1::GetRequest req;
    req.set_id(id);
    v1::GetResponse resp;
    return c.Get(req, &resp).ok() && resp.run().pruned();
  };
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK_FALSE(pruned(done[0]));  // held: not acknowledged
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  int64_t head = std::stoll(db.Scalar("SELECT position FROM cueball_event_head"));
  v1::AckEventsRequest ack;
  ack.set_subscription("reader");
  ack.set_position(head);
  v1::AckEventsResponse ack_resp;
  REQUIRE(c.AckEvents(ack, &ack_resp).ok());
  REQUIRE(WaitFor([&] { return pruned(done[0]) && pruned(done[1]) && pruned(done[2]); }));

  v1::GetRequest get;
  get.set_id(done[0]);
  get.set_include_history(true);
  v1::GetResponse got;
  REQUIRE(c.Get(get, &got).ok());
  CHECK(got.run().status() == v1::RUN_STATUS_SUCCEEDED);
  CHECK(got.run().history_size() == 0);
  CHECK(got.run().has_finished_at());
  CHECK(Count(db, "run_id = '" + done[0] + "'") == 0);
  // The unfinished run is never pruned.
  get.set_id(later_resp.run().id());
  REQUIRE(c.Get(get, &got).ok());
  CHECK_FALSE(got.run().pruned());
  auto shown = d.Cli({"get", done[0]});
  CHECK_THAT(shown.out, Catch::Contains("pruned"));
}

TEST_CASE(
    "the status_counts example back-fills, resumes from its saved position and follows live") {
  TestDatabase db(false);
  Daemon d(db, {"--workers", "8"});
  client::Client c(d.address());
  auto ids = EnqueueMany(c, 30, "noop");
  auto failing = EnqueueMany(c, 5, "demo.flaky", R"({"permanent":true})");
  REQUIRE(AllFinished(c, ids));
  REQUIRE(AllFinished(c, failing));
  v1::EnqueueRequest later;
  later.set_workflow_type("noop");
  later.mutable_delay()->set_seconds(3600);
  v1::EnqueueResponse later_resp;
  REQUIRE(c.Enqueue(later, &later_resp).ok());
  // A back-fill reads what is numbered; the last events may still be waiting.
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));

  char dir_template[] = "/tmp/cueball-counts-XXXXXX";
  REQUIRE(mkdtemp(dir_template));
  const std::string state = std::string(dir_template) + "/counts.json";
  const std::string bin = BuiltBinary("status_counts");
  auto last_line = [](const std::string& out) {
    auto end = out.find_last_not_of('\n');
    auto start = out.rfind('\n', end);
    return nlohmann::json::parse(out.substr(start == std::string::npos ? 0 : start + 1));
  };
  // Back-fill from history.
  auto first = testing::Run({bin, "--server", d.address(), "--state", state, "--no-follow"});
  REQUIRE(first.exit_code == 0);
  auto counts = last_line(first.out)["counts"];
  CHECK(counts["succeeded"] == 30);
  CHECK(counts["failed"] == 5);
  CHECK(counts["enqueued"] == 1);

  // More work, then a second process resumes from the saved position.
  REQUIRE(AllFinished(c, EnqueueMany(c, 10, "noop")));
  v1::CancelRequest cancel;
  cancel.set_id(later_resp.run().id());
  v1::CancelResponse cancel_resp;
  REQUIRE(c.Cancel(cancel, &cancel_resp).ok());
  REQUIRE(WaitFor([&] { return AllNumbered(db); }));
  auto second = testing::Run({bin, "--server", d.address(), "--state", state, "--no-follow"});
  REQUIRE(second.exit_code == 0);
  auto j = last_line(second.out);
  CHECK(j["counts"]["succeeded"] == 40);
  CHECK(j["counts"]["failed"] == 5);
  CHECK(j["counts"]["canceled"] == 1);
  CHECK_FALSE(j["counts"].contains("enqueued"));
  CHECK(j["position"] == std::stoll(db.Scalar("SELECT position FROM cueball_event_head")));

  // Live: a following consumer sees new runs as they finish.
  Process live({bin, "--server", d.address(), "--state", state});
  REQUIRE(AllFinished(c, EnqueueMany(c, 7, "noop")));
  REQUIRE(WaitFor([&] {
    auto out = live.Stdout();
    return out.find("\"succeeded\":47") != std::string::npos;
  }));
  live.Signal(SIGTERM);
  live.Wait(std::chrono::seconds(10));
  std::filesystem::remove_all(dir_template);
}
