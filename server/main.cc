// cueballd: flags and environment -> Config -> App::Run(). Nothing else.
#include "server/app/app.h"
#include "server/config/config.h"

int main(int argc, char** argv) {
  cueball::config::Config config;
  switch (cueball::config::Parse(argc, argv, &config)) {
    case cueball::config::ParseOutcome::kExitOk:
      return 0;
    case cueball::config::ParseOutcome::kExitError:
      return 2;
    case cueball::config::ParseOutcome::kRun:
      break;
  }
  cueball::app::BlockShutdownSignals();
  return cueball::app::Run(config);
}
