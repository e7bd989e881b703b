#include "tests/support/test_db.h"

#include <cstdlib>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#include "server/store/postgres/migrator.h"

namespace cueball::testing {

std::string AdminUrl() {
  const char* url = std::getenv("CUEBALL_TEST_DATABASE_URL");
  if (!url || !*url) {
    throw std::runtime_error(
        "CUEBALL_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts "
        "PostgreSQL");
  }
  return url;
}

namespace {
std::string WithDatabase(const std::string& url, const std::string& db) {
  // postgresql://user@host:port/dbname[?params]
  auto q = url.find('?');
  std::string base = url.substr(0, q);
  std::string params = q == std::string::npos ? "" : url.substr(q);
  auto slash = base.rfind('/');
  if (slash == std::string::npos || slash < base.find("://") + 3) return base + "/" + db + params;
  return base.substr(0, slash + 1) + db + params;
}
}  // namespace

TestDatabase::TestDatabase(bool migrate) : admin_url_(AdminUrl()) {
  std::random_device rd;
  name_ = "cueball_t_" + std::to_string(rd()) + std::to_string(rd() % 1000);
  {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + name_);
  }
  url_ = WithDatabase(admin_url_, name_);
  if (migrate) {
    store::pg::Migrator m(url_, store::pg::BuiltinMigrations());
    auto r = m.Migrate();
    if (!r.ok()) throw std::runtime_error("migrate test database: " + r.status().message());
  }
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // Leaving a database behind is harmless: the whole cluster is thrown away.
  }
}

std::string TestDatabase::Scalar(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].as<std::string>();
}

void TestDatabase::Exec(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  tx.exec(sql);
}

}  // namespace cueball::testing
