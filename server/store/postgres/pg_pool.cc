#include "server/store/postgres/pg_pool.h"

#include <algorithm>
#include <random>
#include <regex>
#include <utility>
#include <vector>

namespace cueball::store::pg {

std::string WithConnectionDefaults(const std::string& dsn, int statement_timeout_ms) {
  const bool url = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
  std::vector<std::pair<std::string, std::string>> defaults = {{"connect_timeout", "5"},
                                                               {"keepalives", "1"},
                                                               {"keepalives_idle", "30"},
                                                               {"keepalives_interval", "10"},
                                                               {"keepalives_count", "3"}};
  // libpq passes `options` to the server as command-line switches. A client
  // frozen inside a transaction (SIGSTOP, a long GC-like pause) would hold its
  // row locks forever; the server ends such a transaction after 10 s, so
  // other daemons can rescue the runs it held.
  // JIT is off: every statement here is short, and PostgreSQL compiles any
  // plan estimated above `jit_above_cost`, which the waker's pass reached
  // with a deep queue (25-35 ms of compiling for a 0.1 ms query, measured
  // with auto_explain during the throughput bench).
  std::string options = "-c jit=off -c idle_in_transaction_session_timeout=10000";
  if (statement_timeout_ms > 0) {
    options = "-c statement_timeout=" + std::to_string(statement_timeout_ms) + " " + options;
  }
  defaults.push_back({"options", options});
  std::string out = dsn;
  for (const auto& [key, value] : defaults) {
    if (dsn.find(key + "=") != std::string::npos) continue;  // the user's setting wins
    if (url) {
      std::string v = value;
      for (size_t i = 0; (i = v.find(' ', i)) != std::string::npos;) v.replace(i, 1, "%20");
      for (size_t i = 0; (i = v.find('=', i)) != std::string::npos; i += 3) v.replace(i, 1, "%3D");
      out += (out.find('?') == std::string::npos ? "?" : "&") + key + "=" + v;
    } else {
      out += " " + key + "='" + value + "'";
    }
  }
  return out;
}

Status StatusFromCurrentException(const std::string& what) {
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    // libpq says why (refused, auth failed, no such database); never the password.
    std::string why = e.what();
    auto nl = why.find('\n');
    if (nl != std::string::npos) why.resize(nl);
    return Unavailable(what + ": database unavailable: " + why);
  } catch (const pqxx::in_doubt_error& e) {
    return Unavailable(what + ": connection lost during commit; the outcome is unknown");
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    const std::string cls = state.substr(0, 2);
    std::string msg = what + ": " + e.what();
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    if (cls == "08" || state == "57P01" || state == "57P02" || state == "57P03" || cls == "53") {
      return Unavailable(msg);
    }
    if (state == "40001" || state == "40P01") return Aborted(msg);
    if (state == "57014") return {StatusCode::kDeadlineExceeded, msg};
    if (cls == "23") return FailedPrecondition(msg);
    if (cls == "22") return InvalidArgument(msg);
    return Internal(msg);
  } catch (const std::exception& e) {
    return Internal(what + ": " + e.what());
  }
}

PgPool::PgPool(std::string dsn, int size, Prepare prepare)
    : dsn_(std::move(dsn)), size_(size < 1 ? 1 : size), prepare_(std::move(prepare)) {}

PgPool::~PgPool() = default;

std::unique_ptr<pqxx::connection> PgPool::Acquire(Status* error) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    auto now = std::chrono::steady_clock::now();
    if (now < retry_after_) {
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_after_ - now);
      *error = Unavailable("cannot connect to the database: " + last_connect_error_ +
                           " (next attempt in " + std::to_string(wait.count()) + " ms)");
      return nullptr;
    }
    ++open_;
  }
  try {
    auto conn = std::make_unique<pqxx::connection>(dsn_);
    if (prepare_) prepare_(*conn);
    std::lock_guard<std::mutex> lock(mu_);
    connect_failures_ = 0;
    return conn;
  } catch (const std::exception& e) {
    // libpq's message says why (refused, auth, unknown database) without the password.
    std::string why = e.what();
    auto nl = why.find('\n');
    if (nl != std::string::npos) why.resize(nl);
    *error = Unavailable("cannot connect to the database: " + why);
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    ++connect_failures_;
    thread_local std::mt19937_64 rng(std::random_device{}());
    int64_t cap_ms = std::min<int64_t>(5000, 50LL << std::min(connect_failures_, 7));
    retry_after_ =
        std::chrono::steady_clock::now() +
        std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, cap_ms)(rng));
    last_connect_error_ = why;
    cv_.notify_one();
    return nullptr;
  }
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

Status PgPool::With(const char* op, const std::function<Status(pqxx::connection&)>& fn) {
  Status error;
  auto conn = Acquire(&error);
  if (!conn) return Unavailable(std::string(op) + ": " + error.message());
  Status result;
  try {
    result = fn(*conn);
  } catch (...) {
    result = StatusFromCurrentException(op);
    if (result.code() == StatusCode::kUnavailable) conn.reset();  // do not reuse a broken one
  }
  Release(std::move(conn));
  return result;
}

PgPool::Stats PgPool::stats() {
  std::lock_guard<std::mutex> lock(mu_);
  return Stats{size_, open_, open_ - static_cast<int>(idle_.size())};
}

}  // namespace cueball::store::pg
