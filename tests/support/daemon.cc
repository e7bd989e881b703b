#include "tests/support/daemon.h"

#include <algorithm>
#include <regex>
#include <stdexcept>

#include "tests/support/wait_for.h"

namespace cueball::testing {

Daemon::Daemon(const TestDatabase& db, std::vector<std::string> extra,
               std::map<std::string, std::string> env)
    : Daemon(db.url(), std::move(extra), std::move(env)) {}

Daemon::Daemon(const std::string& database_url, std::vector<std::string> extra,
               std::map<std::string, std::string> env) {
  std::vector<std::string> argv = {BuiltBinary("cueballd"), "--database-url", database_url,
                                   "--listen", "127.0.0.1:0"};
  auto has = [&](const std::string& flag) {
    return std::find(extra.begin(), extra.end(), flag) != extra.end();
  };
  // Small, quick defaults unless the test sets its own.
  if (!has("--workers")) argv.insert(argv.end(), {"--workers", "4"});
  if (!has("--drain-timeout")) argv.insert(argv.end(), {"--drain-timeout", "1s"});
  // Daemons run side by side: each takes a free port for its metrics too.
  if (!has("--metrics-listen") && !env.count("CUEBALL_METRICS_LISTEN"))
    argv.insert(argv.end(), {"--metrics-listen", "127.0.0.1:0"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc_ = std::make_unique<Process>(argv, env);
  // Text or JSON logs: the address is known once it listens; calls work once
  // it serves (with --auto-migrate false, that may be later: tests wait).
  const bool wait_serving =
      !(has("--auto-migrate") || env.count("CUEBALL_AUTO_MIGRATE") || env.count("CUEBALL_CONFIG"));
  std::regex re(R"((main listening address=|"msg":"listening","address":")127\.0\.0\.1:(\d+))");
  std::regex serving_re(R"(main serving |"msg":"serving")");
  std::regex metrics_re(
      R"((metrics endpoint address=|"msg":"metrics endpoint","address":")127\.0\.0\.1:(\d+))");
  bool exited = false;
  bool up = WaitFor([&] {
    if (proc_->Wait(std::chrono::milliseconds(0))) {
      exited = true;  // it will not come up: stop waiting
      return true;
    }
    std::smatch m;
    std::string err = proc_->Stderr();
    if (wait_serving && !std::regex_search(err, serving_re)) return false;
    if (std::regex_search(err, m, re)) {
      address_ = "127.0.0.1:" + m[2].str();
      if (std::regex_search(err, m, metrics_re)) metrics_address_ = "127.0.0.1:" + m[2].str();
      return true;
    }
    return false;
  });
  if (!up || exited) throw std::runtime_error("cueballd did not start:\n" + proc_->Stderr());
}

CommandResult Daemon::Cli(std::vector<std::string> args) {
  std::vector<std::string> argv = {BuiltBinary("cueball"), "--server", address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

}  // namespace cueball::testing
