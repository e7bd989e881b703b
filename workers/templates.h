// Templates in workflow files: ${input.PATH}, ${run.id}, ${run.queue} and
// ${steps.NAME.PATH} (an earlier step's result) in any string of a step's
// parameters. A string that is one reference alone takes the referenced
// value's type; inside a longer string the value is written as text.
#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/engine/workflow.h"

namespace cueball::workers {

using engine::Json;

// The value at a dotted path (a.b.0.c) of `root`, or null if absent.
const Json* Lookup(const Json& root, const std::string& path);
// The references (${...}) in a string, as (start, end) positions; throws
// std::invalid_argument on an unclosed one.
std::vector<std::pair<size_t, size_t>> References(const std::string& s);
// `v` with every reference replaced from `ctx` (input, steps, run); throws
// std::invalid_argument naming a reference that cannot be resolved.
Json Expand(const Json& v, const Json& ctx);
// "" if every reference in `v` names the input, the run, or a step in
// `earlier`; else what is wrong.
std::string CheckReferences(const Json& v, const std::set<std::string>& earlier);
// What references resolve against while a step runs.
Json TemplateContext(const engine::StepContext& ctx);

}  // namespace cueball::workers
