// Slots without a database: what a dispatcher holds, how much it may claim,
// the order workers take runs in, next steps that stay, runs handed back
// when steps turn slow, and stopping.
#include "server/engine/slots.h"

#include <catch2/catch.hpp>
#include <thread>

using namespace cueball;
using namespace cueball::engine;

namespace {

std::shared_ptr<Attempt> A(const std::string& id) {
  auto a = std::make_shared<Attempt>();
  a->claimed.run.id = id;
  return a;
}

std::vector<std::shared_ptr<Attempt>> Many(const std::string& prefix, int n) {
  std::vector<std::shared_ptr<Attempt>> out;
  for (int i = 0; i < n; ++i) out.push_back(A(prefix + std::to_string(i)));
  return out;
}

// Runs `n` steps of `ms` each through the slots (claim, take, finish).
void Steps(Slots& s, int n, double ms) {
  for (int i = 0; i < n; ++i) {
    s.Claimed({A("warm" + std::to_string(i))}, false);
    auto a = s.NextReady();
    s.Finish(*a, ms, false);
  }
}

}  // namespace

TEST_CASE("slots: capacity is the workers, and sixteen times that while steps are fast") {
  Slots s(4, 400);
  CHECK(s.Capacity() == 4);
  CHECK_FALSE(s.steps_fast());
  CHECK(s.ToClaim(Millis(0)) == 4);
  Steps(s, 200, 1.0);  // the average falls from its slow start
  CHECK(s.steps_fast());
  CHECK(s.Capacity() == 4 * Slots::kClaimAheadFactor);
  CHECK(s.ToClaim(Millis(0)) == 64);
  Steps(s, 200, 50.0);
  CHECK_FALSE(s.steps_fast());
  CHECK(s.Capacity() == 4);
  // A claim asks for no more than its batch.
  Slots small_batch(100, 10);
  CHECK(small_batch.ToClaim(Millis(0)) == 10);
}

TEST_CASE("slots: held runs take their slots until they finish") {
  Slots s(3, 400);
  s.Claimed(Many("r", 3), true);
  CHECK(s.Held() == 3);
  CHECK(s.Running() == 3);
  CHECK(s.ToClaim(Millis(0)) == 0);  // none free
  auto a = s.NextReady();
  REQUIRE(a);
  CHECK(a->claimed.run.id == "r0");  // claim order
  CHECK(s.Find("r0") == a);
  // Finishing frees the slot and hands the worker the next ready run.
  auto next = s.Finish(*a, std::nullopt, /*take_next=*/true);
  REQUIRE(next);
  CHECK(next->claimed.run.id == "r1");
  CHECK(s.Held() == 2);
  CHECK(s.Find("r0") == nullptr);
  CHECK(s.ToClaim(Millis(0)) == 1);
}

TEST_CASE("slots: a step that continues keeps its slot until its next step is settled") {
  Slots s(2, 400);
  s.Claimed(Many("r", 2), false);
  auto a = s.NextReady();
  a->continues = true;
  s.Finish(*a, 1.0, false);
  CHECK(s.Held() == 2);  // r1 ready, r0 continuing
  // The record kept r0's next step here: it goes ahead of runs claimed later.
  s.Claimed({A("late")}, false);
  auto next_step = A("r0");
  s.Settle({next_step}, 1);
  CHECK(s.Held() == 3);
  CHECK(s.NextReady() == next_step);
  CHECK(s.NextReady()->claimed.run.id == "r1");
  // A continuing step whose next step went through the queue frees its slot.
  auto c = s.Find("r0");
  c->continues = true;
  s.Finish(*c, 1.0, false);
  CHECK(s.Held() == 3);  // r1, late, r0 continuing
  s.Settle({}, 1);
  CHECK(s.Held() == 2);
}

TEST_CASE("slots: runs claimed ahead beyond capacity are handed back when steps turn slow") {
  Slots s(2, 400);
  Steps(s, 200, 1.0);
  REQUIRE(s.Capacity() == 32);
  s.Claimed(Many("r", 20), true);
  // Steps turn slow: capacity falls to 2, and 20 are held.
  for (int i = 0; i < 200 && s.steps_fast(); ++i) {
    auto a = s.NextReady();
    s.Claimed({A("x" + std::to_string(i))}, false);
    s.Finish(*a, 100.0, false);
  }
  REQUIRE_FALSE(s.steps_fast());
  int handed_back = 0, kept = 0;
  bool seen_kept = false, order_ok = true;
  // Handed-back runs come first in line (to be released unstarted), and
  // exactly the excess over capacity is handed back.
  const int held = s.Held();
  for (int i = 0; i < held; ++i) {
    auto a = s.NextReady();
    if (a->hand_back) {
      ++handed_back;
      if (seen_kept) order_ok = false;
    } else {
      ++kept;
      seen_kept = true;
    }
  }
  CHECK(handed_back == held - 2);
  CHECK(kept == 2);
  CHECK(order_ok);
}

TEST_CASE("slots: a claim waits briefly for more free slots only while steps run") {
  Slots s(8, 400);
  // Nothing running: the claim goes out at once for all the slots.
  CHECK(s.ToClaim(Millis(100000)) == 8);
  s.Claimed(Many("r", 8), true);
  // One slot frees while seven steps run: below half, so the claim waits;
  // a step finishing elsewhere lets it go (counted, not timed).
  auto a = s.NextReady();
  s.Finish(*a, 10.0, false);
  std::thread finisher([&] {
    for (int i = 0; i < 3; ++i) s.Finish(*s.NextReady(), 10.0, false);
  });
  const auto want = s.ToClaim(Millis(100000));
  finisher.join();
  REQUIRE(want.has_value());
  CHECK(*want >= 4);
}

TEST_CASE("slots: pokes, cancellation and stopping") {
  Slots s(2, 400);
  s.Poke();
  CHECK(s.WaitForPoke(Millis(100000)));  // already poked: returns at once
  s.Claimed(Many("r", 2), false);
  CHECK(s.caught_up());
  auto running = s.NextReady();
  s.Cancel("r0", CancelReason::kRunCanceled);
  CHECK(running->cancel.reason() == CancelReason::kRunCanceled);
  s.Cancel("nope", CancelReason::kRunCanceled);  // not held: nothing happens

  CHECK(s.BeginStop());
  CHECK_FALSE(s.BeginStop());
  CHECK(s.stopping());
  CHECK_FALSE(s.ToClaim(Millis(0)).has_value());
  CHECK_FALSE(s.WaitForPoke(Millis(100000)));
  CHECK_FALSE(s.Drain(Millis(1)));  // two held
  s.CancelAll(CancelReason::kShutdown);
  CHECK(s.Find("r1")->cancel.reason() == CancelReason::kShutdown);
  CHECK(running->cancel.reason() == CancelReason::kRunCanceled);  // the first reason stays
  // A next step settled while stopping is released unstarted.
  running->continues = true;
  s.Finish(*running, 1.0, false);
  auto stayed = A("r0");
  s.Settle({stayed}, 1);
  CHECK(stayed->cancel.reason() == CancelReason::kShutdown);
  s.Finish(*s.NextReady(), std::nullopt, false);
  s.Finish(*s.NextReady(), std::nullopt, false);
  CHECK(s.Drain(Millis(100000)));
  s.ReleaseWorkers();
  CHECK(s.NextReady() == nullptr);
}
