#include "server/store/postgres/pg_event_store.h"

#include <string_view>

#include "server/store/postgres/pg_run_store.h"

namespace cueball::store::pg {
namespace {

// One statement: number the committed batches that wait for positions
// (migration 0006), in order of last_seq, until at least $1 events are
// numbered or none are left, and advance the head by as many events. Runs in
// the caller's transaction right after the head row is locked, so its
// snapshot sees every position given by earlier sequencers and nobody else
// numbers concurrently. Returns the head and the events numbered, and
// notifies the new head when it moved.
constexpr const char* kSequenceSql = R"SQL(
WITH pending AS (
  SELECT id, count, sum(count) OVER (ORDER BY last_seq) - count AS before
  FROM (SELECT id, count, last_seq FROM cueball_event_batches
        WHERE position IS NULL ORDER BY last_seq LIMIT $1) s
), upd AS (
  UPDATE cueball_event_batches b SET position = h.position + p.before
  FROM pending p, cueball_event_head h
  WHERE b.id = p.id AND h.id = 1 AND p.before < $1
  RETURNING b.count
)
UPDATE cueball_event_head
SET position = position + (SELECT coalesce(sum(count), 0) FROM upd)
WHERE id = 1
RETURNING position, (SELECT coalesce(sum(count), 0) FROM upd),
          -- Announces the new head to event streams (delivered at commit).
          CASE WHEN (SELECT coalesce(sum(count), 0) FROM upd) > 0
               THEN pg_notify('cueball_events', position::text) END
)SQL";

static_assert(std::string_view(kEventsChannel) == "cueball_events",
              "kSequenceSql names the notification channel");

// Prepared on every connection of the pool.
constexpr const char* kPendingStmt = "cueball_events_pending";
constexpr const char* kSequenceStmt = "cueball_sequence";

// Head, horizon and one page of events in one statement (one snapshot): the
// head and the positions below it commit together, so every event up to the
// head is visible here.
// The page starts in the batch that holds position $1 + 1 (the last batch
// at or below $1), and walks batches and their events in position order.
// A row may stand for up to three events: the attempt's step_started when
// `started_at` is set (migration 0010), its own, and one of kind `also`
// (0009). They are expanded here (p.i 0, 1, 2; k is 1 when the row has a
// start) as the view cueball_event_log does; not through the view, whose
// position is computed and so cannot bound the (batch_id, ord) index scan.
// A row that starts at $1 may have events after it, so rows are read from
// ord $1 - position and the events filtered to those after $1.
constexpr const char* kReadSql = R"SQL(
SELECT h.position, h.pruned_through, x.position, x.seq, x.run_id::text, x.workflow_type,
       x.kind, coalesce(x.step, ''), coalesce(x.attempt, 0), x.data::text,
       round(date_part('epoch', x.created_at) * 1000000)::bigint
FROM cueball_event_head h
LEFT JOIN LATERAL (
  SELECT b.position + e.ord + p.i AS position, e.seq + p.i AS seq, e.run_id, r.workflow_type,
         ek.kind, e.step, e.attempt,
         CASE WHEN p.i < s.k THEN jsonb_build_object('owner', e.started_by) ELSE e.data END
           AS data,
         CASE WHEN p.i < s.k THEN e.started_at ELSE e.created_at END AS created_at
  FROM cueball_event_batches b
  JOIN cueball_events e
    ON e.batch_id = b.id AND e.ord >= $1 - b.position - 1 AND e.ord <= h.position - b.position
  CROSS JOIN LATERAL (SELECT CASE WHEN e.started_at IS NULL THEN 0 ELSE 1 END AS k) s
  CROSS JOIN LATERAL generate_series(0, s.k + CASE WHEN e.also IS NULL THEN 0 ELSE 1 END) AS p(i)
  CROSS JOIN LATERAL (
    SELECT CASE WHEN p.i < s.k THEN 'step_started' WHEN p.i = s.k THEN e.kind ELSE e.also END
  ) AS ek(kind)
  JOIN cueball_runs r ON r.id = e.run_id
  WHERE b.position >= coalesce((SELECT max(position) FROM cueball_event_batches
                                WHERE position <= $1), 0)
    AND b.position < h.position
    AND e.ord + p.i > $1 - b.position
    AND ($2::uuid IS NULL OR e.run_id = $2::uuid)
    AND ($3::text IS NULL OR r.workflow_type = $3)
    AND ($4::text[] IS NULL OR ek.kind = ANY($4::text[]))
  ORDER BY b.position, e.ord, p.i
  LIMIT $5
) x ON true
WHERE h.id = 1
ORDER BY x.position
)SQL";

constexpr const char* kSubscriptionColumns =
    "name, position, round(date_part('epoch', created_at) * 1000000)::bigint, "
    "round(date_part('epoch', acked_at) * 1000000)::bigint";

Subscription SubscriptionFromRow(const pqxx::row& row) {
  Subscription s;
  s.name = row[0].as<std::string>();
  s.position = row[1].as<int64_t>();
  s.created_at = FromMicros(row[2].as<int64_t>());
  if (!row[3].is_null()) s.acked_at = FromMicros(row[3].as<int64_t>());
  return s;
}

// Finished runs due for removal, oldest first, skipping runs that still have
// an event a subscription has not acknowledged (or one not yet numbered).
// The summary, the removal (the run and its events) and the horizon update
// are one statement. Events are read through cueball_event_log, one row per
// event (migration 0009).
constexpr const char* kPruneSql = R"SQL(
WITH head AS (
  SELECT position FROM cueball_event_head WHERE id = 1
), horizon AS (
  SELECT least((SELECT position FROM head),
               coalesce((SELECT min(position) FROM cueball_subscriptions),
                        (SELECT position FROM head))) AS p
), due AS (
  SELECT r.id FROM cueball_runs r
  WHERE r.finished_at IS NOT NULL
    AND ((r.status = 'succeeded' AND $1::bigint IS NOT NULL
          AND r.finished_at < now() - $1::bigint * interval '1 millisecond')
      OR (r.status = 'failed' AND $2::bigint IS NOT NULL
          AND r.finished_at < now() - $2::bigint * interval '1 millisecond')
      OR (r.status = 'canceled' AND $3::bigint IS NOT NULL
          AND r.finished_at < now() - $3::bigint * interval '1 millisecond'))
  ORDER BY r.finished_at
  LIMIT $4
  FOR UPDATE SKIP LOCKED
), victims AS (
  SELECT d.id FROM due d
  WHERE NOT EXISTS (
    SELECT 1 FROM cueball_event_log l, horizon
    WHERE l.run_id = d.id AND (l.position IS NULL OR l.position > horizon.p))
), summary AS (
  INSERT INTO cueball_run_summaries (id, workflow_type, queue, status, step_index, step_name,
                                     attempt, created_at, started_at, finished_at)
  SELECT r.id, r.workflow_type, r.queue, r.status, r.step_index, r.step_name, r.attempt,
         r.created_at, r.started_at, r.finished_at
  FROM cueball_runs r JOIN victims v ON v.id = r.id
  WHERE $5::boolean
  ON CONFLICT (id) DO NOTHING
), top AS (
  SELECT max(l.position) AS m
  FROM cueball_event_log l JOIN victims v ON v.id = l.run_id
), del AS (
  DELETE FROM cueball_runs r USING victims v WHERE r.id = v.id RETURNING r.id
), del_events AS (
  DELETE FROM cueball_events e USING victims v WHERE e.run_id = v.id RETURNING e.batch_id
), del_batches AS (
  -- Batches whose last events go now (the statement's snapshot still sees
  -- the deleted events, so count what is left without them). Batch 0, of
  -- the events numbered before migration 0006, stays.
  DELETE FROM cueball_event_batches b
  USING (SELECT batch_id, count(*) AS n FROM del_events GROUP BY batch_id) d
  WHERE b.id = d.batch_id AND b.id <> 0
    AND (SELECT count(*) FROM cueball_events e WHERE e.batch_id = b.id) = d.n
), del_blobs AS (
  DELETE FROM cueball_blobs b USING victims v WHERE b.run_id = v.id
), del_signals AS (
  DELETE FROM cueball_signals s USING victims v WHERE s.run_id = v.id
), del_waits AS (
  DELETE FROM cueball_run_waits w USING victims v WHERE w.waiter_id = v.id
), mark AS (
  UPDATE cueball_event_head
  SET pruned_through = greatest(pruned_through, (SELECT m FROM top))
  WHERE id = 1 AND (SELECT m FROM top) IS NOT NULL
)
SELECT (SELECT count(*) FROM del), (SELECT count(*) FROM due) - (SELECT count(*) FROM victims),
       (SELECT p FROM horizon)
)SQL";

// The highest position given out, read in the caller's transaction.
int64_t ReadHead(pqxx::transaction_base& tx) {
  return tx.exec("SELECT position FROM cueball_event_head WHERE id = 1")[0][0].as<int64_t>();
}

std::optional<int64_t> OptMillis(const std::optional<Millis>& d) {
  if (!d) return std::nullopt;
  return static_cast<int64_t>(d->count());
}

}  // namespace

PgEventStore::PgEventStore(const std::string& dsn, int pool_size, Millis statement_timeout)
    : pool_(WithConnectionDefaults(dsn, static_cast<int>(statement_timeout.count())), pool_size,
            [](pqxx::connection& c) {
              c.prepare(kPendingStmt,
                        "SELECT (SELECT position FROM cueball_event_head WHERE id = 1), "
                        "EXISTS (SELECT 1 FROM cueball_event_batches WHERE position IS NULL)");
              c.prepare(kSequenceStmt, kSequenceSql);
            }) {}

StatusOr<SequenceResult> PgEventStore::Sequence(int limit) {
  SequenceResult out;
  Status st = pool_.With("sequence events", [&](pqxx::connection& c) -> Status {
    {
      // Cheap check on the partial index first, so idle sequencers on many
      // daemons do not queue up on the head row lock.
      // One statement on its own (no BEGIN/ROLLBACK round trips).
      pqxx::nontransaction rt(c);
      auto r = rt.exec_prepared(kPendingStmt);
      out.head = r[0][0].as<int64_t>();
      if (!r[0][1].as<bool>()) return Status::Ok();
    }
    pqxx::work tx(c);
    // Custom plans for the sequence statement (one round trip with the
    // lock): a plan PostgreSQL caches after five runs was made while the
    // batches table was a page or two, and it hashed a sequential scan of
    // the whole table on every pass once the table had grown (5 ms per pass
    // after a burst, seen with auto_explain), until the next analyze.
    tx.exec(
        "SET LOCAL plan_cache_mode = force_custom_plan; "
        "SELECT position FROM cueball_event_head WHERE id = 1 FOR UPDATE");
    auto r = tx.exec_prepared(kSequenceStmt, limit);
    out.head = r[0][0].as<int64_t>();
    out.sequenced = r[0][1].as<int64_t>();
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

StatusOr<int64_t> PgEventStore::Head() {
  int64_t head = 0;
  Status st = pool_.With("event head", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    head = ReadHead(tx);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return head;
}

StatusOr<EventPage> PgEventStore::Read(int64_t after, const EventFilter& filter, int limit) {
  EventPage page;
  std::optional<std::string> kinds;
  if (!filter.kinds.empty()) kinds = PgTextArray(filter.kinds);
  Status st = pool_.With("read events", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec_params(kReadSql, after, filter.run_id, filter.workflow_type, kinds, limit);
    for (const auto& row : res) {
      page.head = row[0].as<int64_t>();
      page.pruned_through = row[1].as<int64_t>();
      if (row[2].is_null()) continue;
      Event e;
      e.position = row[2].as<int64_t>();
      e.seq = row[3].as<int64_t>();
      e.run_id = row[4].as<std::string>();
      e.workflow_type = row[5].as<std::string>();
      e.kind = row[6].as<std::string>();
      e.step = row[7].as<std::string>();
      e.attempt = row[8].as<int>();
      e.data = row[9].as<std::string>();
      e.created_at = FromMicros(row[10].as<int64_t>());
      page.events.push_back(std::move(e));
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  // A full page may stop short of the head; otherwise everything up to the
  // head has been examined.
  if (static_cast<int>(page.events.size()) >= limit) {
    page.through = page.events.back().position;
  } else {
    page.through = std::max(after, page.head);
  }
  return page;
}

StatusOr<Subscription> PgEventStore::OpenSubscription(const std::string& name, int64_t start) {
  Subscription sub;
  Status st = pool_.With("open subscription", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    int64_t head = ReadHead(tx);
    if (start > head) {
      return InvalidArgument("start: position " + std::to_string(start) +
                             " is beyond the head of the event log (" + std::to_string(head) + ")");
    }
    tx.exec_params(
        "INSERT INTO cueball_subscriptions (name, position) VALUES ($1, $2) "
        "ON CONFLICT (name) DO NOTHING",
        name, start < 0 ? head : start);
    auto res = tx.exec_params(std::string("SELECT ") + kSubscriptionColumns +
                                  " FROM cueball_subscriptions WHERE name = $1",
                              name);
    sub = SubscriptionFromRow(res[0]);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return sub;
}

StatusOr<Subscription> PgEventStore::Ack(const std::string& name, int64_t position) {
  Subscription sub;
  Status st = pool_.With("ack", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = tx.exec_params(
        std::string("WITH upd AS (UPDATE cueball_subscriptions s "
                    "SET position = greatest(s.position, $2), acked_at = now() "
                    "FROM cueball_event_head h "
                    "WHERE s.name = $1 AND h.id = 1 AND $2 <= h.position RETURNING s.*) "
                    "SELECT ") +
            kSubscriptionColumns + " FROM upd",
        name, position);
    if (res.empty()) {
      auto exists = tx.exec_params("SELECT 1 FROM cueball_subscriptions WHERE name = $1", name);
      if (exists.empty()) return NotFound("subscription: no subscription named '" + name + "'");
      int64_t head = ReadHead(tx);
      return InvalidArgument("position: " + std::to_string(position) +
                             " is beyond the head of the event log (" + std::to_string(head) + ")");
    }
    sub = SubscriptionFromRow(res[0]);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return sub;
}

StatusOr<std::vector<Subscription>> PgEventStore::ListSubscriptions() {
  std::vector<Subscription> subs;
  Status st = pool_.With("list subscriptions", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    auto res = tx.exec(std::string("SELECT ") + kSubscriptionColumns +
                       " FROM cueball_subscriptions ORDER BY name");
    for (const auto& row : res) subs.push_back(SubscriptionFromRow(row));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return subs;
}

Status PgEventStore::DeleteSubscription(const std::string& name) {
  return pool_.With("delete subscription", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = tx.exec_params("DELETE FROM cueball_subscriptions WHERE name = $1", name);
    if (res.affected_rows() == 0) {
      return NotFound("subscription: no subscription named '" + name + "'");
    }
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<PruneResult> PgEventStore::Prune(const RetentionPolicy& policy) {
  PruneResult out;
  Status st = pool_.With("prune", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = tx.exec_params(kPruneSql, OptMillis(policy.succeeded), OptMillis(policy.failed),
                              OptMillis(policy.canceled), policy.batch, policy.keep_summary);
    out.runs = res[0][0].as<int64_t>();
    out.held = res[0][1].as<int64_t>() > 0;
    out.horizon = res[0][2].as<int64_t>();
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
