#include "tests/support/private_pg.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>

#include "tests/support/process.h"

namespace cueball::testing {

PrivatePostgres::PrivatePostgres() {
  char tmpl[] = "/tmp/cueball-pgpriv.XXXXXX";
  REQUIRE(mkdtemp(tmpl));
  dir_ = tmpl;
  for (int i = 0; i < 5 && url_.empty(); ++i) {
    int port = 40000 + static_cast<int>(getpid() % 10000) + i * 7;
    if (Script({"start", dir_, std::to_string(port)}) == 0) {
      port_ = std::to_string(port);
      url_ = "postgresql://postgres@127.0.0.1:" + port_ + "/postgres";
    }
  }
  REQUIRE_FALSE(url_.empty());
}

PrivatePostgres::~PrivatePostgres() {
  Script({"stop", dir_});
  Run({"/bin/rm", "-rf", dir_});
}

int PrivatePostgres::Restart() { return Script({"restart", dir_}); }
int PrivatePostgres::Stop() { return Script({"stop", dir_}); }
int PrivatePostgres::Start() { return Script({"start", dir_, port_}); }

int PrivatePostgres::Script(std::vector<std::string> args) {
  std::vector<std::string> argv = {"/bin/bash", std::string(CUEBALL_SOURCE_DIR) + "/scripts/pg.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = Run(argv, {}, std::chrono::seconds(90));
  if (r.exit_code != 0) WARN("pg.sh " << args[0] << " failed: " << r.err);
  return r.exit_code;
}

}  // namespace cueball::testing
