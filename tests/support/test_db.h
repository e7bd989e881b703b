// TestDatabase: a fresh PostgreSQL database for one test, created from the
// server named by CUEBALL_TEST_DATABASE_URL (scripts/test.sh sets it) and
// dropped when the object goes away, so tests can run in parallel and never
// see each other's rows. A missing variable or server fails the test.
#pragma once

#include <string>

namespace cueball::testing {

class TestDatabase {
 public:
  // `migrate`: apply the built-in migrations before returning.
  explicit TestDatabase(bool migrate = true);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // Runs SQL and returns the first column of the first row as text ("" if none).
  std::string Scalar(const std::string& sql) const;
  void Exec(const std::string& sql) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

// The admin URL from the environment; throws (failing the test) if unset.
std::string AdminUrl();

}  // namespace cueball::testing
