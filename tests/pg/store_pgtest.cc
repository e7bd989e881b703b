// PgRunStore on real PostgreSQL: idempotent enqueue under concurrency,
// all-or-none batches, SKIP LOCKED claims, lease fencing, cancel, listing.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>
#include <tuple>

#include "server/store/postgres/pg_run_store.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::store;
using cueball::testing::TestDatabase;

namespace {

NewRun MakeRun(const std::string& type = "noop", int priority = 0) {
  NewRun r;
  r.id = RunId::NewV7().str();
  r.workflow_type = type;
  r.first_step = "s1";
  r.priority = priority;
  r.input = R"({"n":1})";
  return r;
}

const std::vector<std::string> kQ{"default"};
const std::vector<std::string> kT{"noop", "other"};

// Claims `batch` at a time until a claim comes back short; appends the ids
// in the order claimed. Returns what the short claim said of the next run.
std::optional<Millis> ClaimUntilShort(pg::PgRunStore& s, const std::vector<std::string>& queues,
                                      int batch, std::vector<std::string>* ids) {
  for (;;) {
    std::optional<Millis> next_due;
    auto c = s.Claim("node-a", queues, kT, batch, Millis(60000), &next_due);
    REQUIRE(c.ok());
    for (const auto& r : *c) ids->push_back(r.run.id);
    if (static_cast<int>(c->size()) < batch) return next_due;
  }
}

// Enqueues the run and claims it for node-a.
ClaimedRun EnqueueAndClaim(pg::PgRunStore& s, const NewRun& run) {
  REQUIRE(s.Enqueue({run}).ok());
  auto claimed = s.Claim("node-a", kQ, kT, 1, Millis(60000));
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  return (*claimed)[0];
}

// The claimed attempt's step s1 succeeds, and its next step s2 (ready now)
// is to stay with the daemon.
Outcome NextStepKept(const ClaimedRun& c) {
  Outcome next;
  next.run_id = c.run.id;
  next.lease_id = c.lease_id;
  next.status = RunStatus::kEnqueued;
  next.step_index = 1;
  next.step_name = "s2";
  next.attempt = 0;
  next.state = R"({"k":1})";
  next.run_at = Now();
  next.events = {{"step_succeeded", "s1", 1, R"({"result":null})"}};
  next.start = c.start();
  next.continue_lease = Millis(60000);
  return next;
}

}  // namespace

TEST_CASE("enqueue writes the run and its enqueued event in one go") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto r = s.Enqueue({MakeRun()});
  REQUIRE(r.ok());
  REQUIRE(r->size() == 1);
  CHECK((*r)[0].created);
  auto got = s.Get((*r)[0].run.id, true);
  REQUIRE(got.ok());
  CHECK(got->status == RunStatus::kEnqueued);
  CHECK(got->input == R"({"n": 1})");
  REQUIRE(got->history.size() == 1);
  CHECK(got->history[0].kind == "enqueued");
}

TEST_CASE("the same idempotency key from many concurrent clients makes exactly one run") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 16);
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> created{0}, errors{0};
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 5; ++k) {
        auto run = MakeRun();
        run.idempotency_key = "order-42";
        auto r = s.Enqueue({run});
        if (!r.ok()) {
          ++errors;
          continue;
        }
        if ((*r)[0].created) ++created;
        std::lock_guard<std::mutex> lock(mu);
        ids.insert((*r)[0].run.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(errors == 0);
  CHECK(created == 1);
  CHECK(ids.size() == 1);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "1");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'enqueued'") == "1");
}

TEST_CASE("a batch is all or none: a key owned by another type rejects the whole batch") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto first = MakeRun("other");
  first.idempotency_key = "k";
  REQUIRE(s.Enqueue({first}).ok());
  auto a = MakeRun(), b = MakeRun();
  b.idempotency_key = "k";
  b.field_prefix = "runs[1].";
  auto r = s.Enqueue({a, b});
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kAlreadyExists);
  CHECK_THAT(r.status().message(), Catch::StartsWith("runs[1].idempotency_key"));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "1");
}

TEST_CASE("claims follow priority, then run_at, and skip runs not yet due") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto low = MakeRun("noop", 5), high = MakeRun("noop", -5), later = MakeRun("noop", -10);
  later.run_at = Now() + std::chrono::hours(1);
  REQUIRE(s.Enqueue({low, high, later}).ok());
  std::optional<Millis> next;
  auto c = s.Claim("node-a", kQ, kT, 10, Millis(60000), &next);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  CHECK((*c)[0].run.id == high.id);
  CHECK((*c)[1].run.id == low.id);
  CHECK((*c)[0].run.status == RunStatus::kRunning);
  CHECK((*c)[0].run.attempt == 1);
  // The claim came back short: the next run is the one held for an hour.
  REQUIRE(next.has_value());
  CHECK(*next > Millis(3500 * 1000));
  CHECK(*next <= Millis(3600 * 1000));
}

TEST_CASE("a short claim says when to look again: never, now, or when a held run is due") {
  // Nothing left lets the claim loop sleep until a notification; "now" (a
  // due run locked by another claimer) makes it claim again within
  // milliseconds; a run held for later, when it is due.
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  std::optional<Millis> next = Millis(1);
  auto c = s.Claim("node-a", kQ, kT, 10, Millis(60000), &next);
  REQUIRE(c.ok());
  CHECK(c->empty());
  CHECK_FALSE(next.has_value());

  auto run = MakeRun();
  REQUIRE(s.Enqueue({run}).ok());
  {
    pqxx::connection other(db.url());
    pqxx::work tx(other);
    tx.exec("SELECT id FROM cueball_runs FOR UPDATE");  // another claimer holds it
    c = s.Claim("node-a", kQ, kT, 10, Millis(60000), &next);
    REQUIRE(c.ok());
    CHECK(c->empty());
    REQUIRE(next.has_value());
    CHECK(*next == Millis(0));
  }
  c = s.Claim("node-a", kQ, kT, 10, Millis(60000), &next);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 1);
  CHECK_FALSE(next.has_value());  // it took the only run

  // Two due, one held: a full claim says nothing, the short one after it
  // points at the held run.
  auto a = MakeRun(), b = MakeRun(), held = MakeRun();
  held.run_at = Now() + std::chrono::seconds(90);
  REQUIRE(s.Enqueue({a, b, held}).ok());
  next = Millis(1);
  c = s.Claim("node-a", kQ, kT, 2, Millis(60000), &next);
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  CHECK_FALSE(next.has_value());
  c = s.Claim("node-a", kQ, kT, 2, Millis(60000), &next);
  REQUIRE(c.ok());
  CHECK(c->empty());
  REQUIRE(next.has_value());
  CHECK(*next > Millis(80 * 1000));
  CHECK(*next <= Millis(90 * 1000));
  // A run of a type this claimer does not run is not its next run.
  auto foreign = MakeRun("demo.flaky");
  REQUIRE(s.Enqueue({foreign}).ok());
  c = s.Claim("node-a", kQ, kT, 2, Millis(60000), &next);
  REQUIRE(c.ok());
  CHECK(c->empty());
  REQUIRE(next.has_value());
  CHECK(*next > Millis(80 * 1000));
}

TEST_CASE("claims go through priorities and queues in order, past runs held for later") {
  // Each priority's scan ends at its first run not due yet; full claims
  // continue from their key into the next priority and the other queue.
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  const auto now = Now();
  std::vector<NewRun> runs;
  std::vector<std::tuple<int, TimePoint, std::string>> due;
  auto add = [&](const std::string& queue, int priority, int seconds_ago) {
    NewRun r = MakeRun("noop", priority);
    r.queue = queue;
    r.run_at = now - std::chrono::seconds(seconds_ago);
    if (seconds_ago > 0) due.emplace_back(priority, *r.run_at, r.id);
    runs.push_back(r);
  };
  for (int i = 0; i < 3; ++i) add("default", 0, 30 - i);
  for (int i = 0; i < 20; ++i) add("default", 0, -3600 - i);  // held for later
  for (int i = 0; i < 3; ++i) add("default", 3, 20 - 2 * i);
  add("default", 3, -3600);
  for (int i = 0; i < 2; ++i) add("emails", 3, 19 - 2 * i);
  for (int i = 0; i < 20; ++i) add("emails", 3, -60 - i);
  for (int i = 0; i < 2; ++i) add("default", 7, 40 - i);
  REQUIRE(s.Enqueue(runs).ok());
  std::sort(due.begin(), due.end());
  std::vector<std::string> want, got;
  for (const auto& d : due) want.push_back(std::get<2>(d));
  const std::vector<std::string> queues{"default", "emails"};
  auto next = ClaimUntilShort(s, queues, 4, &got);
  CHECK(got == want);
  REQUIRE(next.has_value());  // the first run held for later: emails, 60 s
  CHECK(*next > Millis(50 * 1000));
  CHECK(*next <= Millis(60 * 1000));
}

TEST_CASE("full claims start after the last run claimed, yet every run is claimed once") {
  // Full claims let the next claim start at the last key claimed (skipping
  // claimed runs' index entries); a run that sorts before that key must
  // still be found, at the latest by the claim that comes back short.
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  std::vector<NewRun> backlog;
  for (int i = 0; i < 10; ++i) backlog.push_back(MakeRun("noop", 5));
  REQUIRE(s.Enqueue(backlog).ok());
  std::vector<std::string> order;
  auto first = s.Claim("node-a", kQ, kT, 4, Millis(60000));
  REQUIRE(first.ok());
  REQUIRE(first->size() == 4);
  for (const auto& c : *first) order.push_back(c.run.id);
  // Sorts before every run claimed so far.
  auto urgent = MakeRun("noop", 0);
  REQUIRE(s.Enqueue({urgent}).ok());
  ClaimUntilShort(s, kQ, 4, &order);
  std::set<std::string> once(order.begin(), order.end());
  CHECK(once.size() == order.size());
  CHECK(order.size() == 11);
  CHECK(once.count(urgent.id) == 1);
  // The backlog itself went in key order (same priority and run_at: by id).
  std::vector<std::string> backlog_order, by_id;
  for (const auto& id : order) {
    if (id != urgent.id) backlog_order.push_back(id);
  }
  for (const auto& r : backlog) by_id.push_back(r.id);
  std::sort(by_id.begin(), by_id.end());
  CHECK(backlog_order == by_id);
  auto after = s.Claim("node-a", kQ, kT, 4, Millis(60000));
  REQUIRE(after.ok());
  CHECK(after->empty());
}

TEST_CASE("a claim for other types does not start at the key of the last claim") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  std::vector<NewRun> runs;
  for (int i = 0; i < 4; ++i) runs.push_back(MakeRun("noop", 5));
  std::set<std::string> urgent;
  for (int i = 0; i < 3; ++i) {
    runs.push_back(MakeRun("other", 0));
    urgent.insert(runs.back().id);
  }
  for (int i = 0; i < 3; ++i) runs.push_back(MakeRun("other", 9));
  REQUIRE(s.Enqueue(runs).ok());
  // Full: the next claim for noop runs may start after these.
  auto noop = s.Claim("node-a", kQ, {"noop"}, 3, Millis(60000));
  REQUIRE(noop.ok());
  REQUIRE(noop->size() == 3);
  // Sorts first, though its runs come before that key.
  auto other = s.Claim("node-a", kQ, {"other"}, 3, Millis(60000));
  REQUIRE(other.ok());
  REQUIRE(other->size() == 3);
  for (const auto& c : *other) CHECK(urgent.count(c.run.id) == 1);
}

TEST_CASE("claims only take the queues and types asked for") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto other_queue = MakeRun();
  other_queue.queue = "emails";
  auto unknown_type = MakeRun("not-mine");
  REQUIRE(s.Enqueue({other_queue, unknown_type}).ok());
  auto c = s.Claim("node-a", kQ, kT, 10, Millis(60000));
  REQUIRE(c.ok());
  CHECK(c->empty());
  auto e = s.Claim("node-a", {"emails"}, kT, 10, Millis(60000));
  REQUIRE(e.ok());
  CHECK(e->size() == 1);
}

TEST_CASE("concurrent claimers never receive the same run") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 8);
  std::vector<NewRun> batch;
  for (int i = 0; i < 400; ++i) batch.push_back(MakeRun());
  REQUIRE(s.Enqueue(batch).ok());
  std::mutex mu;
  std::multiset<std::string> claimed;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      while (true) {
        auto c = s.Claim("node-" + std::to_string(t), kQ, kT, 7, Millis(60000));
        if (!c.ok() || c->empty()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (auto& r : *c) claimed.insert(r.run.id);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(claimed.size() == 400);
  CHECK(std::set<std::string>(claimed.begin(), claimed.end()).size() == 400);
}

TEST_CASE("a completion from a stale lease is refused and the current one is accepted") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto run = MakeRun();
  REQUIRE(s.Enqueue({run}).ok());
  auto first = s.Claim("node-a", kQ, kT, 1, Millis(60000));
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  const std::string stale_lease = (*first)[0].lease_id;
  // Simulate a rescue: the run goes back to the queue and another node claims it.
  db.Exec(
      "UPDATE cueball_runs SET status = 'enqueued', lease_id = NULL, lease_owner = NULL, "
      "lease_expires_at = NULL");
  auto second = s.Claim("node-b", kQ, kT, 1, Millis(60000));
  REQUIRE(second->size() == 1);
  CHECK((*second)[0].run.attempt == 2);

  Outcome done;
  done.run_id = run.id;
  done.status = RunStatus::kSucceeded;
  done.step_name = "s1";
  done.result = "{\"by\":\"stale\"}";
  done.events = {{"run_succeeded", "s1", 1, "{}"}};
  done.lease_id = stale_lease;
  auto refused = s.RecordOutcomes({done});
  REQUIRE(refused.ok());
  CHECK((*refused)[0] == false);
  CHECK(db.Scalar("SELECT status FROM cueball_runs") == "running");

  done.lease_id = (*second)[0].lease_id;
  done.result = "{\"by\":\"current\"}";
  auto accepted = s.RecordOutcomes({done});
  REQUIRE(accepted.ok());
  CHECK((*accepted)[0] == true);
  CHECK(db.Scalar("SELECT status FROM cueball_runs") == "succeeded");
  CHECK(db.Scalar("SELECT result->>'by' FROM cueball_runs") == "current");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'run_succeeded'") == "1");
  // A second delivery of the same completion is refused too: recorded once.
  auto again = s.RecordOutcomes({done});
  CHECK((*again)[0] == false);
}

TEST_CASE("a next step kept on its daemon is claimed by the record: a new lease, counted") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto run = MakeRun();
  const ClaimedRun first = EnqueueAndClaim(s, run);
  const Outcome next = NextStepKept(first);
  Recorded kept;
  auto rec = s.RecordOutcomes({next}, &kept);
  REQUIRE(rec.ok());
  CHECK((*rec)[0]);
  REQUIRE(kept.next.size() == 1);
  REQUIRE(kept.next[0].has_value());
  const NextAttempt n = *kept.next[0];
  CHECK(n.lease_id != first.lease_id);
  // Running for its next step under the new lease, held by the same daemon,
  // its attempt counted as a claim counts it; nobody else can claim it.
  CHECK(db.Scalar("SELECT status || ' ' || step_index || ' ' || step_name || ' ' || attempt || "
                  "' ' || lease_owner || ' ' || lease_id || ' ' || (state->>'k') "
                  "FROM cueball_runs") == "running 1 s2 1 node-a " + n.lease_id + " 1");
  CHECK(db.Scalar("SELECT round(date_part('epoch', updated_at) * 1000000)::bigint "
                  "FROM cueball_runs") == std::to_string(ToMicros(n.claimed_at)));
  CHECK(n.lease_expires_at - n.claimed_at == std::chrono::milliseconds(60000));
  CHECK(s.Claim("node-b", kQ, kT, 10, Millis(60000))->empty());
  // The old lease is fenced off; the new one is live.
  Recorded again;
  auto stale = s.RecordOutcomes({next}, &again);
  REQUIRE(stale.ok());
  CHECK_FALSE((*stale)[0]);
  CHECK_FALSE(again.next.at(0).has_value());
  auto lost = s.ExtendLeases({{run.id, first.lease_id}}, Millis(60000));
  REQUIRE(lost.ok());
  CHECK(*lost == std::vector<std::string>{run.id});
  lost = s.ExtendLeases({{run.id, n.lease_id}}, Millis(60000));
  REQUIRE(lost.ok());
  CHECK(lost->empty());

  // The kept attempt ends like a claimed one, its start the record's time.
  Outcome done;
  done.run_id = run.id;
  done.lease_id = n.lease_id;
  done.status = RunStatus::kSucceeded;
  done.step_index = 1;
  done.step_name = "s2";
  done.attempt = 1;
  done.result = "2";
  done.events = {{"step_succeeded", "s2", 1, R"({"result":2})"},
                 {"run_succeeded", "s2", 1, R"({"result":2})"}};
  done.start = AttemptStart{n.claimed_at, "node-a"};
  auto fin = s.RecordOutcomes({done}, &again);
  REQUIRE(fin.ok());
  CHECK((*fin)[0]);
  CHECK_FALSE(again.next.at(0).has_value());
  auto got = s.Get(run.id, true);
  REQUIRE(got.ok());
  CHECK(got->status == RunStatus::kSucceeded);
  std::vector<std::string> history;
  for (const auto& e : got->history) {
    history.push_back(e.kind + " " + e.step + " " + std::to_string(e.attempt));
  }
  CHECK(history == std::vector<std::string>{"enqueued s1 0", "step_started s1 1",
                                            "step_succeeded s1 1", "step_started s2 1",
                                            "step_succeeded s2 1", "run_succeeded s2 1"});
  CHECK(ToMicros(got->history[3].created_at) == ToMicros(n.claimed_at));
}

TEST_CASE("a next step goes through the queue when the caller does not take it") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto run = MakeRun();
  const Outcome next = NextStepKept(EnqueueAndClaim(s, run));
  // Without `next` the caller could not learn the new lease: none is made.
  auto rec = s.RecordOutcomes({next});
  REQUIRE(rec.ok());
  CHECK((*rec)[0]);
  CHECK(db.Scalar("SELECT status || ' ' || attempt || ' ' || (lease_id IS NULL) "
                  "FROM cueball_runs") == "enqueued 0 true");
  auto again = s.Claim("node-b", kQ, kT, 1, Millis(60000));
  REQUIRE(again->size() == 1);
  CHECK((*again)[0].run.step_name == "s2");
  CHECK((*again)[0].run.attempt == 1);
}

TEST_CASE("a record returns the runs it finished that were asked for, as committed") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  std::vector<ClaimedRun> claimed;
  for (int i = 0; i < 4; ++i) claimed.push_back(EnqueueAndClaim(s, MakeRun()));
  auto finish = [](const ClaimedRun& c, RunStatus status) {
    Outcome o;
    o.run_id = c.run.id;
    o.lease_id = c.lease_id;
    o.status = status;
    o.step_name = "s1";
    o.attempt = 1;
    if (status == RunStatus::kSucceeded) o.result = R"({"ok":true})";
    if (status == RunStatus::kFailed) o.error = "boom";
    o.events = {{status == RunStatus::kSucceeded ? "run_succeeded" : "run_failed", "s1", 1, "{}"}};
    o.start = c.start();
    o.return_run = true;
    return o;
  };
  std::vector<Outcome> outcomes{
      finish(claimed[0], RunStatus::kSucceeded), finish(claimed[1], RunStatus::kFailed),
      finish(claimed[2], RunStatus::kSucceeded), NextStepKept(claimed[3])};
  outcomes[2].return_run = false;  // not asked for
  outcomes[3].continue_lease.reset();
  outcomes[3].return_run = true;  // not finished: nothing to return
  Recorded recorded;
  auto rec = s.RecordOutcomes(outcomes, &recorded);
  REQUIRE(rec.ok());
  CHECK(*rec == std::vector<bool>{true, true, true, true});
  REQUIRE(recorded.runs.size() == 2);
  std::map<std::string, Run> back;
  for (auto& r : recorded.runs) back[r.id] = r;
  for (int i : {0, 1}) {
    REQUIRE(back.count(claimed[i].run.id));
    const Run& got = back[claimed[i].run.id];
    auto stored = s.Get(claimed[i].run.id, false);
    REQUIRE(stored.ok());
    // Every column as a read finds it.
    CHECK(got.status == stored->status);
    CHECK(got.result == stored->result);
    CHECK(got.error == stored->error);
    CHECK(got.input == stored->input);
    CHECK(got.state == stored->state);
    CHECK(got.attempt == stored->attempt);
    CHECK(got.step_name == stored->step_name);
    REQUIRE(got.finished_at.has_value());
    CHECK(ToMicros(*got.finished_at) == ToMicros(*stored->finished_at));
    CHECK(ToMicros(got.updated_at) == ToMicros(stored->updated_at));
    CHECK(ToMicros(got.created_at) == ToMicros(stored->created_at));
  }
  CHECK(back[claimed[0].run.id].status == RunStatus::kSucceeded);
  CHECK(back[claimed[1].run.id].error == std::optional<std::string>("boom"));

  // A refused (late) outcome returns nothing; without `recorded`, nothing is asked.
  Recorded late;
  auto again = s.RecordOutcomes({finish(claimed[0], RunStatus::kSucceeded)}, &late);
  REQUIRE(again.ok());
  CHECK_FALSE((*again)[0]);
  CHECK(late.runs.empty());
}

TEST_CASE("a recorded outcome's text comes back as written, whatever characters it holds") {
  // The record statement reads outcomes as arrays (PgArrayWriter, binary):
  // quotes, backslashes, braces, commas, the word NULL and non-UTF-8 bytes
  // must all survive.
  TestDatabase db;
  pg::PgRunStore s(db.url(), 2);
  std::vector<NewRun> batch{MakeRun(), MakeRun()};
  REQUIRE(s.Enqueue(batch).ok());
  auto c = s.Claim("node-a", kQ, kT, 2, Millis(60000));
  REQUIRE(c.ok());
  REQUIRE(c->size() == 2);
  const std::string nasty = "NULL \"quoted\" back\\slash {a,b} ,; caf\xC3\xA9";
  std::vector<Outcome> outs;
  for (const auto& claimed : *c) {
    Outcome o;
    o.run_id = claimed.run.id;
    o.lease_id = claimed.lease_id;
    o.step_name = "s1";
    o.attempt = 1;
    if (claimed.run.id == batch[0].id) {
      o.status = RunStatus::kFailed;
      o.error = nasty + " \xFF";
      o.events = {{"run_failed", "s1", 1, R"({"error":"x \"y\" \\z"})"}};
    } else {
      o.status = RunStatus::kSucceeded;
      o.result = R"({"text":"NULL \"q\" {a,b} \\ caf\u00e9"})";
      o.state = R"({"k":"v,w"})";
      o.events = {{"run_succeeded", "s1", 1, "{}"}};
    }
    outs.push_back(o);
  }
  auto rec = s.RecordOutcomes(outs);
  REQUIRE(rec.ok());
  CHECK((*rec)[0]);
  CHECK((*rec)[1]);
  auto failed = s.Get(batch[0].id, true);
  REQUIRE(failed.ok());
  CHECK(failed->status == RunStatus::kFailed);
  CHECK(failed->error == nasty + " \xEF\xBF\xBD");
  REQUIRE_FALSE(failed->history.empty());
  CHECK(nlohmann::json::parse(failed->history.back().data)["error"] == "x \"y\" \\z");
  auto done = s.Get(batch[1].id, false);
  REQUIRE(done.ok());
  CHECK(nlohmann::json::parse(*done->result)["text"] == "NULL \"q\" {a,b} \\ caf\xC3\xA9");
  CHECK(nlohmann::json::parse(done->state)["k"] == "v,w");
}

TEST_CASE("HasWaiters tells whether any run waits for one of the given runs") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 2);
  const std::string waiter = RunId::NewV7().str(), target = RunId::NewV7().str(),
                    other = RunId::NewV7().str();
  auto none = s.HasWaiters({target, other});
  REQUIRE(none.ok());
  CHECK_FALSE(*none);
  db.Exec("INSERT INTO cueball_run_waits (waiter_id, target_id) VALUES ('" + waiter + "', '" +
          target + "')");
  CHECK(*s.HasWaiters({other, target}));
  CHECK_FALSE(*s.HasWaiters({other}));
  CHECK_FALSE(*s.HasWaiters({}));
}

TEST_CASE("cancel ends a live run once, a finished or unknown run is an error") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  auto run = MakeRun();
  REQUIRE(s.Enqueue({run}).ok());
  auto c = s.Cancel(run.id, "no longer needed");
  REQUIRE(c.ok());
  CHECK(c->status == RunStatus::kCanceled);
  CHECK(c->finished_at.has_value());
  auto again = s.Cancel(run.id, "again");
  CHECK(again.status().code() == StatusCode::kFailedPrecondition);
  auto missing = s.Cancel(RunId::NewV7().str(), "x");
  CHECK(missing.status().code() == StatusCode::kNotFound);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log WHERE kind = 'run_canceled'") == "1");
}

TEST_CASE("list filters by type, status and queue and pages newest first") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  std::vector<NewRun> batch;
  for (int i = 0; i < 25; ++i) batch.push_back(MakeRun(i % 5 == 0 ? "other" : "noop"));
  REQUIRE(s.Enqueue(batch).ok());
  REQUIRE(s.Cancel(batch[1].id, "x").ok());

  RunFilter f;
  f.workflow_type = "noop";
  f.limit = 7;
  std::vector<std::string> seen;
  while (true) {
    auto page = s.List(f);
    REQUIRE(page.ok());
    for (auto& r : *page) seen.push_back(r.id);
    if (static_cast<int>(page->size()) < f.limit) break;
    f.before_id = page->back().id;
  }
  CHECK(seen.size() == 20);
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));

  RunFilter canceled;
  canceled.statuses = {RunStatus::kCanceled};
  auto c = s.List(canceled);
  REQUIRE(c->size() == 1);
  CHECK((*c)[0].id == batch[1].id);

  RunFilter by_queue;
  by_queue.queue = "nope";
  CHECK(s.List(by_queue)->empty());
}

TEST_CASE("list finds runs in every status, any mix of them, with or without a type") {
  // Enqueued and running runs are not in the list indexes (migration 0008):
  // List asks for them in branches of their own and merges the branches.
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  const std::vector<RunStatus> all{RunStatus::kEnqueued, RunStatus::kRunning,
                                   RunStatus::kWaiting,  RunStatus::kSucceeded,
                                   RunStatus::kFailed,   RunStatus::kCanceled};
  std::vector<NewRun> batch;
  std::vector<std::pair<std::string, RunStatus>> kind;  // type and status of batch[i]
  std::map<RunStatus, std::vector<std::string>> ids_in;
  for (int i = 0; i < 36; ++i) {
    batch.push_back(MakeRun(i % 2 == 0 ? "noop" : "other"));
    kind.emplace_back(batch.back().workflow_type, all[(i / 2) % 6]);
    ids_in[kind.back().second].push_back("'" + batch.back().id + "'");
  }
  REQUIRE(s.Enqueue(batch).ok());
  auto in = [&](RunStatus st) {
    std::string list;
    for (const auto& id : ids_in[st]) list += (list.empty() ? "" : ", ") + id;
    return " WHERE id IN (" + list + ")";
  };
  db.Exec(
      "UPDATE cueball_runs SET status = 'running', lease_id = gen_random_uuid(), lease_owner = "
      "'node-a', lease_expires_at = now() + interval '1 minute'" +
      in(RunStatus::kRunning));
  db.Exec(R"(UPDATE cueball_runs SET status = 'waiting', wait = '{"for": "timer"}')" +
          in(RunStatus::kWaiting));
  for (RunStatus st : {RunStatus::kSucceeded, RunStatus::kFailed, RunStatus::kCanceled}) {
    db.Exec(std::string("UPDATE cueball_runs SET status = '") + RunStatusName(st) +
            "', finished_at = now()" + in(st));
  }

  const std::vector<std::vector<RunStatus>> status_sets{
      {},
      {RunStatus::kEnqueued},
      {RunStatus::kRunning},
      {RunStatus::kSucceeded},
      {RunStatus::kWaiting, RunStatus::kFailed},
      {RunStatus::kFailed, RunStatus::kEnqueued},
      {RunStatus::kRunning, RunStatus::kRunning, RunStatus::kCanceled},
      all};
  for (std::optional<std::string> type :
       {std::optional<std::string>(), std::optional<std::string>("noop")}) {
    for (const auto& statuses : status_sets) {
      std::vector<std::string> want;
      for (size_t i = 0; i < batch.size(); ++i) {
        bool status_ok = statuses.empty() || std::find(statuses.begin(), statuses.end(),
                                                       kind[i].second) != statuses.end();
        if (status_ok && (!type || *type == kind[i].first)) want.push_back(batch[i].id);
      }
      std::sort(want.rbegin(), want.rend());  // newest first

      RunFilter f;
      f.workflow_type = type;
      f.statuses = statuses;
      f.limit = 4;
      std::vector<std::string> seen;
      for (int pages = 0; pages < 20; ++pages) {
        auto page = s.List(f);
        REQUIRE(page.ok());
        for (auto& r : *page) seen.push_back(r.id);
        if (static_cast<int>(page->size()) < f.limit) break;
        f.before_id = page->back().id;
      }
      INFO("type " << type.value_or("(any)") << ", " << statuses.size() << " statuses");
      CHECK(seen == want);
    }
  }
}

TEST_CASE("heartbeats extend live leases and report the ones that were lost") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 4);
  REQUIRE(s.Enqueue({MakeRun(), MakeRun()}).ok());
  auto c = s.Claim("node-a", kQ, kT, 10, Millis(2000));
  REQUIRE(c->size() == 2);
  // One claim gives its runs one lease id; a fence is the pair.
  CHECK((*c)[0].lease_id == (*c)[1].lease_id);
  std::vector<AttemptRef> leases = {{(*c)[0].run.id, (*c)[0].lease_id},
                                    {(*c)[1].run.id, (*c)[1].lease_id}};
  auto lost = s.ExtendLeases(leases, Millis(600000));
  REQUIRE(lost.ok());
  CHECK(lost->empty());
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs WHERE lease_expires_at - now() > "
                  "interval '500 seconds'") == "2");
  // One run is canceled meanwhile: its lease is reported lost, and the
  // other's, the same lease id, is still extended.
  REQUIRE(s.Cancel((*c)[1].run.id, "x").ok());
  db.Exec("UPDATE cueball_runs SET lease_expires_at = now() WHERE status = 'running'");
  lost = s.ExtendLeases(leases, Millis(600000));
  REQUIRE(lost.ok());
  CHECK(*lost == std::vector<std::string>{(*c)[1].run.id});
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs WHERE lease_expires_at - now() > "
                  "interval '500 seconds'") == "1");
  // A lease id with another run's id is no lease at all.
  lost = s.ExtendLeases({{MakeRun().id, (*c)[0].lease_id}}, Millis(600000));
  REQUIRE(lost.ok());
  CHECK(lost->size() == 1);
}

TEST_CASE("connection defaults are added to URL and key=value DSNs, never over the user's") {
  auto url = pg::WithConnectionDefaults("postgresql://u@h:5432/db", 1500);
  CHECK_THAT(url, Catch::StartsWith("postgresql://u@h:5432/db?connect_timeout=5&keepalives=1"));
  CHECK_THAT(url, Catch::Contains("options=-c%20statement_timeout%3D1500"));
  auto mine = pg::WithConnectionDefaults("postgresql://u@h/db?connect_timeout=9", 0);
  CHECK_THAT(mine, Catch::Contains("connect_timeout=9") && !Catch::Contains("connect_timeout=5"));
  CHECK_THAT(mine, !Catch::Contains("statement_timeout"));
  auto kv = pg::WithConnectionDefaults("host=h dbname=db", 1500);
  CHECK_THAT(kv, Catch::Contains(" keepalives_idle='30'") &&
                     Catch::Contains(" options='-c statement_timeout=1500 ") &&
                     Catch::Contains("idle_in_transaction_session_timeout=10000"));
}

TEST_CASE("the daemon's connections run with JIT off and the idle-in-transaction timeout") {
  TestDatabase db;
  pqxx::connection c(pg::WithConnectionDefaults(db.url(), 1500));
  pqxx::nontransaction tx(c);
  CHECK(tx.exec1("SHOW jit")[0].as<std::string>() == "off");
  CHECK(tx.exec1("SHOW statement_timeout")[0].as<std::string>() == "1500ms");
  CHECK(tx.exec1("SHOW idle_in_transaction_session_timeout")[0].as<std::string>() == "10s");
}

TEST_CASE(
    "a statement past the statement timeout fails as DEADLINE_EXCEEDED, and the pool recovers") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 1, Millis(200));
  // Hold a lock the store's claim must wait for, longer than the timeout.
  pqxx::connection blocker(db.url());
  pqxx::work tx(blocker);
  tx.exec("LOCK TABLE cueball_runs IN ACCESS EXCLUSIVE MODE");
  auto r = s.Claim("node", kQ, kT, 1, Millis(1000));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kDeadlineExceeded);
  tx.abort();
  CHECK(s.Claim("node", kQ, kT, 1, Millis(1000)).ok());
}

TEST_CASE("a client frozen inside a transaction loses its locks after the idle timeout") {
  TestDatabase db;
  pg::PgRunStore s(db.url(), 2);
  auto run = MakeRun();
  REQUIRE(s.Enqueue({run}).ok());
  // A "frozen daemon": a connection with cueball's defaults that locks the run
  // and then never finishes its transaction.
  pqxx::connection frozen(pg::WithConnectionDefaults(db.url(), 0));
  pqxx::work tx(frozen);
  tx.exec("SELECT id FROM cueball_runs FOR UPDATE");
  CHECK(s.Claim("node", kQ, kT, 1, Millis(1000))->empty());  // locked: skipped
  // The server ends the idle transaction after 10 s and the run is claimable.
  CHECK(cueball::testing::WaitFor(
      [&] { return s.Claim("node", kQ, kT, 1, Millis(1000))->size() == 1; },
      std::chrono::seconds(40)));
}

TEST_CASE("an unreachable database fails fast inside a jittered reconnect backoff") {
  pg::PgRunStore s("postgresql://postgres@127.0.0.1:1/none", 2);
  int fast = 0, tried = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = s.Get(RunId::NewV7().str(), false);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == StatusCode::kUnavailable);
    if (r.status().message().find("next attempt in") != std::string::npos) {
      ++fast;
    } else {
      ++tried;
    }
  }
  CHECK(tried >= 1);  // it does try to reconnect
  CHECK(fast >= 10);  // but not on every call
}
