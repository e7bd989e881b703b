// RetryPolicy: how many attempts a step gets and how long to wait between
// them. Exponential backoff uses full jitter (a uniform draw in [0, cap]) so
// that many failing runs do not retry in lockstep. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <random>
#include <string>

#include "server/domain/run.h"

namespace cueball::engine {

enum class Backoff { kFixed, kExponential };

struct RetryPolicy {
  int max_attempts = 3;  // >= 1; 1 means no retries
  Backoff backoff = Backoff::kExponential;
  Millis initial_delay{1000};  // fixed: the delay; exponential: the base
  Millis max_delay{60000};     // cap on any single delay

  static RetryPolicy None() { return {1, Backoff::kFixed, Millis(0), Millis(0)}; }
  static RetryPolicy Fixed(int attempts, Millis delay) {
    return {attempts, Backoff::kFixed, delay, delay};
  }
  static RetryPolicy Exponential(int attempts, Millis base, Millis cap) {
    return {attempts, Backoff::kExponential, base, cap};
  }
};

const char* BackoffName(Backoff b);

// The ceiling of the delay after failed attempt `attempt` (1-based):
// fixed: initial_delay; exponential: min(max_delay, initial_delay * 2^(attempt-1)).
Millis BackoffCeiling(const RetryPolicy& p, int attempt);

// The delay to wait after failed attempt `attempt`: fixed returns the ceiling;
// exponential draws uniformly from [0, ceiling] (full jitter).
Millis BackoffDelay(const RetryPolicy& p, int attempt, std::mt19937_64& rng);

// True if another attempt is allowed after `attempt` attempts were used.
inline bool HasAttemptsLeft(const RetryPolicy& p, int attempt) { return attempt < p.max_attempts; }

}  // namespace cueball::engine
