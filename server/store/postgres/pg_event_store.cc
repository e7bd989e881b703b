#include "server/store/postgres/pg_event_store.h"

#include <string_view>

#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

static_assert(std::string_view(kEventsChannel) == "cueball_events",
              "sql/sequence_events.sql names the notification channel");

// Subscriptions: sql/fragments/subscription_columns.sql, every row.
std::vector<Subscription> ReadSubscriptions(const pqxx::result& res) {
  const Columns cols(res);
  const int name = cols.Need("name"), position = cols.Need("position"),
            created = cols.Need("created_us"), acked = cols.Need("acked_us");
  std::vector<Subscription> out;
  for (const auto& row : res) {
    Subscription s;
    s.name = Text(row[name]);
    s.position = Int(row[position]);
    s.created_at = FromMicros(Int(row[created]));
    s.acked_at = OptTime(row[acked]);
    out.push_back(std::move(s));
  }
  return out;
}

// The highest position given out, read in the caller's transaction.
int64_t ReadHead(pqxx::transaction_base& tx) {
  return Int(Field(Exec(tx, sql::kEventHead), 0, "position"));
}

std::optional<int64_t> OptMillis(const std::optional<Millis>& d) {
  if (!d) return std::nullopt;
  return static_cast<int64_t>(d->count());
}

}  // namespace

PgEventStore::PgEventStore(const std::string& dsn, int pool_size, Millis statement_timeout)
    : pool_(WithConnectionDefaults(dsn, static_cast<int>(statement_timeout.count())), pool_size,
            [](pqxx::connection& c) {
              Prepare(c, sql::kEventsPending);
              Prepare(c, sql::kSequenceEvents);
            }) {}

StatusOr<SequenceResult> PgEventStore::Sequence(int limit) {
  SequenceResult out;
  Status st = pool_.With("sequence events", [&](pqxx::connection& c) -> Status {
    {
      // Cheap check on the partial index first, so idle sequencers on many
      // daemons do not queue up on the head row lock.
      // One statement on its own (no BEGIN/ROLLBACK round trips).
      pqxx::nontransaction rt(c);
      auto r = ExecPrepared(rt, sql::kEventsPending);
      const Columns cols(r);
      out.head = Int(r[0][cols.Need("head")]);
      if (!r[0][cols.Need("pending")].as<bool>()) return Status::Ok();
    }
    pqxx::work tx(c);
    tx.exec(sql::kLockEventHead.text);
    auto r = ExecPrepared(tx, sql::kSequenceEvents, limit);
    const Columns cols(r);
    out.head = Int(r[0][cols.Need("head")]);
    out.sequenced = Int(r[0][cols.Need("sequenced")]);
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
    auto res = Exec(tx, sql::kReadEvents, after, filter.run_id, filter.workflow_type, kinds, limit);
    const Columns cols(res);
    const int head = cols.Need("head"), pruned = cols.Need("pruned_through"),
              position = cols.Need("position"), seq = cols.Need("seq"),
              run_id = cols.Need("run_id"), type = cols.Need("workflow_type"),
              kind = cols.Need("kind"), step = cols.Need("step"), attempt = cols.Need("attempt"),
              data = cols.Need("data"), created = cols.Need("created_us");
    for (const auto& row : res) {
      page.head = Int(row[head]);
      page.pruned_through = Int(row[pruned]);
      if (row[position].is_null()) continue;
      Event e;
      e.position = Int(row[position]);
      e.seq = Int(row[seq]);
      e.run_id = Text(row[run_id]);
      e.workflow_type = Text(row[type]);
      e.kind = Text(row[kind]);
      e.step = Text(row[step]);
      e.attempt = static_cast<int>(Int(row[attempt]));
      e.data = Text(row[data]);
      e.created_at = FromMicros(Int(row[created]));
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
    Exec(tx, sql::kOpenSubscription, name, start < 0 ? head : start);
    sub = ReadSubscriptions(Exec(tx, sql::kGetSubscription, name)).front();
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
    auto res = Exec(tx, sql::kAckSubscription, name, position);
    if (res.empty()) {
      auto exists = Exec(tx, sql::kGetSubscription, name);
      if (exists.empty()) return NotFound("subscription: no subscription named '" + name + "'");
      int64_t head = ReadHead(tx);
      return InvalidArgument("position: " + std::to_string(position) +
                             " is beyond the head of the event log (" + std::to_string(head) + ")");
    }
    sub = ReadSubscriptions(res).front();
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
    auto res = Exec(tx, sql::kListSubscriptions);
    subs = ReadSubscriptions(res);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return subs;
}

Status PgEventStore::DeleteSubscription(const std::string& name) {
  return pool_.With("delete subscription", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = Exec(tx, sql::kDeleteSubscription, name);
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
    auto res = Exec(tx, sql::kPruneRuns, OptMillis(policy.succeeded), OptMillis(policy.failed),
                    OptMillis(policy.canceled), policy.batch, policy.keep_summary);
    const Columns cols(res);
    out.runs = Int(res[0][cols.Need("pruned")]);
    out.held = Int(res[0][cols.Need("held")]) > 0;
    out.horizon = Int(res[0][cols.Need("horizon")]);
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return out;
}

}  // namespace cueball::store::pg
