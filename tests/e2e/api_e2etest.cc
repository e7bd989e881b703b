// End to end through the gRPC wire with the C++ client library: the status
// codes and messages a service calling cueballd sees, batches, paging,
// deadlines and concurrent idempotent enqueues across client connections.
#include <google/protobuf/util/time_util.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "client/client.h"
#include "tests/support/daemon.h"
#include "tests/support/test_db.h"
#include "tests/support/wait_for.h"

using namespace cueball;
using namespace cueball::testing;
using google::protobuf::util::TimeUtil;

namespace {

v1::EnqueueRequest Req(const std::string& type, const std::string& input = "{}") {
  v1::EnqueueRequest r;
  r.set_workflow_type(type);
  r.set_input(input);
  return r;
}

}  // namespace

TEST_CASE("EnqueueBatch is all or none and names the bad item") {
  TestDatabase db(false);
  Daemon d(db);
  client::Client c(d.address());
  v1::EnqueueBatchRequest empty;
  v1::EnqueueBatchResponse resp;
  auto s = c.EnqueueBatch(empty, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::StartsWith("runs"));

  v1::EnqueueBatchRequest big;
  for (int i = 0; i < 1001; ++i) *big.add_runs() = Req("noop");
  CHECK(c.EnqueueBatch(big, &resp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);

  v1::EnqueueBatchRequest mixed;
  *mixed.add_runs() = Req("noop");
  *mixed.add_runs() = Req("noop", "{\"unterminated\":");
  s = c.EnqueueBatch(mixed, &resp);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::StartsWith("runs[1].input"));
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "0");

  v1::EnqueueBatchRequest good;
  for (int i = 0; i < 100; ++i) {
    auto* r = good.add_runs();
    *r = Req("noop", "{\"i\":" + std::to_string(i) + "}");
    r->set_idempotency_key("batch-" + std::to_string(i));
  }
  v1::EnqueueBatchResponse first, second;
  REQUIRE(c.EnqueueBatch(good, &first).ok());
  REQUIRE(first.runs_size() == 100);
  CHECK(first.runs(37).created());
  CHECK(first.runs(37).run().input() == R"({"i": 37})");  // results in request order
  REQUIRE(c.EnqueueBatch(good, &second).ok());
  for (int i = 0; i < 100; ++i) {
    CHECK_FALSE(second.runs(i).created());
    CHECK(second.runs(i).run().id() == first.runs(i).run().id());
  }
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "100");
}

TEST_CASE("the payload cap is configurable and answers RESOURCE_EXHAUSTED") {
  TestDatabase db(false);
  Daemon d(db, {"--max-payload-bytes", "1024"});
  client::Client c(d.address());
  v1::EnqueueResponse resp;
  auto s = c.Enqueue(Req("noop", "\"" + std::string(2000, 'x') + "\""), &resp);
  CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  CHECK_THAT(s.error_message(), Catch::StartsWith("input") && Catch::Contains("1024"));
  CHECK(c.Enqueue(Req("noop", "\"" + std::string(500, 'x') + "\""), &resp).ok());
}

TEST_CASE("List and Get reject bad arguments with the field named") {
  TestDatabase db(false);
  Daemon d(db);
  client::Client c(d.address());
  v1::ListRequest l;
  v1::ListResponse lr;
  l.set_page_size(5000);
  auto s = c.List(l, &lr);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::StartsWith("page_size"));
  l.set_page_size(10);
  l.add_statuses(static_cast<v1::RunStatus>(99));
  s = c.List(l, &lr);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_THAT(s.error_message(), Catch::StartsWith("statuses[0]"));

  v1::GetRequest g;
  v1::GetResponse gr;
  g.set_id(RunId::NewV7().str());
  CHECK(c.Get(g, &gr).error_code() == grpc::StatusCode::NOT_FOUND);
  v1::CancelRequest cr;
  v1::CancelResponse cresp;
  cr.set_id("nope");
  CHECK(c.Cancel(cr, &cresp).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE("Wait answers before the caller's deadline with satisfied=false") {
  TestDatabase db(false);
  Daemon d(db);
  client::Client c(d.address());
  v1::EnqueueResponse er;
  REQUIRE(c.Enqueue(Req("demo.sleep", R"({"ms":60000})"), &er).ok());
  v1::WaitRequest w;
  w.add_ids(er.run().id());
  *w.mutable_timeout() = TimeUtil::SecondsToDuration(60);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(2000));
  auto channel = grpc::CreateChannel(d.address(), grpc::InsecureChannelCredentials());
  auto stub = v1::Workflows::NewStub(channel);
  v1::WaitResponse wr;
  auto s = stub->Wait(&ctx, w, &wr);
  REQUIRE(s.ok());
  CHECK_FALSE(wr.satisfied());
  REQUIRE(wr.runs_size() == 1);
  CHECK(wr.runs(0).status() != v1::RUN_STATUS_SUCCEEDED);

  w.clear_ids();
  w.add_ids(RunId::NewV7().str());
  v1::WaitResponse missing;
  s = c.Wait(w, &missing);
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK_THAT(s.error_message(), Catch::StartsWith("ids"));
}

TEST_CASE("many clients enqueueing with one idempotency key get one run") {
  TestDatabase db(false);
  Daemon d(db);
  std::mutex mu;
  std::set<std::string> ids;
  int created = 0, failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      client::Client c(d.address());  // its own connection
      for (int i = 0; i < 10; ++i) {
        auto r = Req("noop");
        r.set_idempotency_key("shared-key");
        v1::EnqueueResponse resp;
        auto s = c.Enqueue(r, &resp);
        std::lock_guard<std::mutex> lock(mu);
        if (!s.ok()) {
          ++failures;
          continue;
        }
        ids.insert(resp.run().id());
        created += resp.created();
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(created == 1);
  CHECK(ids.size() == 1);
  CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "1");
}

TEST_CASE("backpressure: queued depth, concurrent waiters and request rate") {
  TestDatabase db(false);
  SECTION("queued depth") {
    // This daemon serves another queue, so runs on "default" stay queued.
    Daemon d(db, {"--max-queued", "5", "--queues", "elsewhere"});
    client::Client c(d.address());
    v1::EnqueueResponse resp;
    for (int i = 0; i < 5; ++i) REQUIRE(c.Enqueue(Req("noop"), &resp).ok());
    auto s = c.Enqueue(Req("noop"), &resp);
    CHECK(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
    CHECK_THAT(s.error_message(), Catch::Contains("limit 5"));
    CHECK(db.Scalar("SELECT count(*) FROM cueball_runs") == "5");
  }
  SECTION("concurrent waiters") {
    Daemon d(db, {"--max-waiters", "2"});
    client::Client c(d.address());
    v1::EnqueueResponse slow;
    REQUIRE(c.Enqueue(Req("demo.sleep", R"({"ms":60000})"), &slow).ok());
    v1::WaitRequest w;
    w.add_ids(slow.run().id());
    *w.mutable_timeout() = TimeUtil::SecondsToDuration(20);
    std::vector<std::thread> waiters;
    std::atomic<int> waited{0};
    for (int i = 0; i < 2; ++i) {
      waiters.emplace_back([&] {
        client::Client wc(d.address());
        while (true) {
          v1::WaitResponse r;
          auto s = wc.Wait(w, &r);
          // A probe below may hold a slot for a moment: come back until admitted.
          if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            continue;
          }
          if (s.ok()) ++waited;
          return;
        }
      });
    }
    // Once both are registered, a third is turned away at once.
    grpc::Status third;
    bool rejected = WaitFor([&] {
      v1::WaitRequest quick = w;
      *quick.mutable_timeout() = TimeUtil::MillisecondsToDuration(1);
      v1::WaitResponse r;
      third = c.Wait(quick, &r);
      return third.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
    });
    CHECK(rejected);
    CHECK_THAT(third.error_message(), Catch::Contains("Wait calls"));
    v1::CancelRequest cancel;
    cancel.set_id(slow.run().id());
    v1::CancelResponse cr;
    REQUIRE(c.Cancel(cancel, &cr).ok());  // releases the two waiters
    for (auto& t : waiters) t.join();
    CHECK(waited == 2);
  }
  SECTION("request rate") {
    Daemon d(db, {"--max-request-rate", "5"});
    client::Client c(d.address());
    int ok = 0, limited = 0;
    for (int i = 0; i < 40; ++i) {
      v1::ListWorkflowTypesResponse r;
      auto s = c.ListWorkflowTypes(&r);
      if (s.ok()) ++ok;
      if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++limited;
    }
    CHECK(limited > 0);
    CHECK(ok >= 5);
    CHECK(ok + limited == 40);
  }
}
