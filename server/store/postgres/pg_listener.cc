#include "server/store/postgres/pg_listener.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <pqxx/pqxx>
#include <random>

#include "server/logging/logging.h"
#include "server/store/postgres/pg_event_store.h"
#include "server/store/postgres/pg_pool.h"
#include "server/store/postgres/pg_run_store.h"
#include "server/store/postgres/pg_sql.h"

namespace cueball::store::pg {
namespace {

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& c, const std::string& channel, ChangeListener* sink)
      : pqxx::notification_receiver(c, channel), sink_(sink) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    if (channel() == kReadyChannel) {
      sink_->OnRunsReady(payload);
    } else if (channel() == kEventsChannel) {
      try {
        sink_->OnEventsSequenced(std::stoll(payload));
      } catch (const std::exception&) {
        // Not ours: ignore a malformed payload.
      }
    } else {
      sink_->OnRunFinished(payload);
    }
  }

 private:
  ChangeListener* sink_;
};

}  // namespace

PgListener::PgListener(std::string dsn, ChangeListener* sink)
    : dsn_(WithConnectionDefaults(dsn, 0)), sink_(sink) {}

PgListener::~PgListener() { Stop(); }

void PgListener::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PgListener::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PgListener::Loop() {
  auto log = spdlog::get("store");
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  bool was_connected = false;
  while (!stop_) {
    try {
      pqxx::connection conn(dsn_);
      Receiver ready(conn, kReadyChannel, sink_);
      Receiver finished(conn, kFinishedChannel, sink_);
      Receiver events(conn, kEventsChannel, sink_);
      // Receivers LISTEN lazily; a trivial statement makes the LISTENs take effect now.
      pqxx::nontransaction(conn).exec(sql::kPing.text);
      listening_ = true;
      if (was_connected || failures > 0) {
        if (log) logging::Info(log, "listener reconnected");
        sink_->OnResync();
      }
      was_connected = true;
      failures = 0;
      while (!stop_) conn.await_notification(0, 200000);
    } catch (const std::exception& e) {
      if (stop_) break;
      ++failures;
      // Full jitter on a capped exponential: spreads reconnects of many daemons.
      int64_t cap_ms = std::min<int64_t>(10000, 100LL << std::min(failures, 10));
      int64_t sleep_ms = std::uniform_int_distribution<int64_t>(0, cap_ms)(rng);
      if (log) {
        logging::Warn(log, "listener disconnected",
                      {{"error", std::string(e.what()).substr(0, 200)}, {"retry_in_ms", sleep_ms}});
      }
      auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(sleep_ms);
      while (!stop_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
  }
}

}  // namespace cueball::store::pg
