// Backoff decisions: ceilings, full jitter bounds, caps, and attempt limits.
#include "server/engine/retry_policy.h"

#include <catch2/catch.hpp>

using namespace cueball;
using namespace cueball::engine;

TEST_CASE("exponential ceiling doubles per attempt and stops at the cap") {
  auto p = RetryPolicy::Exponential(10, Millis(100), Millis(1000));
  CHECK(BackoffCeiling(p, 1) == Millis(100));
  CHECK(BackoffCeiling(p, 2) == Millis(200));
  CHECK(BackoffCeiling(p, 3) == Millis(400));
  CHECK(BackoffCeiling(p, 4) == Millis(800));
  CHECK(BackoffCeiling(p, 5) == Millis(1000));
  CHECK(BackoffCeiling(p, 60) == Millis(1000));  // no overflow for huge attempts
}

TEST_CASE("full jitter draws within [0, ceiling] and actually spreads") {
  auto p = RetryPolicy::Exponential(10, Millis(100), Millis(1000));
  std::mt19937_64 rng(42);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    Millis lo = Millis::max(), hi = Millis(0);
    for (int i = 0; i < 2000; ++i) {
      Millis d = BackoffDelay(p, attempt, rng);
      REQUIRE(d >= Millis(0));
      REQUIRE(d <= BackoffCeiling(p, attempt));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    // Jitter: the draws are not in lockstep.
    CHECK(hi - lo > BackoffCeiling(p, attempt) / 2);
  }
}

TEST_CASE("fixed backoff is the same delay every time") {
  auto p = RetryPolicy::Fixed(4, Millis(250));
  std::mt19937_64 rng(1);
  for (int attempt = 1; attempt <= 4; ++attempt)
    CHECK(BackoffDelay(p, attempt, rng) == Millis(250));
}

TEST_CASE("attempts left counts used attempts against max_attempts") {
  auto p = RetryPolicy::Fixed(3, Millis(1));
  CHECK(HasAttemptsLeft(p, 1));
  CHECK(HasAttemptsLeft(p, 2));
  CHECK_FALSE(HasAttemptsLeft(p, 3));
  CHECK_FALSE(HasAttemptsLeft(RetryPolicy::None(), 1));
}
