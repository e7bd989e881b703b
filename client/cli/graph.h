// `cueball graph TYPE [--run ID]`: a workflow type as Graphviz DOT. Steps in
// order, each with its kind, retry policy and timeout; the signals a step
// waits for, its sleeps, the child runs it enqueues and waits for; where a
// run ends (succeeded, or failed once retries are spent). With a run, the
// path that run took is coloured: green for steps done, red where it failed,
// amber where it is now (or waits), with attempts and the signals received.
//   cueball graph payment | dot -Tsvg > payment.svg
#pragma once

#include <ostream>
#include <string>

#include "cueball/v1/workflows.pb.h"

namespace cueball::cli {

// `run` may be null (no path).
void WriteGraph(const v1::WorkflowType& type, const v1::Run* run, std::ostream& out);

}  // namespace cueball::cli
