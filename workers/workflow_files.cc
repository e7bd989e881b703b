#include "workers/workflow_files.h"

#include <curl/curl.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "server/domain/duration.h"
#include "workers/step_kinds.h"
#include "workers/templates.h"
#include "workers/workflow_check.h"
#include "workers/yaml.h"

namespace cueball::workers {
namespace {

using engine::StepContext;
using engine::StepResult;

// A step's retry policy: the default (3 attempts, exponential from 1 s to
// 1 min) with what its `retry` mapping sets.
StatusOr<engine::RetryPolicy> ParseRetry(const Json& s, const std::string& ptr,
                                         const std::string& f, Checker& c) {
  const Locator& loc = c.loc;
  engine::RetryPolicy retry = engine::RetryPolicy::Exponential(3, Millis(1000), Millis(60000));
  if (s.contains("retry")) {
    const Json& r = s["retry"];
    const std::string rp = ptr + "/retry";
    if (!r.is_object()) return loc.Error(rp, f + "retry", "must be a mapping");
    if (!c.Keys(r, rp, f + "retry.", {"max_attempts", "backoff", "initial_delay", "max_delay"}))
      return c.st;
    if (r.contains("max_attempts")) {
      if (!r["max_attempts"].is_number_integer() || r["max_attempts"].get<int64_t>() < 1 ||
          r["max_attempts"].get<int64_t>() > 1000) {
        return loc.Error(rp + "/max_attempts", f + "retry.max_attempts",
                         "must be an integer 1..1000");
      }
      retry.max_attempts = r["max_attempts"].get<int>();
    }
    if (r.contains("backoff")) {
      const std::string b = r["backoff"].is_string() ? r["backoff"].get<std::string>() : "";
      if (b == "fixed") {
        retry.backoff = engine::Backoff::kFixed;
      } else if (b == "exponential") {
        retry.backoff = engine::Backoff::kExponential;
      } else {
        return loc.Error(rp + "/backoff", f + "retry.backoff", "must be fixed or exponential");
      }
    }
    if (r.contains("initial_delay")) {
      auto d = c.Duration(r["initial_delay"], rp + "/initial_delay", f + "retry.initial_delay");
      if (!d) return c.st;
      retry.initial_delay = *d;
    }
    if (r.contains("max_delay")) {
      auto d = c.Duration(r["max_delay"], rp + "/max_delay", f + "retry.max_delay");
      if (!d) return c.st;
      retry.max_delay = *d;
    }
  }
  return retry;
}

}  // namespace

StatusOr<engine::WorkflowType> ParseWorkflowFile(const std::string& path, const std::string& text) {
  Json doc;
  std::map<std::string, int> lines;
  const bool yaml = path.size() > 5 && (path.substr(path.size() - 5) == ".yaml" ||
                                        path.substr(path.size() - 4) == ".yml");
  if (yaml) {
    try {
      YamlDocument y = ParseYaml(text);
      doc = std::move(y.value);
      lines = std::move(y.lines);
    } catch (const YamlError& e) {
      return InvalidArgument(path + ":" + std::to_string(e.line()) + ": " +
                             std::string(e.what()).substr(std::string(e.what()).find(": ") + 2));
    }
  } else {
    try {
      doc = Json::parse(text);
    } catch (const Json::parse_error& e) {
      const size_t at = std::min<size_t>(e.byte, text.size());
      const int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
      std::string what = e.what();
      auto pos = what.find("] ");
      if (pos != std::string::npos) what = what.substr(pos + 2);
      return InvalidArgument(path + ":" + std::to_string(line) + ": not valid JSON: " + what);
    }
  }
  Locator loc(path, lines);
  Checker c{loc};
  if (!doc.is_object()) return loc.Error("", "(file)", "must be a mapping with name and steps");
  c.Keys(doc, "", "", {"name", "description", "steps"});
  if (!c.st.ok()) return c.st;
  engine::WorkflowType type;
  type.source = path;
  if (!doc.contains("name") || !doc["name"].is_string() ||
      !ValidName(doc["name"].get<std::string>(), 128)) {
    return loc.Error("/name", "name", "required: 1-128 characters of A-Z a-z 0-9 _ . : -");
  }
  type.name = doc["name"].get<std::string>();
  if (doc.contains("description")) {
    if (!doc["description"].is_string())
      return loc.Error("/description", "description", "must be a string");
    type.description = doc["description"].get<std::string>();
  }
  if (!doc.contains("steps") || !doc["steps"].is_array() || doc["steps"].empty()) {
    return loc.Error("/steps", "steps", "required: a list of at least one step");
  }
  std::set<std::string> earlier;
  for (size_t i = 0; i < doc["steps"].size(); ++i) {
    const Json& s = doc["steps"][i];
    const std::string ptr = "/steps/" + std::to_string(i);
    const std::string f = "steps[" + std::to_string(i) + "].";
    if (!s.is_object()) return loc.Error(ptr, f.substr(0, f.size() - 1), "must be a mapping");
    if (!s.contains("name") || !s["name"].is_string() ||
        !ValidName(s["name"].get<std::string>(), 64)) {
      return loc.Error(ptr + "/name", f + "name",
                       "required: 1-64 characters of A-Z a-z 0-9 _ . : -");
    }
    const std::string name = s["name"].get<std::string>();
    if (earlier.count(name))
      return loc.Error(ptr + "/name", f + "name", "'" + name + "' is used twice");
    if (!s.contains("kind") || !s["kind"].is_string() ||
        !StepKindFields().count(s["kind"].get<std::string>())) {
      return loc.Error(ptr + "/kind", f + "kind",
                       "required: one of exec, http, sleep, signal, child, remote");
    }
    const std::string kind = s["kind"].get<std::string>();
    std::set<std::string> allowed = {"name", "kind", "retry", "timeout", "description"};
    const auto& kind_fields = StepKindFields().at(kind);
    allowed.insert(kind_fields.begin(), kind_fields.end());
    if (!c.Keys(s, ptr, f, allowed)) return c.st;

    auto retry = ParseRetry(s, ptr, f, c);
    if (!retry.ok()) return retry.status();
    Millis timeout(30000);
    if (s.contains("timeout")) {
      auto d = c.Duration(s["timeout"], ptr + "/timeout", f + "timeout");
      if (!d) return c.st;
      if (d->count() == 0) return loc.Error(ptr + "/timeout", f + "timeout", "must be above zero");
      timeout = *d;
    }
    // Parameters: everything but the common fields, checked per kind.
    Json spec = s;
    for (const char* k : {"name", "kind", "retry", "timeout", "description"}) spec.erase(k);
    std::string bad_ref = CheckReferences(spec, earlier);
    if (!bad_ref.empty()) return loc.Error(ptr, f.substr(0, f.size() - 1), bad_ref);
    engine::StepTraits traits(kind, s.value("description", ""));
    auto built = BuildStepKind(kind, s, spec, ptr, f, c, &traits, &timeout);
    if (!built.ok()) return built.status();
    engine::StepHandler handler = std::move(built).value();
    // A reference that cannot be resolved at run time fails the step (its
    // input is wrong; retrying cannot help).
    engine::StepHandler guarded = [handler](StepContext& ctx) {
      try {
        return handler(ctx);
      } catch (const std::invalid_argument& e) {
        return StepResult::Fail(ctx.step + ": " + e.what());
      }
    };
    type.steps.emplace_back(name, guarded, *retry, timeout, traits);
    earlier.insert(name);
  }
  return type;
}

Status LoadWorkflowFiles(const std::string& dir, engine::Registry& registry) {
  static std::once_flag curl_once;
  std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return InvalidArgument("workflows-dir: '" + dir + "' is not a directory");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".json" || ext == ".yaml" || ext == ".yml"))
      files.push_back(e.path());
  }
  if (ec) return InvalidArgument("workflows-dir: cannot read '" + dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<engine::WorkflowType> types;
  std::set<std::string> names;
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    auto t = ParseWorkflowFile(f.string(), text.str());
    if (!t.ok()) return t.status();
    if (registry.Find(t->name) || names.count(t->name)) {
      return AlreadyExists(f.string() + ": name: workflow type '" + t->name +
                           "' is already defined");
    }
    names.insert(t->name);
    types.push_back(std::move(t).value());
  }
  // Child types must exist once everything is loaded.
  for (const auto& t : types) {
    for (size_t i = 0; i < t.steps.size(); ++i) {
      for (const auto& ct : t.steps[i].traits.child_types) {
        if (ct.find("${") != std::string::npos || registry.Find(ct) || names.count(ct)) continue;
        return NotFound(t.source + ": steps[" + std::to_string(i) +
                        "].workflow_type: no workflow type named '" + ct + "' is defined");
      }
    }
  }
  for (auto& t : types) {
    Status st = registry.Register(std::move(t));
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace cueball::workers
