// PgPool: a fixed-size pool of libpqxx connections to one database.
// Connections are opened lazily and replaced when they break. With() lends a
// connection to a callback and turns any libpqxx exception into a Status
// (sorted by SQLSTATE class), so no exception leaves the store. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "server/domain/status.h"

namespace cueball::store::pg {

// Maps the exception in flight (call inside a catch block) to a Status.
Status StatusFromCurrentException(const std::string& what);

// Adds cueball's connection defaults to a DSN (URL or key=value form), each
// only where the DSN does not set it already: connect_timeout=5 (seconds),
// TCP keepalives (idle 30 s, interval 10 s, 3 probes) so that a half-open
// connection is noticed, a statement timeout so that no request waits on the
// database forever (`statement_timeout_ms` 0 leaves it unset), and a 10 s
// idle-in-transaction timeout so a frozen client cannot hold locks forever.
std::string WithConnectionDefaults(const std::string& dsn, int statement_timeout_ms);

class PgPool {
 public:
  using Prepare = std::function<void(pqxx::connection&)>;
  // `prepare` runs once on every new connection (e.g. to prepare statements).
  PgPool(std::string dsn, int size, Prepare prepare = nullptr);
  ~PgPool();

  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // Runs fn with a pooled connection. `op` names the operation in errors.
  Status With(const char* op, const std::function<Status(pqxx::connection&)>& fn);

  const std::string& dsn() const { return dsn_; }

  struct Stats {
    int size = 0;    // most connections
    int open = 0;    // connections in existence
    int in_use = 0;  // lent out right now
  };
  Stats stats();

 private:
  std::unique_ptr<pqxx::connection> Acquire(Status* error);
  void Release(std::unique_ptr<pqxx::connection> conn);

  const std::string dsn_;
  const int size_;
  Prepare prepare_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  int open_ = 0;  // connections in existence (idle + lent)
  // After a failed connect, new connects wait out a capped exponential
  // backoff with full jitter; calls in that window fail fast (UNAVAILABLE).
  int connect_failures_ = 0;
  std::chrono::steady_clock::time_point retry_after_{};
  std::string last_connect_error_;
};

}  // namespace cueball::store::pg
