#include "workers/workflow_files.h"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <set>
#include <sstream>

#include "server/domain/duration.h"
#include "workers/exec.h"
#include "workers/yaml.h"

namespace cueball::workers {
namespace {

using engine::Json;
using engine::StepContext;
using engine::StepResult;

// Where a field is, for errors: the file and the line of a JSON pointer.
class Locator {
 public:
  Locator(std::string path, std::map<std::string, int> lines)
      : path_(std::move(path)), lines_(std::move(lines)) {}
  // "file:line: field: msg", using the nearest enclosing pointer with a line.
  Status Error(const std::string& ptr, const std::string& field, const std::string& msg) const {
    std::string p = ptr;
    while (true) {
      auto it = lines_.find(p);
      if (it != lines_.end()) {
        return InvalidArgument(path_ + ":" + std::to_string(it->second) + ": " + field + ": " +
                               msg);
      }
      if (p.empty()) break;
      p = p.substr(0, p.rfind('/'));
    }
    return InvalidArgument(path_ + ": " + field + ": " + msg);
  }

 private:
  std::string path_;
  std::map<std::string, int> lines_;
};

// ---- templates --------------------------------------------------------------

// The value at a dotted path (a.b.0.c) of `root`, or null if absent.
const Json* Lookup(const Json& root, const std::string& path) {
  const Json* cur = &root;
  std::stringstream ss(path);
  std::string part;
  while (std::getline(ss, part, '.')) {
    if (cur->is_object()) {
      auto it = cur->find(part);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array() && !part.empty() &&
               std::all_of(part.begin(), part.end(), ::isdigit)) {
      size_t i = std::stoul(part);
      if (i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

// The references (${...}) in a string; throws on an unclosed one.
std::vector<std::pair<size_t, size_t>> References(const std::string& s) {
  std::vector<std::pair<size_t, size_t>> out;
  size_t i = 0;
  while ((i = s.find("${", i)) != std::string::npos) {
    size_t end = s.find('}', i);
    if (end == std::string::npos) throw std::invalid_argument("unclosed ${ in '" + s + "'");
    out.push_back({i, end + 1});
    i = end + 1;
  }
  return out;
}

// Replaces references in every string of `v`. A string that is one whole
// reference takes the referenced value as is (a number stays a number).
Json Expand(const Json& v, const Json& ctx) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    auto refs = References(s);
    if (refs.empty()) return v;
    auto resolve = [&](const std::pair<size_t, size_t>& r) {
      std::string path = s.substr(r.first + 2, r.second - r.first - 3);
      const Json* found = Lookup(ctx, path);
      if (!found || found->is_null()) throw std::invalid_argument("${" + path + "} is not set");
      return *found;
    };
    if (refs.size() == 1 && refs[0].first == 0 && refs[0].second == s.size())
      return resolve(refs[0]);
    std::string out;
    size_t at = 0;
    for (const auto& r : refs) {
      out += s.substr(at, r.first - at);
      Json val = resolve(r);
      out += val.is_string() ? val.get<std::string>() : val.dump();
      at = r.second;
    }
    return out + s.substr(at);
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& x : v) out.push_back(Expand(x, ctx));
    return out;
  }
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = Expand(it.value(), ctx);
    return out;
  }
  return v;
}

// Checks every reference in `v`: a known root, and steps.NAME only for an
// earlier step. Returns the first problem, or "".
std::string CheckReferences(const Json& v, const std::set<std::string>& earlier) {
  if (v.is_string()) {
    std::vector<std::pair<size_t, size_t>> refs;
    try {
      refs = References(v.get<std::string>());
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    for (const auto& r : refs) {
      std::string path = v.get<std::string>().substr(r.first + 2, r.second - r.first - 3);
      std::string root = path.substr(0, path.find('.'));
      if (root == "input" || path == "run.id" || path == "run.queue") continue;
      if (root == "steps") {
        std::string rest = path.size() > 6 ? path.substr(6) : "";
        std::string name = rest.substr(0, rest.find('.'));
        if (!earlier.count(name)) {
          return "${" + path + "}: '" + name + "' is not an earlier step";
        }
        continue;
      }
      return "${" + path + "}: references start with input., steps.NAME., run.id or run.queue";
    }
  } else if (v.is_array() || v.is_object()) {
    for (const auto& x : v) {
      std::string bad = CheckReferences(x, earlier);
      if (!bad.empty()) return bad;
    }
  }
  return "";
}

Json TemplateContext(const StepContext& ctx) {
  Json steps = ctx.state.is_object() ? ctx.state.value("steps", Json::object()) : Json::object();
  return {{"input", ctx.input},
          {"steps", steps},
          {"run", {{"id", ctx.run_id}, {"queue", ctx.queue ? *ctx.queue : std::string()}}}};
}

// Keeps a step's result in the state (steps.NAME) and goes on.
StepResult Done(StepContext& ctx, Json result) {
  if (!ctx.state.is_object()) ctx.state = Json::object();
  ctx.state["steps"][ctx.step] = result;
  return StepResult::Next(std::move(result));
}

// ---- step kinds -------------------------------------------------------------

// The last n bytes or so of s, starting at a character (a UTF-8
// continuation byte is never the first: the cut would show as U+FFFD).
std::string Tail(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t start = s.size() - n;
  for (int k = 0;
       k < 3 && start < s.size() && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80; ++k) {
    ++start;
  }
  return "..." + s.substr(start);
}

StepResult ExecStep(StepContext& ctx, const Json& spec) {
  Json p = Expand(spec, TemplateContext(ctx));
  ExecRequest req;
  if (p.contains("command")) {
    req.argv = {"/bin/sh", "-c", p["command"].get<std::string>()};
  } else {
    for (const auto& a : p["argv"])
      req.argv.push_back(a.is_string() ? a.get<std::string>() : a.dump());
  }
  const Json env = p.value("env", Json::object());
  for (auto it = env.begin(); it != env.end(); ++it) {
    req.env[it.key()] = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
  }
  req.cwd = p.value("cwd", "");
  req.max_output = static_cast<size_t>(p.value("max_output_bytes", int64_t{1} << 20));
  ExecResult r = RunCommand(req, ctx.cancel);
  if (!r.started) return StepResult::Retry(ctx.step + ": " + r.error);
  if (r.stopped) return StepResult::Retry(ctx.step + ": stopped");
  ctx.SaveBlob(ctx.step + ".stdout", r.out, "text/plain; charset=utf-8");
  ctx.SaveBlob(ctx.step + ".stderr", r.err, "text/plain; charset=utf-8");
  Json result = {{"exit_code", r.exit_code},
                 {"stdout_blob", ctx.step + ".stdout"},
                 {"stderr_blob", ctx.step + ".stderr"},
                 {"stdout_bytes", r.out.size()},
                 {"stderr_bytes", r.err.size()}};
  if (r.out.size() <= 4096 && !r.out_truncated) result["stdout"] = r.out;
  if (r.term_signal) result["signal"] = r.term_signal;
  // On success the exit code goes into the state (steps.NAME.exit_code); a
  // failed attempt saves no state, so its exit code is in the error.
  const Json ok = p.value("ok_exit_codes", Json::array({0}));
  bool good = r.term_signal == 0 && std::find(ok.begin(), ok.end(), Json(r.exit_code)) != ok.end();
  if (!good) {
    std::string why = r.term_signal ? "killed by signal " + std::to_string(r.term_signal)
                                    : "exit code " + std::to_string(r.exit_code);
    std::string err = Tail(r.err, 300);
    return StepResult::Retry(ctx.step + ": " + req.argv[0] + " ended with " + why +
                             (err.empty() ? "" : ": " + err));
  }
  return Done(ctx, result);
}

size_t CurlWrite(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::pair<std::string*, size_t>*>(user);
  size_t len = size * n;
  if (body->first->size() + len > body->second) return 0;  // over the cap: abort
  body->first->append(data, len);
  return len;
}

int CurlProgress(void* token, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const engine::CancelToken*>(token)->cancelled() ? 1 : 0;
}

StepResult HttpStep(StepContext& ctx, const Json& spec, Millis timeout, int64_t max_body) {
  Json p = Expand(spec, TemplateContext(ctx));
  const std::string url = p["url"].get<std::string>();
  const std::string method = p.value("method", "GET");
  std::string body;
  struct curl_slist* headers = nullptr;
  if (p.contains("json")) {
    body = p["json"].dump();
    headers = curl_slist_append(headers, "Content-Type: application/json");
  } else if (p.contains("body")) {
    body = p["body"].is_string() ? p["body"].get<std::string>() : p["body"].dump();
  }
  const Json header_map = p.value("headers", Json::object());
  for (auto it = header_map.begin(); it != header_map.end(); ++it) {
    std::string v = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
    headers = curl_slist_append(headers, (it.key() + ": " + v).c_str());
  }
  CURL* curl = curl_easy_init();
  if (!curl) {
    curl_slist_free_all(headers);
    return StepResult::Retry(ctx.step + ": cannot start libcurl");
  }
  std::string response;
  std::pair<std::string*, size_t> sink{&response, static_cast<size_t>(max_body)};
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || p.contains("body") || p.contains("json")) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CurlWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, CurlProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &ctx.cancel);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, p.value("follow_redirects", false) ? 1L : 0L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  char* ctype = nullptr;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
  std::string content_type = ctype ? ctype : "application/octet-stream";
  curl_easy_cleanup(curl);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) {
      return StepResult::Fail(ctx.step + ": the response body is larger than " +
                              std::to_string(max_body) + " bytes");
    }
    return StepResult::Retry(ctx.step + ": " + method + " " + url + ": " +
                             (errbuf[0] ? errbuf : curl_easy_strerror(rc)));
  }
  ctx.SaveBlob(ctx.step + ".body", response, content_type);
  Json result = {{"status", status},
                 {"content_type", content_type},
                 {"body_blob", ctx.step + ".body"},
                 {"body_bytes", response.size()}};
  if (response.size() <= 65536 && content_type.find("json") != std::string::npos) {
    try {
      result["json"] = Json::parse(response);
    } catch (const std::exception&) {
    }
  }
  const Json expect = p.value("expect_status", Json::array());
  bool good = expect.empty()
                  ? (status >= 200 && status < 300)
                  : std::find(expect.begin(), expect.end(), Json(status)) != expect.end();
  if (!good) {
    return StepResult::Retry(ctx.step + ": " + method + " " + url + " answered " +
                             std::to_string(status) + ", expected " +
                             (expect.empty() ? std::string("2xx") : expect.dump()) + ": " +
                             Tail(response, 200));
  }
  return Done(ctx, result);
}

StepResult SleepStep(StepContext& ctx, const Json& spec) {
  Json p = Expand(spec, TemplateContext(ctx));
  Json result = Json::object();
  if (p.contains("until")) {
    const std::string until = p["until"].get<std::string>();
    std::tm tm{};
    std::istringstream in(until);
    in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%S");
    if (in.fail())
      return StepResult::Fail(ctx.step + ": until: '" + until + "' is not an RFC 3339 UTC time");
    auto t = std::chrono::system_clock::from_time_t(timegm(&tm));
    result["until"] = until;
    return StepResult::SleepUntil(std::chrono::time_point_cast<std::chrono::microseconds>(t),
                                  result);
  }
  auto d = p["duration"].is_number_integer()
               ? std::optional<Millis>(Millis(p["duration"].get<int64_t>()))
               : ParseDuration(p["duration"].get<std::string>());
  if (!d)
    return StepResult::Fail(ctx.step + ": duration: '" + p["duration"].dump() +
                            "' is not a duration");
  result["slept_ms"] = d->count();
  if (!ctx.state.is_object()) ctx.state = Json::object();
  ctx.state["steps"][ctx.step] = result;
  return StepResult::SleepFor(*d, result);
}

StepResult SignalStep(StepContext& ctx, const Json& spec, std::optional<Millis> timeout) {
  const std::string name = spec["signal"].get<std::string>();
  auto sig = ctx.TakeSignal(name);
  if (!sig) return StepResult::WaitForSignal(name, timeout);
  return Done(ctx, {{"signal", name}, {"seq", sig->seq}, {"payload", sig->payload}});
}

StepResult ChildStep(StepContext& ctx, const Json& spec) {
  Json p = Expand(spec, TemplateContext(ctx));
  engine::ChildSpec child;
  child.key = ctx.step;
  child.workflow_type = p["workflow_type"].get<std::string>();
  child.input = p.value("input", Json::object());
  child.queue = p.value("queue", "");
  const std::string id = ctx.EnqueueChild(child);
  if (!p.value("wait", true)) return Done(ctx, {{"child_id", id}});
  auto runs = ctx.GetRuns({id});
  if (runs.empty() || !IsTerminal(runs[0].status)) return StepResult::WaitForRuns({id});
  const Run& r = runs[0];
  if (r.status != RunStatus::kSucceeded) {
    return StepResult::Fail(ctx.step + ": child run " + id + " " + RunStatusName(r.status) +
                            (r.error ? ": " + *r.error : ""));
  }
  Json result = {{"child_id", id}, {"status", "succeeded"}};
  try {
    result["result"] = Json::parse(r.result.value_or("null"));
  } catch (const std::exception&) {
  }
  return Done(ctx, result);
}

// ---- parsing and validation -------------------------------------------------

bool ValidName(const std::string& s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-' ||
           c == ':';
  });
}

struct Checker {
  const Locator& loc;
  Status st = Status::Ok();
  bool Fail(const std::string& ptr, const std::string& field, const std::string& msg) {
    if (st.ok()) st = loc.Error(ptr, field, msg);
    return false;
  }
  // Only these keys.
  bool Keys(const Json& obj, const std::string& ptr, const std::string& field,
            const std::set<std::string>& allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (!allowed.count(it.key())) {
        std::string list;
        for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Fail(ptr + "/" + it.key(), field + it.key(),
                    "unknown field (allowed: " + list + ")");
      }
    }
    return true;
  }
  std::optional<Millis> Duration(const Json& v, const std::string& ptr, const std::string& field) {
    std::optional<Millis> d;
    if (v.is_number_integer() && v.get<int64_t>() >= 0) d = Millis(v.get<int64_t>());
    if (v.is_string()) d = ParseDuration(v.get<std::string>());
    if (!d) Fail(ptr, field, "must be a duration like 500ms, 30s, 5m or 1h (or milliseconds)");
    return d;
  }
};

const std::set<std::string> kKinds = {"exec", "http", "sleep", "signal", "child"};

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
        !kKinds.count(s["kind"].get<std::string>())) {
      return loc.Error(ptr + "/kind", f + "kind",
                       "required: one of exec, http, sleep, signal, child");
    }
    const std::string kind = s["kind"].get<std::string>();
    std::set<std::string> allowed = {"name", "kind", "retry", "timeout", "description"};
    if (kind == "exec")
      allowed.insert(
          {"argv", "command", "shell", "env", "cwd", "ok_exit_codes", "max_output_bytes"});
    if (kind == "http")
      allowed.insert({"url", "method", "headers", "body", "json", "expect_status",
                      "follow_redirects", "max_body_bytes"});
    if (kind == "sleep") allowed.insert({"duration", "until"});
    if (kind == "signal") allowed.insert({"signal"});
    if (kind == "child") allowed.insert({"workflow_type", "input", "queue", "wait"});
    if (!c.Keys(s, ptr, f, allowed)) return c.st;

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
    engine::StepHandler handler;
    if (kind == "exec") {
      const bool shell = s.value("shell", false);
      if (s.contains("shell") && !s["shell"].is_boolean())
        return loc.Error(ptr + "/shell", f + "shell", "must be true or false");
      if (shell) {
        if (!s.contains("command") || !s["command"].is_string() || s.contains("argv")) {
          return loc.Error(ptr, f + "command",
                           "with shell: true, give command (a string) and no argv");
        }
      } else {
        if (s.contains("command"))
          return loc.Error(ptr + "/command", f + "command", "needs shell: true (or use argv)");
        if (!s.contains("argv") || !s["argv"].is_array() || s["argv"].empty()) {
          return loc.Error(ptr + "/argv", f + "argv",
                           "required: the command and its arguments, as a list");
        }
        for (size_t k = 0; k < s["argv"].size(); ++k) {
          if (!s["argv"][k].is_string() && !s["argv"][k].is_number()) {
            return loc.Error(ptr + "/argv/" + std::to_string(k),
                             f + "argv[" + std::to_string(k) + "]", "must be a string");
          }
        }
      }
      if (s.contains("env") && !s["env"].is_object())
        return loc.Error(ptr + "/env", f + "env", "must be a mapping of names to values");
      if (s.contains("cwd") && !s["cwd"].is_string())
        return loc.Error(ptr + "/cwd", f + "cwd", "must be a string");
      if (s.contains("ok_exit_codes") &&
          (!s["ok_exit_codes"].is_array() || s["ok_exit_codes"].empty())) {
        return loc.Error(ptr + "/ok_exit_codes", f + "ok_exit_codes", "must be a list of integers");
      }
      traits.summary = traits.summary.empty()
                           ? (shell ? s["command"].get<std::string>() : s["argv"][0].dump())
                           : traits.summary;
      handler = [spec](StepContext& ctx) { return ExecStep(ctx, spec); };
    } else if (kind == "http") {
      if (!s.contains("url") || !s["url"].is_string() || s["url"].get<std::string>().empty()) {
        return loc.Error(ptr + "/url", f + "url", "required: the URL to call");
      }
      const std::string method = s.value("method", "GET");
      static const std::set<std::string> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                     "DELETE", "HEAD", "OPTIONS"};
      if (!kMethods.count(method))
        return loc.Error(ptr + "/method", f + "method",
                         "must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
      if (s.contains("headers") && !s["headers"].is_object())
        return loc.Error(ptr + "/headers", f + "headers", "must be a mapping");
      if (s.contains("body") && s.contains("json"))
        return loc.Error(ptr + "/json", f + "json", "give body or json, not both");
      if (s.contains("expect_status")) {
        const Json& e = s["expect_status"];
        if (!e.is_array() || e.empty() || !std::all_of(e.begin(), e.end(), [](const Json& x) {
              return x.is_number_integer() && x.get<int>() >= 100 && x.get<int>() <= 599;
            })) {
          return loc.Error(ptr + "/expect_status", f + "expect_status",
                           "must be a list of HTTP statuses (100..599)");
        }
      }
      const int64_t max_body = s.value("max_body_bytes", int64_t{16} << 20);
      traits.summary =
          traits.summary.empty() ? method + " " + s["url"].get<std::string>() : traits.summary;
      handler = [spec, timeout, max_body](StepContext& ctx) {
        return HttpStep(ctx, spec, timeout, max_body);
      };
    } else if (kind == "sleep") {
      if (s.contains("duration") == s.contains("until")) {
        return loc.Error(ptr, f + "duration", "give duration or until (one of them)");
      }
      if (s.contains("duration") &&
          !(s["duration"].is_string() &&
            s["duration"].get<std::string>().find("${") != std::string::npos)) {
        if (!c.Duration(s["duration"], ptr + "/duration", f + "duration")) return c.st;
      }
      if (s.contains("until") && !s["until"].is_string())
        return loc.Error(ptr + "/until", f + "until",
                         "must be an RFC 3339 UTC time or a reference");
      traits.sleeps = true;
      traits.summary =
          traits.summary.empty()
              ? "sleep " + (s.contains("duration")
                                ? (s["duration"].is_string() ? s["duration"].get<std::string>()
                                                             : s["duration"].dump())
                                : "until " + s["until"].get<std::string>())
              : traits.summary;
      handler = [spec](StepContext& ctx) { return SleepStep(ctx, spec); };
    } else if (kind == "signal") {
      if (!s.contains("signal") || !s["signal"].is_string() ||
          !ValidName(s["signal"].get<std::string>(), 128)) {
        return loc.Error(ptr + "/signal", f + "signal",
                         "required: the signal name, 1-128 characters of A-Z a-z 0-9 _ . : -");
      }
      std::optional<Millis> wait_timeout;
      if (s.contains("timeout")) wait_timeout = timeout;
      timeout = Millis(30000);  // the attempt itself is quick; `timeout` bounds the wait
      traits.signals = {s["signal"].get<std::string>()};
      traits.summary = traits.summary.empty() ? "wait for signal " + s["signal"].get<std::string>()
                                              : traits.summary;
      handler = [spec, wait_timeout](StepContext& ctx) {
        return SignalStep(ctx, spec, wait_timeout);
      };
    } else {  // child
      if (!s.contains("workflow_type") || !s["workflow_type"].is_string() ||
          s["workflow_type"].get<std::string>().empty()) {
        return loc.Error(ptr + "/workflow_type", f + "workflow_type",
                         "required: the child's workflow type");
      }
      if (s.contains("wait") && !s["wait"].is_boolean())
        return loc.Error(ptr + "/wait", f + "wait", "must be true or false");
      if (s.contains("queue") && !s["queue"].is_string())
        return loc.Error(ptr + "/queue", f + "queue", "must be a string");
      traits.children = true;
      traits.waits_for_runs = s.value("wait", true);
      traits.child_types = {s["workflow_type"].get<std::string>()};
      traits.summary = traits.summary.empty() ? "child " + s["workflow_type"].get<std::string>()
                                              : traits.summary;
      handler = [spec](StepContext& ctx) { return ChildStep(ctx, spec); };
    }
    // A reference that cannot be resolved at run time fails the step (its
    // input is wrong; retrying cannot help).
    engine::StepHandler guarded = [handler](StepContext& ctx) {
      try {
        return handler(ctx);
      } catch (const std::invalid_argument& e) {
        return StepResult::Fail(ctx.step + ": " + e.what());
      }
    };
    type.steps.emplace_back(name, guarded, retry, timeout, traits);
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
