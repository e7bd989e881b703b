// The statements of server/store/postgres/sql/ as compiled in, against a
// freshly migrated database; and schema.sql, today's schema in one file,
// against what the migrations make.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <regex>
#include <set>
#include <sstream>

#include "server/store/postgres/statements.h"
#include "tests/support/process.h"
#include "tests/support/test_db.h"

using namespace cueball;
using namespace cueball::testing;
namespace sql = cueball::store::pg::sql;

namespace {

// The statement's first keyword, after its comments.
std::string FirstKeyword(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const size_t at = line.find_first_not_of(" \t");
    if (at == std::string::npos || line.compare(at, 2, "--") == 0) continue;
    return line.substr(at, line.find_first_of(" \t(", at) - at);
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("every statement of sql/ is whole, named once, and compiles against the schema") {
  TestDatabase db;
  pqxx::connection c(db.url());
  const std::regex placeholder(R"(\{\{|\}\}|%[A-Z_]+%)");
  std::set<std::string> names;
  int prepared = 0;
  REQUIRE(sql::All().size() >= 40);
  for (const sql::Statement* s : sql::All()) {
    INFO("sql/" << s->name << ".sql");
    CHECK(names.insert(s->name).second);
    CHECK_FALSE(std::regex_search(s->text, placeholder));
    const std::string kw = FirstKeyword(s->text);
    // PREPARE takes the statements that run with parameters; the others
    // (SET, VACUUM, CREATE) are utility commands run as they are.
    if (kw == "SELECT" || kw == "WITH" || kw == "INSERT" || kw == "UPDATE" || kw == "DELETE") {
      pqxx::work tx(c);
      CHECK_NOTHROW(tx.exec("PREPARE probe_" + std::string(s->name) + " AS " + s->text));
      ++prepared;
    } else {
      CHECK((kw == "SET" || kw == "RESET" || kw == "VACUUM" || kw == "CREATE"));
    }
  }
  CHECK(prepared >= 40);
}

TEST_CASE("schema.sql is the schema the migrations make") {
  TestDatabase db;
  const std::string source = std::string(CUEBALL_SOURCE_DIR) + "/server/store/postgres/schema.sql";
  std::string pg_dump;
  for (const auto& dir : std::filesystem::directory_iterator("/usr/lib/postgresql")) {
    const std::string candidate = (dir.path() / "bin" / "pg_dump").string();
    if (std::filesystem::exists(candidate) && candidate > pg_dump) pg_dump = candidate;
  }
  REQUIRE(!pg_dump.empty());
  auto dump = Run({pg_dump, "--schema-only", "--no-owner", "--no-privileges", "-d", db.url()});
  REQUIRE(dump.exit_code == 0);
  std::istringstream in(dump.out);
  std::string header =
      "-- Today's schema: what `pg_dump --schema-only --no-owner --no-privileges` prints\n"
      "-- for a database migrated to the last file of migrations/. Do not edit: add a\n"
      "-- migration. tests/pg/sql_pgtest.cc regenerates it and fails when it differs;\n"
      "-- it writes the fresh one to build/schema.sql to copy over this file.\n";
  std::string fresh = header;
  for (std::string line; std::getline(in, line);) {
    // Left out: the versions that made it, and the \restrict key that
    // pg_dump (since 15.14) draws at random for each dump.
    if (line.rfind("-- Dumped from database version", 0) == 0 ||
        line.rfind("-- Dumped by pg_dump version", 0) == 0 || line.rfind("\\restrict ", 0) == 0 ||
        line.rfind("\\unrestrict ", 0) == 0) {
      continue;
    }
    fresh += line + "\n";
  }
  const std::string built = std::string(CUEBALL_BINARY_DIR) + "/schema.sql";
  std::ofstream(built) << fresh;
  INFO(
      "server/store/postgres/schema.sql differs from a fresh dump; if a new migration is the "
      "reason, run: cp "
      << built << " " << source);
  CHECK(ReadFile(source) == fresh);
}
