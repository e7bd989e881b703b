// App: wires config, store, engine and api into a running daemon and shuts
// them down in order on SIGINT/SIGTERM: stop accepting calls, answer
// waiters, drain in-flight steps, stop listening for notifications.
#pragma once

#include "server/config/config.h"

namespace cueball::app {

// Blocks SIGINT/SIGTERM in the calling thread; call before any thread starts.
void BlockShutdownSignals();
// Runs the daemon (or only the migrations) until a shutdown signal. Returns
// the process exit code.
int Run(const config::Config& config);

}  // namespace cueball::app
