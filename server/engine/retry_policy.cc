#include "server/engine/retry_policy.h"

#include <algorithm>

namespace cueball::engine {

const char* BackoffName(Backoff b) { return b == Backoff::kFixed ? "fixed" : "exponential"; }

Millis BackoffCeiling(const RetryPolicy& p, int attempt) {
  if (p.backoff == Backoff::kFixed) return p.initial_delay;
  int shift = std::clamp(attempt - 1, 0, 40);
  // Saturate instead of overflowing: anything beyond the cap is the cap.
  int64_t base = p.initial_delay.count();
  int64_t cap = p.max_delay.count();
  if (base <= 0) return Millis(0);
  if (shift >= 62 || base > (cap >> shift)) return Millis(cap);
  return Millis(std::min(cap, base << shift));
}

Millis BackoffDelay(const RetryPolicy& p, int attempt, std::mt19937_64& rng) {
  Millis ceiling = BackoffCeiling(p, attempt);
  if (p.backoff == Backoff::kFixed || ceiling.count() <= 0) return ceiling;
  return Millis(std::uniform_int_distribution<int64_t>(0, ceiling.count())(rng));
}

}  // namespace cueball::engine
