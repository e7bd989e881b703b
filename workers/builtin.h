// The built-in workflow types every cueballd registers:
//   noop           one step that succeeds at once
//   demo.sleep     one step that sleeps input.ms milliseconds (honours cancellation;
//                  input.log: append a line per execution to that file)
//   demo.flaky     fails until attempt input.succeed_on, then succeeds (retries)
//   demo.defer     defers itself once by input.ms milliseconds, then succeeds
//   demo.pipeline  extract -> transform -> load, carrying state between steps
//   demo.timer     a durable timer (input.ms), then a step reporting when it woke
//   demo.signal    waits for a signal (input.signal, input.timeout_ms)
//   demo.fanout    enqueues child runs and waits for them
#pragma once

#include "server/domain/status.h"
#include "server/engine/workflow.h"

namespace cueball::workers {

Status RegisterBuiltins(engine::Registry& registry);

}  // namespace cueball::workers
