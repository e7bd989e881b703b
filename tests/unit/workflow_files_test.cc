// Workflow files without a daemon: reading YAML, and the errors a bad file
// gets (file, line, field). Both formats describe the same types.
#include "workers/workflow_files.h"

#include <catch2/catch.hpp>

#include "workers/yaml.h"

using namespace cueball;
using namespace cueball::workers;
using nlohmann::json;

TEST_CASE("YAML files read mappings, lists, flow collections, scalars and block text") {
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

TEST_CASE("YAML that yaml-cpp refuses, or that breaks a limit, gets an error with its line") {
  auto err = [](const std::string& text) {
    try {
      ParseYaml(text);
    } catch (const YamlError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  // yaml-cpp keeps the last of two equal keys; a workflow file may not have them.
  CHECK(err("a: 1\na: 2\n") == "line 2: duplicate key 'a'");
  CHECK(err("a: 1\n\tb: 2\n") == "line 2: illegal tab when looking for indentation");
  CHECK(err("a: 1\n   b: 2\n") == "line 2: illegal map value");
  CHECK(err("a: [1, 2\n") == "line 2: end of sequence flow not found");
  CHECK(err("a: 1\n---\nb: 2\n") == "line 3: only one document per file");
  CHECK(err("? [a, b]\n: 1\n") == "line 1: mapping keys must be plain text");
  // Limits: size, nesting (ours at 64 levels; yaml-cpp's own guard far
  // deeper, before its parser could exhaust the stack) and expanded values.
  CHECK(err(std::string(kMaxYamlBytes + 1, ' ')) ==
        "line 1: file larger than " + std::to_string(kMaxYamlBytes) + " bytes");
  CHECK(err("a: " + std::string(65, '[') + std::string(65, ']') + "\n") ==
        "line 1: nested deeper than 64 levels");
  CHECK(err(std::string(100000, '[')).rfind("line 1: ", 0) == 0);
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'g'; ++c) {
    const std::string prev(1, static_cast<char>(c - 1));
    laughs += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
              prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
              ", *" + prev + "]\n";
  }
  CHECK_THAT(err(laughs), Catch::Contains("more than 100000 values (aliases count once per use)"));
}

TEST_CASE("yaml-cpp accepts what the old hand-written subset refused") {
  // Anchors and aliases, multi-line flow collections and tags now read as
  // YAML says (README, "Workflow files"); the old reader refused them.
  auto doc = ParseYaml(
      "base: &retry {max_attempts: 3}\nagain: *retry\nlist: [1,\n  2]\n"
      "tagged: !!str 5\n");
  CHECK(doc.value["again"]["max_attempts"] == 3);
  CHECK(doc.value["list"] == json::array({1, 2}));
  CHECK(doc.value["tagged"] == "5");
  CHECK(doc.lines.at("/list/1") == 4);
  // A double-quoted string left open at the end of the file runs to the end.
  CHECK(ParseYaml("a: \"open\n").value["a"] == "open ");
  // Numbers a double cannot hold stay text instead of becoming infinite.
  CHECK(ParseYaml("n: 1e400\n").value["n"] == "1e400");
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
        "w.yaml:4: steps[0].kind: required: one of exec, http, sleep, signal, child, remote");
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
        "w.yaml:6: end of sequence flow not found");
  CHECK(err("w.json", "{\"name\": \"w\",\n \"steps\": [}\n").rfind("w.json:2: not valid JSON", 0) ==
        0);
  CHECK(err("w.json",
            R"({"name": "w", "steps": [{"name": "a", "kind": "exec", "command": "ls"}]})") ==
        "w.json: steps[0].command: needs shell: true (or use argv)");
}
