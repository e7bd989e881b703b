// Compiled with cueball_engine's include path only (tests/CMakeLists.txt):
// with WALL_PROBE_FORBIDDEN it includes the Postgres store, which the build
// must refuse; without, a store interface, which it must accept.
#ifdef WALL_PROBE_FORBIDDEN
#include "server/store/postgres/pg_run_store.h"
#else
#include "server/store/run_store.h"
#endif

int wall_probe = 0;
