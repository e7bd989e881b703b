// The event log on real PostgreSQL: positions given only to committed events,
// dense and in visibility order even when transactions commit out of order;
// filters; durable subscriptions; retention.
#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "server/store/postgres/migrator.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_run_store.h"
#include "tests/support/test_db.h"

using namespace cueball;
using namespace cueball::store;
using cueball::testing::TestDatabase;

namespace {

NewRun MakeRun(const std::string& type = "noop") {
  NewRun r;
  r.id = RunId::NewV7().str();
  r.workflow_type = type;
  r.first_step = "s1";
  return r;
}

std::string Enqueue(pg::PgRunStore& s, const std::string& type = "noop") {
  auto r = s.Enqueue({MakeRun(type)});
  REQUIRE(r.ok());
  return (*r)[0].run.id;
}

// Everything after `after`, page by page, as a consumer would read it.
std::vector<Event> ReadAll(pg::PgEventStore& es, int64_t after, const EventFilter& f = {},
                           int page = 100) {
  std::vector<Event> out;
  while (true) {
    auto p = es.Read(after, f, page);
    REQUIRE(p.ok());
    for (auto& e : p->events) out.push_back(std::move(e));
    if (p->through == after) break;
    after = p->through;
  }
  return out;
}

void SequenceAll(pg::PgEventStore& es) {
  while (true) {
    auto r = es.Sequence(1000);
    REQUIRE(r.ok());
    if (r->sequenced == 0) break;
  }
}

}  // namespace

TEST_CASE("events get positions only once committed, so a late commit lands after what was read") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  std::string first = Enqueue(runs);

  // A writer transaction draws its seq now but commits only later.
  pqxx::connection slow(db.url());
  pqxx::work slow_tx(slow);
  pg::InsertEvent(slow_tx, first, "run_retried", "s1", 0, "{}");
  int64_t slow_seq = slow_tx.exec("SELECT currval('cueball_events_seq_seq')")[0][0].as<int64_t>();

  std::string second = Enqueue(runs);  // draws a higher seq, commits first
  SequenceAll(es);
  auto seen = ReadAll(es, 0);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].position == 1);
  CHECK(seen[1].position == 2);
  CHECK(seen[1].run_id == second);
  CHECK(seen[1].seq > slow_seq);

  slow_tx.commit();
  SequenceAll(es);
  // The late event is not hidden below position 2: it is the next one.
  auto after = ReadAll(es, 2);
  REQUIRE(after.size() == 1);
  CHECK(after[0].position == 3);
  CHECK(after[0].seq == slow_seq);
  CHECK(after[0].kind == "run_retried");
  CHECK(after[0].workflow_type == "noop");
  // Replay from the beginning gives the same sequence.
  auto replay = ReadAll(es, 0);
  REQUIRE(replay.size() == 3);
  for (int i = 0; i < 2; ++i) CHECK(replay[i].seq == seen[i].seq);
  CHECK(replay[2].seq == slow_seq);
}

TEST_CASE("a run's events keep their order when they are written while the head is held") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 2);
  pg::PgEventStore es(db.url(), 2);
  std::string id = Enqueue(runs);
  SequenceAll(es);

  // Another transaction holds the head while the run is claimed and its
  // step_started is written (as for a long step), so the start is committed
  // unnumbered.
  std::vector<ClaimedRun> claimed;
  {
    pqxx::connection holder(db.url());
    pqxx::work hold(holder);
    hold.exec("SELECT position FROM cueball_event_head WHERE id = 1 FOR UPDATE");
    auto c = runs.Claim("node-a", {"default"}, {"noop"}, 1, Millis(60000));
    REQUIRE(c.ok());
    claimed = *c;
    REQUIRE(claimed.size() == 1);
    REQUIRE(runs.RecordStarts({{id, claimed[0].lease_id}}).ok());
  }
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_batches WHERE position IS NULL") == "1");

  // The step is recorded too before anything is numbered: the sequencer
  // must number the run's start before its finish. The outcome brings the
  // start as well; it is not written twice.
  Outcome done;
  done.run_id = id;
  done.lease_id = claimed[0].lease_id;
  done.status = RunStatus::kSucceeded;
  done.step_name = "s1";
  done.attempt = 1;
  done.events = {{"step_succeeded", "s1", 1, "{}"}, {"run_succeeded", "s1", 1, "{}"}};
  done.start = claimed[0].start();
  auto rec = runs.RecordOutcomes({done});
  REQUIRE(rec.ok());
  REQUIRE((*rec)[0]);
  SequenceAll(es);

  auto events = ReadAll(es, 0);
  std::vector<std::string> kinds;
  for (const auto& e : events) kinds.push_back(e.kind);
  CHECK(kinds ==
        std::vector<std::string>{"enqueued", "step_started", "step_succeeded", "run_succeeded"});
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].position == static_cast<int64_t>(i) + 1);
  }

  // A write is numbered by the next pass, right after what came before.
  std::string next = Enqueue(runs);
  const std::string next_position =
      "SELECT coalesce(position::text, 'none') FROM cueball_event_log WHERE run_id = '" + next +
      "'";
  CHECK(db.Scalar(next_position) == "none");
  SequenceAll(es);
  CHECK(db.Scalar(next_position) == "5");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_batches WHERE position IS NULL") == "0");
}

TEST_CASE("many writers and many sequencers give every event one dense position in order") {
  TestDatabase db;
  constexpr int kWriters = 6, kRunsEach = 60;
  std::atomic<bool> writing{true};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&] {
      pg::PgRunStore s(db.url(), 2);
      for (int i = 0; i < kRunsEach; ++i) {
        std::vector<NewRun> batch{MakeRun(), MakeRun()};
        auto r = s.Enqueue(batch);
        REQUIRE(r.ok());
        auto c = s.Cancel((*r)[0].run.id, "test");
        REQUIRE(c.ok());
      }
    });
  }
  // Three sequencers, as three daemons would run them.
  std::vector<std::thread> sequencers;
  for (int k = 0; k < 3; ++k) {
    sequencers.emplace_back([&] {
      pg::PgEventStore es(db.url(), 1);
      while (writing) {
        auto r = es.Sequence(50);
        REQUIRE(r.ok());
      }
    });
  }
  // A consumer reading concurrently from its cursor.
  std::vector<Event> consumed;
  std::thread consumer([&] {
    pg::PgEventStore es(db.url(), 1);
    int64_t cursor = 0;
    while (true) {
      bool done = !writing;
      auto p = es.Read(cursor, {}, 37);
      REQUIRE(p.ok());
      for (auto& e : p->events) consumed.push_back(std::move(e));
      bool caught_up = p->through == cursor;
      cursor = p->through;
      if (done && caught_up) break;
    }
  });
  for (auto& t : threads) t.join();
  pg::PgEventStore es(db.url(), 2);
  SequenceAll(es);
  writing = false;
  for (auto& t : sequencers) t.join();
  consumer.join();

  const int64_t total = kWriters * kRunsEach * 3;  // 2 enqueued + 1 canceled per batch
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log") == std::to_string(total));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_batches WHERE position IS NULL") == "0");
  CHECK(db.Scalar("SELECT max(position) FROM cueball_event_log") == std::to_string(total));
  CHECK(db.Scalar("SELECT position FROM cueball_event_head") == std::to_string(total));
  REQUIRE(consumed.size() == static_cast<size_t>(total));
  std::set<int64_t> seqs;
  for (size_t i = 0; i < consumed.size(); ++i) {
    CHECK(consumed[i].position == static_cast<int64_t>(i) + 1);
    seqs.insert(consumed[i].seq);
  }
  CHECK(seqs.size() == consumed.size());
  // Per run, the stream keeps the run's own order.
  std::map<std::string, int64_t> last_seq;
  for (const auto& e : consumed) {
    auto it = last_seq.find(e.run_id);
    if (it != last_seq.end()) CHECK(e.seq > it->second);
    last_seq[e.run_id] = e.seq;
  }
}

TEST_CASE("filters select by run, workflow type and kind, and through still advances") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  std::string a = Enqueue(runs, "noop");
  std::string b = Enqueue(runs, "other");
  REQUIRE(runs.Cancel(a, "x").ok());
  REQUIRE(runs.Cancel(b, "y").ok());
  SequenceAll(es);

  EventFilter by_run;
  by_run.run_id = b;
  auto got = ReadAll(es, 0, by_run);
  REQUIRE(got.size() == 2);
  CHECK(got[0].run_id == b);
  CHECK(got[1].kind == "run_canceled");

  EventFilter by_type;
  by_type.workflow_type = "noop";
  got = ReadAll(es, 0, by_type);
  REQUIRE(got.size() == 2);
  CHECK(got[0].run_id == a);

  EventFilter by_kind;
  by_kind.kinds = {"run_canceled"};
  auto page = es.Read(0, by_kind, 10);
  REQUIRE(page.ok());
  REQUIRE(page->events.size() == 2);
  CHECK(page->through == 4);  // examined everything up to the head
  CHECK(page->head == 4);

  EventFilter none;
  none.workflow_type = "nobody";
  page = es.Read(0, none, 10);
  REQUIRE(page.ok());
  CHECK(page->events.empty());
  CHECK(page->through == 4);
}

TEST_CASE(
    "subscriptions start where asked, only move forward, and refuse positions past the head") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  Enqueue(runs);
  Enqueue(runs);
  SequenceAll(es);

  auto from_start = es.OpenSubscription("billing", 0);
  REQUIRE(from_start.ok());
  CHECK(from_start->position == 0);
  auto from_now = es.OpenSubscription("audit", -1);
  REQUIRE(from_now.ok());
  CHECK(from_now->position == 2);
  // Opening again returns the stored position, whatever start says.
  auto again = es.OpenSubscription("audit", 0);
  REQUIRE(again.ok());
  CHECK(again->position == 2);

  auto acked = es.Ack("billing", 2);
  REQUIRE(acked.ok());
  CHECK(acked->position == 2);
  CHECK(acked->acked_at.has_value());
  auto back = es.Ack("billing", 1);  // never moves down
  REQUIRE(back.ok());
  CHECK(back->position == 2);

  auto beyond = es.Ack("billing", 3);
  CHECK(beyond.status().code() == StatusCode::kInvalidArgument);
  CHECK_THAT(beyond.status().message(), Catch::StartsWith("position: 3 is beyond the head"));
  CHECK(es.Ack("nobody", 1).status().code() == StatusCode::kNotFound);
  CHECK(es.OpenSubscription("late", 99).status().code() == StatusCode::kInvalidArgument);

  auto list = es.ListSubscriptions();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "audit");
  REQUIRE(es.DeleteSubscription("audit").ok());
  CHECK(es.DeleteSubscription("audit").code() == StatusCode::kNotFound);
}

TEST_CASE(
    "retention removes old finished runs with their events, keeps a summary, spares the rest") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  std::string old_done = Enqueue(runs);
  std::string old_failed = Enqueue(runs);
  std::string fresh_done = Enqueue(runs);
  std::string old_queued = Enqueue(runs);
  REQUIRE(runs.Cancel(old_done, "done").ok());
  REQUIRE(runs.Cancel(fresh_done, "done").ok());
  REQUIRE(runs.Cancel(old_failed, "done").ok());
  db.Exec("UPDATE cueball_runs SET status = 'failed', error = 'boom' WHERE id = '" + old_failed +
          "'");
  // Age everything but fresh_done by two days; old_queued is not finished.
  db.Exec(
      "UPDATE cueball_runs SET created_at = now() - interval '3 days', "
      "finished_at = CASE WHEN finished_at IS NULL THEN NULL "
      "ELSE now() - interval '2 days' END WHERE id <> '" +
      fresh_done + "'");
  SequenceAll(es);

  RetentionPolicy policy;
  policy.canceled = Millis(24 * 3600 * 1000);  // a day; failed runs are kept forever
  auto pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);
  CHECK_FALSE(pruned->held);

  auto gone = runs.Get(old_done, true);
  REQUIRE(gone.ok());
  CHECK(gone->pruned);
  CHECK(gone->status == RunStatus::kCanceled);
  CHECK(gone->history.empty());
  CHECK(gone->finished_at.has_value());
  CHECK(db.Scalar("SELECT count(*) FROM cueball_events WHERE run_id = '" + old_done + "'") == "0");
  auto kept_failed = runs.Get(old_failed, false);
  REQUIRE(kept_failed.ok());
  CHECK_FALSE(kept_failed->pruned);
  CHECK(runs.Get(fresh_done, false).ok());
  CHECK(runs.Get(old_queued, false).ok());
  // The horizon says which positions retention has removed.
  auto page = es.Read(0, {}, 100);
  REQUIRE(page.ok());
  CHECK(page->pruned_through > 0);
  // Wait-style reads see the summary too.
  auto many = runs.GetMany({old_done, fresh_done});
  REQUIRE(many.ok());
  CHECK(many->size() == 2);

  // Failed runs go too once their age is set; unfinished runs never do.
  policy.failed = Millis(1000);
  policy.succeeded = Millis(1000);
  policy.keep_summary = false;
  pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);
  CHECK(runs.Get(old_failed, false).status().code() == StatusCode::kNotFound);
  CHECK(runs.Get(old_queued, false).ok());
}

TEST_CASE("retention never removes events a subscription has not acknowledged") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  std::string a = Enqueue(runs);
  REQUIRE(runs.Cancel(a, "done").ok());  // positions 1, 2
  SequenceAll(es);                       // before b: enqueue numbers its event itself when it can
  std::string b = Enqueue(runs);
  REQUIRE(runs.Cancel(b, "done").ok());  // positions 3, 4
  SequenceAll(es);
  db.Exec("UPDATE cueball_runs SET finished_at = now() - interval '2 days'");
  REQUIRE(es.OpenSubscription("slow", 0).ok());
  REQUIRE(es.Ack("slow", 2).ok());

  RetentionPolicy policy;
  policy.canceled = Millis(1000);
  auto pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);  // a, fully acknowledged
  CHECK(pruned->held);       // b waits for the subscription
  CHECK(pruned->horizon == 2);
  CHECK(runs.Get(a, false)->pruned);
  CHECK_FALSE(runs.Get(b, false)->pruned);
  auto rest = ReadAll(es, 2);
  CHECK(rest.size() == 2);

  REQUIRE(es.Ack("slow", 4).ok());
  pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);
  CHECK_FALSE(pruned->held);
}

TEST_CASE(
    "an attempt's start, a step's success and the run's success share rows, read as events "
    "everywhere") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 2);
  pg::PgEventStore es(db.url(), 2);
  std::string id = Enqueue(runs);
  auto claimed = runs.Claim("node-a", {"default"}, {"noop"}, 1, Millis(60000));
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 1);
  Outcome done;
  done.run_id = id;
  done.lease_id = (*claimed)[0].lease_id;
  done.status = RunStatus::kSucceeded;
  done.step_name = "s1";
  done.attempt = 1;
  const std::string result = R"({"result":{"n":1}})";
  // The last two differ only in kind: one row. The first pair differs in
  // data: two rows.
  done.events = {{"step_failed", "s1", 1, R"({"error":"x"})"},
                 {"step_retried", "s1", 1, "{}"},
                 {"step_succeeded", "s1", 1, result},
                 {"run_succeeded", "s1", 1, result}};
  // The attempt's start goes in the first event's row (migration 0010).
  done.start = (*claimed)[0].start();
  auto rec = runs.RecordOutcomes({done});
  REQUIRE(rec.ok());
  REQUIRE((*rec)[0]);
  SequenceAll(es);

  const std::string rows = "SELECT count(*) FROM cueball_events WHERE run_id = '" + id + "'";
  CHECK(db.Scalar(rows) == "4");  // enqueued, and three for the record
  CHECK(db.Scalar("SELECT also FROM cueball_events WHERE kind = 'step_succeeded'") ==
        "run_succeeded");
  CHECK(db.Scalar("SELECT started_by FROM cueball_events WHERE kind = 'step_failed'") == "node-a");
  CHECK(db.Scalar("SELECT max(count) FROM cueball_event_batches") == "5");
  CHECK(db.Scalar("SELECT position FROM cueball_event_head") == "6");

  const std::vector<std::string> kinds{"enqueued",     "step_started",   "step_failed",
                                       "step_retried", "step_succeeded", "run_succeeded"};
  auto check_all = [&](const std::vector<Event>& events, const char* how) {
    INFO(how);
    REQUIRE(events.size() == kinds.size());
    for (size_t i = 0; i < events.size(); ++i) {
      CHECK(events[i].kind == kinds[i]);
      CHECK(events[i].position == static_cast<int64_t>(i) + 1);
      if (i > 0) CHECK(events[i].seq > events[i - 1].seq);
    }
    CHECK(events[5].seq == events[4].seq + 1);
    CHECK(events[5].data == events[4].data);
    CHECK(events[5].step == "s1");
    CHECK(events[5].attempt == 1);
    CHECK(events[5].created_at == events[4].created_at);
    // The start: its own data and the claim's time, the step_failed after it
    // in the same row.
    CHECK(events[2].seq == events[1].seq + 1);
    CHECK(events[1].data == R"({"owner": "node-a"})");
    CHECK(events[1].step == "s1");
    CHECK(events[1].attempt == 1);
    CHECK(events[1].created_at == (*claimed)[0].run.updated_at);
    CHECK(events[2].data == R"({"error": "x"})");
  };
  check_all(ReadAll(es, 0), "the stream, pages of 100");
  check_all(ReadAll(es, 0, {}, 1), "the stream, pages of 1");
  auto got = runs.Get(id, true);
  REQUIRE(got.ok());
  check_all(got->history, "the run's history");
  CHECK(db.Scalar("SELECT string_agg(kind || '@' || position, ' ' ORDER BY seq) FROM "
                  "cueball_event_log WHERE run_id = '" +
                  id + "'") ==
        "enqueued@1 step_started@2 step_failed@3 step_retried@4 step_succeeded@5 "
        "run_succeeded@6");

  // A cursor between the pair's two events reads only the second.
  auto after_first = ReadAll(es, 5);
  REQUIRE(after_first.size() == 1);
  CHECK(after_first[0].kind == "run_succeeded");
  CHECK(after_first[0].position == 6);
  // A cursor at the start reads the rest of its row on; a filter by kind
  // finds the start.
  auto after_start = ReadAll(es, 2);
  REQUIRE(after_start.size() == 4);
  CHECK(after_start[0].kind == "step_failed");
  CHECK(after_start[0].position == 3);
  EventFilter starts;
  starts.kinds = {"step_started"};
  auto started = ReadAll(es, 0, starts);
  REQUIRE(started.size() == 1);
  CHECK(started[0].position == 2);
  // Filters by kind see either half.
  EventFilter finished;
  finished.kinds = {"run_succeeded"};
  auto only = ReadAll(es, 0, finished);
  REQUIRE(only.size() == 1);
  CHECK(only[0].position == 6);
  EventFilter steps;
  steps.kinds = {"step_succeeded"};
  only = ReadAll(es, 0, steps);
  REQUIRE(only.size() == 1);
  CHECK(only[0].position == 5);
  auto page = es.Read(0, finished, 10);
  REQUIRE(page.ok());
  CHECK(page->through == 6);

  // Retention waits for the pair's second event to be acknowledged.
  db.Exec("UPDATE cueball_runs SET finished_at = now() - interval '2 days'");
  REQUIRE(es.OpenSubscription("slow", 0).ok());
  REQUIRE(es.Ack("slow", 5).ok());
  RetentionPolicy policy;
  policy.succeeded = Millis(1000);
  auto pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 0);
  CHECK(pruned->held);
  REQUIRE(es.Ack("slow", 6).ok());
  pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);
  CHECK(db.Scalar(rows) == "0");
  CHECK(db.Scalar("SELECT pruned_through FROM cueball_event_head") == "6");
}

TEST_CASE("retention removes a run's blobs, signals and waits with it, and nothing of others") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 4);
  pg::PgEventStore es(db.url(), 4);
  std::string gone = Enqueue(runs), kept = Enqueue(runs);
  auto claimed = runs.Claim("node-a", {"default"}, {"noop"}, 2, Millis(60000));
  REQUIRE(claimed.ok());
  REQUIRE(claimed->size() == 2);
  for (const auto& c : *claimed) {
    REQUIRE(
        runs.PutBlob(c.run.id, c.lease_id, "out.txt", "text/plain", std::string("a\0b", 3)).ok());
    REQUIRE(runs.Signal(c.run.id, "go", "{\"n\":1}", std::nullopt).ok());
  }
  // The blob comes back byte for byte, with its checksum.
  auto blob = runs.GetBlob(gone, "out.txt");
  REQUIRE(blob.ok());
  CHECK(blob->data == std::string("a\0b", 3));
  CHECK(blob->info.size == 3);
  CHECK(blob->info.sha256.size() == 64);
  db.Exec("INSERT INTO cueball_run_waits (waiter_id, target_id) VALUES ('" + gone + "', '" + kept +
          "')");
  for (const auto& c : *claimed) REQUIRE(runs.Cancel(c.run.id, "done").ok());
  SequenceAll(es);
  db.Exec("UPDATE cueball_runs SET finished_at = now() - interval '2 days' WHERE id = '" + gone +
          "'");
  RetentionPolicy policy;
  policy.canceled = Millis(1000);
  auto pruned = es.Prune(policy);
  REQUIRE(pruned.ok());
  CHECK(pruned->runs == 1);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_blobs WHERE run_id = '" + gone + "'") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_signals WHERE run_id = '" + gone + "'") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_run_waits") == "0");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_blobs WHERE run_id = '" + kept + "'") == "1");
  CHECK(db.Scalar("SELECT count(*) FROM cueball_signals WHERE run_id = '" + kept + "'") == "1");
  auto listed = runs.ListBlobs(gone);  // a pruned run: no blobs, not an error
  REQUIRE(listed.ok());
  CHECK(listed->empty());
}

TEST_CASE("migration 0006 keeps the positions of a database's existing events") {
  TestDatabase db(false);
  const auto& all = pg::BuiltinMigrations();
  REQUIRE(all.size() >= 6);
  REQUIRE(all[5].name == "0006_event_batches.sql");
  REQUIRE(pg::Migrator(db.url(), {all.begin(), all.begin() + 5}).Migrate().ok());

  // As 0005 left it: three events numbered, two still waiting for the old
  // sequencer.
  const std::string run = RunId::NewV7().str();
  {
    pqxx::connection c(db.url());
    pqxx::work tx(c);
    tx.exec_params(
        "INSERT INTO cueball_runs (id, workflow_type, step_name) VALUES ($1, 'noop', 's1')", run);
    for (const char* kind : {"enqueued", "step_started", "step_succeeded"}) {
      tx.exec_params(
          "INSERT INTO cueball_events (run_id, kind, step, attempt, position) "
          "VALUES ($1, $2, 's1', 1, (SELECT count(*) + 1 FROM cueball_events))",
          run, kind);
    }
    tx.exec("UPDATE cueball_event_head SET position = 3");
    for (const char* kind : {"run_succeeded", "run_retried"}) {
      tx.exec_params(
          "INSERT INTO cueball_events (run_id, kind, step, attempt) VALUES ($1, $2, 's1', 1)", run,
          kind);
    }
    tx.commit();
  }
  auto migrated = pg::Migrator(db.url(), all).Migrate();
  REQUIRE(migrated.ok());
  CHECK(migrated->applied.size() == all.size() - 5);

  pg::PgEventStore es(db.url(), 2);
  pg::PgRunStore runs(db.url(), 2);
  auto head = es.Head();
  REQUIRE(head.ok());
  CHECK(*head == 5);
  auto events = ReadAll(es, 0, {}, 2);
  std::vector<std::string> kinds;
  for (size_t i = 0; i < events.size(); ++i) {
    kinds.push_back(events[i].kind);
    CHECK(events[i].position == static_cast<int64_t>(i) + 1);
  }
  CHECK(kinds == std::vector<std::string>{"enqueued", "step_started", "step_succeeded",
                                          "run_succeeded", "run_retried"});
  // New writes follow them.
  std::string next = Enqueue(runs);
  SequenceAll(es);
  auto after = ReadAll(es, 5);
  REQUIRE(after.size() == 1);
  CHECK(after[0].position == 6);
  CHECK(after[0].run_id == next);
  auto got = runs.Get(run, true);
  REQUIRE(got.ok());
  REQUIRE(got->history.size() == 5);
  CHECK(got->history[3].position == 4);
}

namespace {

// The outcome of a claimed run's attempt, bringing the attempt's start.
Outcome EndOf(const ClaimedRun& c, RunStatus status, std::vector<NewEvent> events) {
  Outcome o;
  o.run_id = c.run.id;
  o.lease_id = c.lease_id;
  o.status = status;
  o.step_name = "s1";
  o.attempt = status == RunStatus::kWaiting ? 0 : 1;
  o.events = std::move(events);
  o.start = c.start();
  return o;
}

std::vector<std::string> HistoryKinds(pg::PgRunStore& runs, const std::string& id) {
  auto r = runs.Get(id, true);
  REQUIRE(r.ok());
  std::vector<std::string> kinds;
  for (const auto& e : r->history) kinds.push_back(e.kind);
  return kinds;
}

}  // namespace

TEST_CASE("an attempt's start is written once, by whoever ends the attempt, or while it runs") {
  TestDatabase db;
  pg::PgRunStore runs(db.url(), 2);
  pg::PgEventStore es(db.url(), 2);
  auto claim_one = [&](const std::string& id) {
    auto c = runs.Claim("node-a", {"default"}, {"noop"}, 1, Millis(60000));
    REQUIRE(c.ok());
    REQUIRE(c->size() == 1);
    REQUIRE((*c)[0].run.id == id);
    return (*c)[0];
  };

  SECTION("the claim writes none; a cancel writes the start it ends") {
    std::string id = Enqueue(runs);
    ClaimedRun c = claim_one(id);
    CHECK(HistoryKinds(runs, id) == std::vector<std::string>{"enqueued"});
    REQUIRE(runs.Cancel(id, "stop").ok());
    CHECK(HistoryKinds(runs, id) ==
          std::vector<std::string>{"enqueued", "step_started", "run_canceled"});
    auto r = runs.Get(id, true);
    CHECK(r->history[1].data == R"({"owner": "node-a"})");
    CHECK(r->history[1].created_at == c.run.updated_at);
    CHECK(r->history[1].attempt == 1);
  }

  SECTION("a start written while the step runs is not written again by its end") {
    std::string id = Enqueue(runs);
    ClaimedRun c = claim_one(id);
    REQUIRE(runs.RecordStarts({{id, c.lease_id}}).ok());
    REQUIRE(runs.RecordStarts({{id, c.lease_id}}).ok());  // at most once
    CHECK(HistoryKinds(runs, id) == std::vector<std::string>{"enqueued", "step_started"});
    auto rec = runs.RecordOutcomes(
        {EndOf(c, RunStatus::kSucceeded,
               {{"step_succeeded", "s1", 1, "{}"}, {"run_succeeded", "s1", 1, "{}"}})});
    REQUIRE(rec.ok());
    CHECK((*rec)[0]);
    CHECK(HistoryKinds(runs, id) ==
          std::vector<std::string>{"enqueued", "step_started", "step_succeeded", "run_succeeded"});
    // Its time is the claim's, not the write's.
    CHECK(runs.Get(id, true)->history[1].created_at == c.run.updated_at);
  }

  SECTION("a start written while the step runs is not written again by a cancel") {
    std::string id = Enqueue(runs);
    ClaimedRun c = claim_one(id);
    REQUIRE(runs.RecordStarts({{id, c.lease_id}}).ok());
    REQUIRE(runs.Cancel(id, "stop").ok());
    CHECK(HistoryKinds(runs, id) ==
          std::vector<std::string>{"enqueued", "step_started", "run_canceled"});
    // An attempt no longer running gets no start.
    REQUIRE(runs.RecordStarts({{id, c.lease_id}}).ok());
    CHECK(HistoryKinds(runs, id).size() == 3);
  }

  SECTION("a step that goes to wait brings its start with its first event") {
    std::string id = Enqueue(runs);
    ClaimedRun c = claim_one(id);
    Outcome wait =
        EndOf(c, RunStatus::kWaiting, {{"step_waiting", "s1", 1, R"({"for":"signal"})"}});
    WaitSpec w;
    w.kind = "signal";
    w.signal = "go";
    wait.wait = w;
    auto rec = runs.RecordOutcomes({wait});
    REQUIRE(rec.ok());
    CHECK((*rec)[0]);
    CHECK(HistoryKinds(runs, id) ==
          std::vector<std::string>{"enqueued", "step_started", "step_waiting"});
  }

  // Every position given once, in order, whoever wrote the start.
  SequenceAll(es);
  auto events = ReadAll(es, 0);
  for (size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].position == static_cast<int64_t>(i) + 1);
  }
  CHECK(db.Scalar("SELECT count(*) FROM cueball_event_log") == std::to_string(events.size()));
}
