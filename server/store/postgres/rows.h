// Reading result rows: one place per row shape, each column found by its
// name (the SQL's alias) once per result, never by a literal position.
// The SQL lives in sql/*.sql; a reader here names the columns it reads and
// says which a statement may leave out (they read as the field's default).
#pragma once

#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <vector>

#include "server/domain/run.h"
#include "server/store/run_store.h"

namespace cueball::store::pg {

// The columns of one result, by name.
class Columns {
 public:
  explicit Columns(const pqxx::result& res);
  // The column's number, or -1 when the result has none of that name.
  int Find(std::string_view name) const;
  // The column's number; throws naming the column when there is none (a
  // statement and its reader disagree: a bug, not bad input).
  int Need(std::string_view name) const;

 private:
  std::vector<std::string> names_;
};

// A value by its column's name in a result's row; throws naming the column
// when the result has none (a statement and its reader disagree).
pqxx::field Field(const pqxx::result& res, int row, std::string_view name);

// Every row's text in column `name` (the column looked up once).
std::vector<std::string> ReadTexts(const pqxx::result& res, std::string_view name);

// A text[] column selected as array_to_json(...)::text, as strings.
std::vector<std::string> ParseTextArray(const std::string& json_array);

// Field readers that skip libpqxx's general conversions (field::as took a
// sixth of the daemon's instructions, reading the rows of claims and
// enqueues). Like field::as, a NULL where a value must be is an error.
std::string Text(const pqxx::field& f);
int64_t Int(const pqxx::field& f);
std::optional<std::string> OptText(const pqxx::field& f);
std::optional<TimePoint> OptTime(const pqxx::field& f);              // from microseconds
std::map<std::string, std::string> ParseTags(const pqxx::field& f);  // a JSON object of strings

// Runs: the columns of sql/fragments/run_columns.sql. A statement may select
// fewer (the claim, a pruned run's summary); those read as Run's defaults.
class RunReader {
 public:
  explicit RunReader(const pqxx::result& res);
  Run Read(const pqxx::row& row) const;
  // Whether the row holds a run (its id is not NULL: a claim that took
  // nothing, a record's outcome whose run was not asked for).
  bool Has(const pqxx::row& row) const { return !row[id_].is_null(); }

 private:
  int id_, workflow_type_, queue_, priority_, status_, step_index_, step_name_, attempt_, input_,
      state_, result_, error_, idempotency_key_, created_, updated_, run_at_, started_, finished_,
      parent_id_, wait_, tags_, deadline_, deadline_action_;
};

// Every row of `res` as a run (none for an empty result); `pruned` marks
// runs read from their summaries.
std::vector<Run> ReadRuns(const pqxx::result& res, bool pruned = false);

// Leased runs: run columns and sql/fragments/lease_columns.sql.
class ClaimedReader {
 public:
  explicit ClaimedReader(const pqxx::result& res);
  ClaimedRun Read(const pqxx::row& row) const;
  bool Has(const pqxx::row& row) const { return run_.Has(row); }

 private:
  RunReader run_;
  int lease_id_, lease_expires_, lease_owner_;
};

// A run's children (sql/get_run_children.sql).
std::vector<ChildRun> ReadChildren(const pqxx::result& res);
// A run's history (sql/get_run_history.sql).
std::vector<Event> ReadHistory(const pqxx::result& res, const std::string& run_id,
                               const std::string& workflow_type);
// Signals: sql/fragments/signal_columns.sql.
StoredSignal ReadSignal(const pqxx::result& res, int row);
// Blobs: sql/fragments/blob_info_columns.sql, every row.
std::vector<BlobInfo> ReadBlobInfos(const pqxx::result& res);

}  // namespace cueball::store::pg
