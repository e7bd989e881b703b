// The node registry on real PostgreSQL: registration, heartbeats, clean stop
// and silence after a crash all show up in the liveness of the listing.
#include <catch2/catch.hpp>

#include "server/maintenance/node_registry.h"
#include "server/store/postgres/pg_node_store.h"
#include "tests/support/test_db.h"

using namespace cueball;
using cueball::testing::TestDatabase;

namespace {
store::NodeInfo Node(const std::string& id) {
  store::NodeInfo n;
  n.id = id;
  n.host = "host-" + id;
  n.pid = 42;
  n.version = "test";
  n.queues = {"default", "emails"};
  n.workers = 8;
  return n;
}

const maintenance::NodeView* Find(const std::vector<maintenance::NodeView>& v,
                                  const std::string& id) {
  for (const auto& n : v) {
    if (n.info.id == id) return &n;
  }
  return nullptr;
}
}  // namespace

TEST_CASE("nodes register, heartbeat, stop, and go silent") {
  TestDatabase db;
  store::pg::PgNodeStore s(db.url());
  maintenance::NodeRegistry a(&s, Node("a"), Millis(200));
  maintenance::NodeRegistry b(&s, Node("b"), Millis(200));
  a.Start("127.0.0.1:1111");
  b.Start("127.0.0.1:2222");

  auto list = a.List();
  REQUIRE(list.ok());
  REQUIRE(Find(*list, "a"));
  REQUIRE(Find(*list, "b"));
  CHECK(Find(*list, "a")->alive);
  CHECK(Find(*list, "a")->info.listen == "127.0.0.1:1111");
  CHECK(Find(*list, "a")->info.queues == std::vector<std::string>{"default", "emails"});

  b.Stop();  // clean exit
  list = a.List();
  CHECK_FALSE(Find(*list, "b")->alive);
  CHECK(Find(*list, "b")->info.stopped_at.has_value());

  // A crashed node stops heartbeating: simulate a second of silence.
  db.Exec("UPDATE cueball_nodes SET last_seen_at = now() - interval '1 second' WHERE id = 'a'");
  maintenance::NodeRegistry observer(&s, Node("observer"), Millis(200));
  list = observer.List();
  CHECK_FALSE(Find(*list, "a")->alive);
  // Its next heartbeat brings it back.
  REQUIRE(a.Beat().ok());
  CHECK(Find(*observer.List(), "a")->alive);

  // A row that vanished is re-registered by the heartbeat.
  db.Exec("DELETE FROM cueball_nodes WHERE id = 'a'");
  REQUIRE(a.Beat().ok());
  CHECK(Find(*observer.List(), "a"));
  a.Stop();
}
