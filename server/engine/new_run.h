// The one place a new run is made: RunService::Enqueue (the API) and a
// step's child runs (InProcessRunner) both start from MakeNewRun.
#pragma once

#include <cstddef>
#include <string>

#include "server/engine/workflow.h"
#include "server/store/run_store.h"

namespace cueball::engine {

// Idempotency keys (of runs and of signals) are at most this many bytes.
inline constexpr size_t kMaxIdempotencyKeyBytes = 255;

// Whether `name` is a valid queue, workflow type or step name: 1..128 of
// A-Z a-z 0-9 _ . : -
bool ValidName(const std::string& name);

// A new run of `type` (known to the registry): a fresh id (UUIDv7), the
// type's first step, `queue` ("default" when empty), `priority`, and
// `input` (JSON text, "{}" when empty). The caller adds its key, time,
// parent.
store::NewRun MakeNewRun(const WorkflowType& type, const std::string& queue, int priority,
                         const std::string& input);

// The idempotency key of child `key` of the step running for `parent`: the
// same key from the same step is the same child, however often the step
// runs.
std::string ChildIdempotencyKey(const Run& parent, const std::string& key);

}  // namespace cueball::engine
