// PgListener: one dedicated connection that LISTENs on cueball's channels and
// forwards notifications to a ChangeListener from its own thread. When the
// connection drops it reconnects with capped exponential backoff and full
// jitter, then calls OnResync() so that nothing waits on a missed NOTIFY.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "server/store/change_listener.h"
#include "server/store/run_store.h"

namespace cueball::store::pg {

class PgListener {
 public:
  PgListener(std::string dsn, ChangeListener* sink);
  ~PgListener();

  void Start();
  void Stop();  // joins the thread; idempotent
  // True once the first LISTEN succeeded (tests wait on this).
  bool listening() const { return listening_.load(); }

 private:
  void Loop();

  const std::string dsn_;
  ChangeListener* const sink_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> listening_{false};
  std::thread thread_;
};

}  // namespace cueball::store::pg
