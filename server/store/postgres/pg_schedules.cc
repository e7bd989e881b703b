// PgRunStore's ScheduleStore (migration 0015): a tick's run is enqueued
// with Enqueue's own statements, in the transaction that moves the
// schedule's next tick on.
#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"
#include "server/store/postgres/rows.h"

namespace cueball::store::pg {
namespace {

std::vector<Schedule> ReadSchedules(const pqxx::result& res) {
  std::vector<Schedule> out;
  if (res.empty()) return out;
  const Columns c(res);
  const int name = c.Need("name"), cron = c.Need("cron"), tz = c.Need("timezone"),
            type = c.Need("workflow_type"), input = c.Need("input"), queue = c.Need("queue"),
            priority = c.Need("priority"), tags = c.Need("tags"), catch_up = c.Need("catch_up"),
            paused = c.Need("paused_us"), next = c.Need("next_us"),
            last_tick = c.Need("last_tick_us"), last_run = c.Need("last_run_id"),
            created = c.Need("created_us"), updated = c.Need("updated_us"),
            db_now = c.Need("db_now_us");
  for (const auto& row : res) {
    Schedule s;
    s.name = Text(row[name]);
    s.cron = Text(row[cron]);
    s.timezone = Text(row[tz]);
    s.workflow_type = Text(row[type]);
    s.input = Text(row[input]);
    s.queue = Text(row[queue]);
    s.priority = static_cast<int>(Int(row[priority]));
    if (!row[tags].is_null()) s.tags = ParseTags(row[tags]);
    s.catch_up = Text(row[catch_up]);
    s.paused_at = OptTime(row[paused]);
    s.next_at = FromMicros(Int(row[next]));
    s.last_tick_at = OptTime(row[last_tick]);
    s.last_run_id = OptText(row[last_run]);
    s.created_at = FromMicros(Int(row[created]));
    s.updated_at = FromMicros(Int(row[updated]));
    s.db_now = FromMicros(Int(row[db_now]));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

StatusOr<Schedule> PgRunStore::CreateSchedule(const Schedule& s) {
  std::vector<Schedule> rows;
  Status st = pool_.With("create schedule", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    rows = ReadSchedules(Exec(tx, sql::kCreateSchedule, s.name, s.cron, s.timezone, s.workflow_type,
                              s.input, s.queue, s.priority, TagsJson(s.tags), s.catch_up,
                              ToMicros(s.next_at)));
    if (rows.empty()) return AlreadyExists("name: a schedule named '" + s.name + "' exists");
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows.front();
}

StatusOr<std::vector<Schedule>> PgRunStore::ListSchedules() {
  std::vector<Schedule> rows;
  Status st = pool_.With("list schedules", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    rows = ReadSchedules(Exec(tx, sql::kListSchedules));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

StatusOr<Schedule> PgRunStore::GetSchedule(const std::string& name) {
  std::vector<Schedule> rows;
  Status st = pool_.With("get schedule", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    rows = ReadSchedules(Exec(tx, sql::kGetSchedule, name));
    if (rows.empty()) return NotFound("name: no schedule named '" + name + "'");
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows.front();
}

StatusOr<Schedule> PgRunStore::SetSchedulePaused(const std::string& name, bool paused,
                                                 std::optional<TimePoint> next_at) {
  std::vector<Schedule> rows;
  std::optional<int64_t> next_us;
  if (next_at) next_us = ToMicros(*next_at);
  Status st = pool_.With("pause schedule", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    rows = ReadSchedules(Exec(tx, sql::kSetSchedulePaused, name, paused, next_us));
    if (rows.empty()) return NotFound("name: no schedule named '" + name + "'");
    tx.commit();
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows.front();
}

Status PgRunStore::DeleteSchedule(const std::string& name) {
  return pool_.With("delete schedule", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    auto res = Exec(tx, sql::kDeleteSchedule, name);
    if (res.affected_rows() == 0) return NotFound("name: no schedule named '" + name + "'");
    tx.commit();
    return Status::Ok();
  });
}

StatusOr<std::vector<Schedule>> PgRunStore::DueSchedules(int limit) {
  std::vector<Schedule> rows;
  Status st = pool_.With("due schedules", [&](pqxx::connection& c) -> Status {
    pqxx::read_transaction tx(c);
    rows = ReadSchedules(Exec(tx, sql::kDueSchedules, limit));
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return rows;
}

StatusOr<bool> PgRunStore::FireSchedule(const std::string& name, TimePoint expected_next,
                                        TimePoint new_next, TimePoint tick,
                                        const std::optional<NewRun>& run) {
  bool fired = false, wrote = false;
  Status st = pool_.With("fire schedule", [&](pqxx::connection& c) -> Status {
    pqxx::work tx(c);
    std::optional<std::string> run_id;
    if (run) run_id = run->id;
    auto res = Exec(tx, sql::kFireSchedule, name, ToMicros(expected_next), ToMicros(new_next),
                    ToMicros(tick), run_id);
    if (res.empty()) return Status::Ok();  // fired elsewhere, paused, changed or deleted
    if (run) {
      // The tick's key makes a second enqueue of it return the first run.
      auto enq = EnqueueIn(tx, {*run}, &wrote);
      if (!enq.ok()) return enq.status();
    }
    tx.commit();
    fired = true;
    return Status::Ok();
  });
  if (!st.ok()) return st;
  if (wrote) EventsWritten();
  return fired;
}

}  // namespace cueball::store::pg
