// Workflow files without a daemon: the YAML subset, and the errors a bad file
// gets (file, line, field). Both formats describe the same types.
#include "workers/workflow_files.h"

#include <catch2/catch.hpp>

#include "workers/yaml.h"

using namespace cueball;
using namespace cueball::workers;
using nlohmann::json;

TEST_CASE("the YAML subset reads mappings, lists, flow collections, scalars and block text") {
  auto doc = ParseYaml(R"(---
# a comment
name: demo   # trailing comment
count: 3
ratio: 0.5
on: true
none: ~
quoted: "a \"b\" # not a comment"
single: 'it''s'
list:
  - one
  - {k: v, n: 2}
  - [1, two, "3"]
steps:
- name: a
  argv: [echo, hi]
- name: b
text: |
  line one
  line two
folded: >-
  a
  b
)");
  const json& v = doc.value;
  CHECK(v["name"] == "demo");
  CHECK(v["count"] == 3);
  CHECK(v["ratio"] == 0.5);
  CHECK(v["on"] == true);
  CHECK(v["none"].is_null());
  CHECK(v["quoted"] == "a \"b\" # not a comment");
  CHECK(v["single"] == "it's");
  CHECK(v["list"][0] == "one");
  CHECK(v["list"][1]["n"] == 2);
  CHECK(v["list"][2] == json::array({1, "two", "3"}));
  CHECK(v["steps"][0]["argv"] == json::array({"echo", "hi"}));
  CHECK(v["steps"][1]["name"] == "b");
  CHECK(v["text"] == "line one\nline two\n");
  CHECK(v["folded"] == "a b");
  CHECK(doc.lines.at("/steps/1/name") == 17);
  CHECK(doc.lines.at("/list/2") == 13);
}

TEST_CASE("YAML outside the subset is refused with its line") {
  auto err = [](const std::string& text) {
    try {
      ParseYaml(text);
    } catch (const YamlError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(err("a: 1\na: 2\n") == "line 2: duplicate key 'a'");
  CHECK(err("a: &x 1\n") == "line 1: anchors, aliases and tags are not supported");
  CHECK(err("a: [1,\n  2]\n").rfind("line 1: unclosed '['", 0) == 0);
  CHECK(err("a: 1\n\tb: 2\n") == "line 2: tabs may not be used for indentation");
  CHECK(err("a: 1\n   b: 2\n") == "line 2: unexpected indentation");
  CHECK(err("a: \"open\n") == "line 1: unclosed quoted string");
  CHECK(err("a: 1\n---\nb: 2\n") == "line 2: only one document per file");
}

TEST_CASE("a workflow file becomes a workflow type with its steps, retries and traits") {
  auto t = ParseWorkflowFile("ok.yaml", R"(
name: deploy
description: build and ship
steps:
  - name: build
    kind: exec
    argv: [make, "${input.target}"]
    retry: {max_attempts: 2, backoff: fixed, initial_delay: 1s}
    timeout: 5m
  - name: approve
    kind: signal
    signal: ship_it
    timeout: 1h
  - name: wait
    kind: sleep
    duration: 10s
  - name: notify
    kind: http
    method: POST
    url: "https://example.com/hook/${steps.build.exit_code}"
    json: {run: "${run.id}"}
  - name: cleanup
    kind: child
    workflow_type: noop
)");
  REQUIRE(t.ok());
  CHECK(t->name == "deploy");
  CHECK(t->source == "ok.yaml");
  REQUIRE(t->steps.size() == 5);
  CHECK(t->steps[0].retry.max_attempts == 2);
  CHECK(t->steps[0].timeout == Millis(300000));
  CHECK(t->steps[0].traits.kind == "exec");
  CHECK(t->steps[1].traits.signals == std::vector<std::string>{"ship_it"});
  CHECK(t->steps[2].traits.sleeps);
  CHECK(t->steps[3].traits.summary == "POST https://example.com/hook/${steps.build.exit_code}");
  CHECK(t->steps[4].traits.children);
  CHECK(t->steps[4].traits.child_types == std::vector<std::string>{"noop"});

  auto j = ParseWorkflowFile("same.json", R"({"name": "j", "steps": [
      {"name": "s", "kind": "sleep", "duration": "1s"}]})");
  REQUIRE(j.ok());
  CHECK(j->steps[0].traits.sleeps);
}

TEST_CASE("a bad workflow file gets an error naming the file, the line and the field") {
  auto err = [](const std::string& path, const std::string& text) {
    auto t = ParseWorkflowFile(path, text);
    REQUIRE_FALSE(t.ok());
    CHECK(t.status().code() != StatusCode::kOk);
    return t.status().message();
  };
  const std::string head = "name: w\nsteps:\n";
  CHECK(err("w.yaml", head + "  - name: a\n    kind: exec\n    argvv: [x]\n") ==
        "w.yaml:5: steps[0].argvv: unknown field (allowed: argv, command, cwd, description, env, "
        "kind, max_output_bytes, name, ok_exit_codes, retry, shell, timeout)");
  CHECK(err("w.yaml", head + "  - name: a\n    kind: teleport\n") ==
        "w.yaml:4: steps[0].kind: required: one of exec, http, sleep, signal, child");
  CHECK(err("w.yaml", head + "  - name: a\n    kind: exec\n") ==
        "w.yaml:3: steps[0].argv: required: the command and its arguments, as a list");
  CHECK(err("w.yaml", head + "  - name: a\n    kind: sleep\n    duration: soon\n") ==
        "w.yaml:5: steps[0].duration: must be a duration like 500ms, 30s, 5m or 1h (or "
        "milliseconds)");
  CHECK(err("w.yaml", head + "  - name: a\n    kind: exec\n    argv: [echo, '${steps.b.x}']\n"
                             "  - name: b\n    kind: sleep\n    duration: 1s\n") ==
        "w.yaml:3: steps[0]: ${steps.b.x}: 'b' is not an earlier step");
  CHECK(err("w.yaml", head + "  - name: a\n    kind: signal\n    signal: go\n    retry: "
                             "{max_attempts: 0}\n") ==
        "w.yaml:6: steps[0].retry.max_attempts: must be an integer 1..1000");
  CHECK(err("w.yaml", "name: w\nsteps: []\n") ==
        "w.yaml:2: steps: required: a list of at least one step");
  CHECK(err("w.yaml", "name: w\nsteps:\n  - name: a\n    kind: exec\n    argv: [\n") ==
        "w.yaml:5: unclosed '[' (flow collections must fit on one line)");
  CHECK(err("w.json", "{\"name\": \"w\",\n \"steps\": [}\n").rfind("w.json:2: not valid JSON", 0) ==
        0);
  CHECK(err("w.json",
            R"({"name": "w", "steps": [{"name": "a", "kind": "exec", "command": "ls"}]})") ==
        "w.json: steps[0].command: needs shell: true (or use argv)");
}
