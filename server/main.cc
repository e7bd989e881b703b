// cueballd: flags and environment -> Config -> App::Run(). Nothing else.
#include <cstdio>

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
  if (config.mode == cueball::config::Config::Mode::kPrintConfig) {
    std::fputs(config.effective.c_str(), stdout);
    return 0;
  }
  cueball::app::BlockShutdownSignals();
  return cueball::app::Run(config);
}
