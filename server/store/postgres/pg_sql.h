// Running the statements of sql/*.sql (compiled in as sql::k... by
// cmake/EmbedSql.cmake; the expanded texts are in build/sql/).
#pragma once

#include <memory>
#include <pqxx/pqxx>
#include <utility>
#include <vector>

#include "server/store/postgres/statements.h"

namespace cueball::store::pg {

// Runs a statement as an unnamed one: planned for its parameters' values.
template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& tx, const sql::Statement& s, Args&&... args) {
  return tx.exec_params(s.text, std::forward<Args>(args)...);
}

// Prepares a statement on a connection under its own name.
inline void Prepare(pqxx::connection& c, const sql::Statement& s) { c.prepare(s.name, s.text); }

// Runs a statement prepared with Prepare.
template <typename... Args>
pqxx::result ExecPrepared(pqxx::transaction_base& tx, const sql::Statement& s, Args&&... args) {
  return tx.exec_prepared(s.name, std::forward<Args>(args)...);
}

// A change made by one statement runs without BEGIN and COMMIT (PostgreSQL
// commits a single statement atomically on its own): one round trip. A
// change of several statements that must commit together gets a transaction.
inline std::unique_ptr<pqxx::transaction_base> BeginChange(pqxx::connection& c,
                                                           bool one_statement) {
  if (one_statement) return std::make_unique<pqxx::nontransaction>(c);
  return std::make_unique<pqxx::work>(c);
}

// Arrays from PgArrayWriter (pg_array.h) as a statement's binary parameters.
template <typename... Writers>
std::vector<pqxx::binarystring> Binary(Writers&... arrays) {
  std::vector<pqxx::binarystring> out;
  out.reserve(sizeof...(Writers));
  (out.emplace_back(arrays.Take()), ...);
  return out;
}

}  // namespace cueball::store::pg
