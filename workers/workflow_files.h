// Workflow files: workflow types composed of built-in step kinds, declared in
// JSON or YAML (docs/workflow-files.md has the schema) and loaded at start-up
// from `--workflows-dir`, so a user adds a workflow without recompiling.
//
// Step kinds:
//   exec    run a command (argv, env, cwd, no shell unless asked); stdout and
//           stderr become the blobs STEP.stdout and STEP.stderr, the exit
//           code goes into the state; an unexpected exit code is a failed
//           attempt (retried by the step's policy)
//   http    call a URL with libcurl (method, headers, body, timeout, expected
//           statuses); the response body becomes the blob STEP.body
//   sleep   a durable timer: `duration` or `until`
//   signal  wait for a signal (optional timeout); its payload is the result
//   child   enqueue a child run and (by default) wait for it to finish
// Parameters may reference ${input.PATH}, ${run.id}, ${run.queue} and
// ${steps.NAME.PATH} (an earlier step's result). Each step's result is kept
// in the run's state under steps.NAME.
#pragma once

#include <string>
#include <vector>

#include "server/domain/status.h"
#include "server/engine/workflow.h"

namespace cueball::workers {

// Parses one workflow file (`path` names it in errors, and its extension
// picks JSON or YAML). Errors read "PATH:LINE: FIELD: what is wrong".
StatusOr<engine::WorkflowType> ParseWorkflowFile(const std::string& path, const std::string& text);

// Loads every *.json, *.yaml and *.yml file of `dir` (sorted by name) and
// registers their types; all or nothing. Child steps must name a type that
// is registered once everything is loaded.
Status LoadWorkflowFiles(const std::string& dir, engine::Registry& registry);

}  // namespace cueball::workers
