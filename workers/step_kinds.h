// The step kinds of workflow files (workflow_files.h lists them): for each,
// the check of its fields at load time, which builds the step's handler,
// and the handler itself, which runs the step.
#pragma once

#include <map>
#include <set>
#include <string>

#include "server/domain/status.h"
#include "server/engine/workflow.h"
#include "workers/workflow_check.h"

namespace cueball::workers {

// The kinds, each with the fields it takes besides the common ones (name,
// kind, retry, timeout, description).
const std::map<std::string, std::set<std::string>>& StepKindFields();

// Checks the fields of step `s` (at `ptr`, named `field` in errors, e.g.
// "steps[2].") for its kind and returns its handler, which runs with
// `spec`, the step's parameters. Sets what the step's traits say of it
// (summary, sleeps, signals, children). `timeout` is the step's; a signal
// step's bounds its wait instead, and its attempt gets the default.
StatusOr<engine::StepHandler> BuildStepKind(const std::string& kind, const Json& s,
                                            const Json& spec, const std::string& ptr,
                                            const std::string& field, Checker& c,
                                            engine::StepTraits* traits, Millis* timeout);

}  // namespace cueball::workers
