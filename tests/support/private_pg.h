// PrivatePostgres: a PostgreSQL cluster of one test's own (scripts/pg.sh),
// for tests that stop or restart the server, so that other tests running in
// parallel never notice. Removed when the object goes away.
#pragma once

#include <string>
#include <vector>

namespace cueball::testing {

class PrivatePostgres {
 public:
  PrivatePostgres();
  ~PrivatePostgres();
  PrivatePostgres(const PrivatePostgres&) = delete;
  PrivatePostgres& operator=(const PrivatePostgres&) = delete;

  const std::string& url() const { return url_; }
  int Restart();  // immediate mode, like a crash
  int Stop();
  int Start();  // again, on the same port

 private:
  static int Script(std::vector<std::string> args);
  std::string dir_, url_, port_;
};

}  // namespace cueball::testing
