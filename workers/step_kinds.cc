#include "workers/step_kinds.h"

#include <curl/curl.h>

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <sstream>

#include "workers/exec.h"
#include "workers/templates.h"

namespace cueball::workers {
namespace {

using engine::StepContext;
using engine::StepResult;

// Keeps a step's result in the state (steps.NAME) and goes on.
StepResult Done(StepContext& ctx, Json result) {
  if (!ctx.state.is_object()) ctx.state = Json::object();
  ctx.state["steps"][ctx.step] = result;
  return StepResult::Next(std::move(result));
}

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

StatusOr<engine::StepHandler> BuildExec(const Json& s, const Json& spec, const std::string& ptr,
                                        const std::string& f, Checker& c,
                                        engine::StepTraits* traits, Millis* /*timeout*/) {
  const Locator& loc = c.loc;
  const bool shell = s.value("shell", false);
  if (s.contains("shell") && !s["shell"].is_boolean())
    return loc.Error(ptr + "/shell", f + "shell", "must be true or false");
  if (shell) {
    if (!s.contains("command") || !s["command"].is_string() || s.contains("argv")) {
      return loc.Error(ptr, f + "command", "with shell: true, give command (a string) and no argv");
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
        return loc.Error(ptr + "/argv/" + std::to_string(k), f + "argv[" + std::to_string(k) + "]",
                         "must be a string");
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
  traits->summary = traits->summary.empty()
                        ? (shell ? s["command"].get<std::string>() : s["argv"][0].dump())
                        : traits->summary;
  return engine::StepHandler([spec](StepContext& ctx) { return ExecStep(ctx, spec); });
}

StatusOr<engine::StepHandler> BuildHttp(const Json& s, const Json& spec, const std::string& ptr,
                                        const std::string& f, Checker& c,
                                        engine::StepTraits* traits, Millis* timeout) {
  const Locator& loc = c.loc;
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
  traits->summary =
      traits->summary.empty() ? method + " " + s["url"].get<std::string>() : traits->summary;
  return engine::StepHandler([spec, timeout = *timeout, max_body](StepContext& ctx) {
    return HttpStep(ctx, spec, timeout, max_body);
  });
}

StatusOr<engine::StepHandler> BuildSleep(const Json& s, const Json& spec, const std::string& ptr,
                                         const std::string& f, Checker& c,
                                         engine::StepTraits* traits, Millis* /*timeout*/) {
  const Locator& loc = c.loc;
  if (s.contains("duration") == s.contains("until")) {
    return loc.Error(ptr, f + "duration", "give duration or until (one of them)");
  }
  if (s.contains("duration") &&
      !(s["duration"].is_string() &&
        s["duration"].get<std::string>().find("${") != std::string::npos)) {
    if (!c.Duration(s["duration"], ptr + "/duration", f + "duration")) return c.st;
  }
  if (s.contains("until") && !s["until"].is_string())
    return loc.Error(ptr + "/until", f + "until", "must be an RFC 3339 UTC time or a reference");
  traits->sleeps = true;
  traits->summary =
      traits->summary.empty()
          ? "sleep " + (s.contains("duration")
                            ? (s["duration"].is_string() ? s["duration"].get<std::string>()
                                                         : s["duration"].dump())
                            : "until " + s["until"].get<std::string>())
          : traits->summary;
  return engine::StepHandler([spec](StepContext& ctx) { return SleepStep(ctx, spec); });
}

StatusOr<engine::StepHandler> BuildSignal(const Json& s, const Json& spec, const std::string& ptr,
                                          const std::string& f, Checker& c,
                                          engine::StepTraits* traits, Millis* timeout) {
  const Locator& loc = c.loc;
  if (!s.contains("signal") || !s["signal"].is_string() ||
      !ValidName(s["signal"].get<std::string>(), 128)) {
    return loc.Error(ptr + "/signal", f + "signal",
                     "required: the signal name, 1-128 characters of A-Z a-z 0-9 _ . : -");
  }
  std::optional<Millis> wait_timeout;
  if (s.contains("timeout")) wait_timeout = *timeout;
  *timeout = Millis(30000);  // the attempt itself is quick; `timeout` bounds the wait
  traits->signals = {s["signal"].get<std::string>()};
  traits->summary = traits->summary.empty() ? "wait for signal " + s["signal"].get<std::string>()
                                            : traits->summary;
  return engine::StepHandler(
      [spec, wait_timeout](StepContext& ctx) { return SignalStep(ctx, spec, wait_timeout); });
}

StatusOr<engine::StepHandler> BuildChild(const Json& s, const Json& spec, const std::string& ptr,
                                         const std::string& f, Checker& c,
                                         engine::StepTraits* traits, Millis* /*timeout*/) {
  const Locator& loc = c.loc;
  if (!s.contains("workflow_type") || !s["workflow_type"].is_string() ||
      s["workflow_type"].get<std::string>().empty()) {
    return loc.Error(ptr + "/workflow_type", f + "workflow_type",
                     "required: the child's workflow type");
  }
  if (s.contains("wait") && !s["wait"].is_boolean())
    return loc.Error(ptr + "/wait", f + "wait", "must be true or false");
  if (s.contains("queue") && !s["queue"].is_string())
    return loc.Error(ptr + "/queue", f + "queue", "must be a string");
  traits->children = true;
  traits->waits_for_runs = s.value("wait", true);
  traits->child_types = {s["workflow_type"].get<std::string>()};
  traits->summary =
      traits->summary.empty() ? "child " + s["workflow_type"].get<std::string>() : traits->summary;
  return engine::StepHandler([spec](StepContext& ctx) { return ChildStep(ctx, spec); });
}

}  // namespace

const std::map<std::string, std::set<std::string>>& StepKindFields() {
  static const std::map<std::string, std::set<std::string>> kFields = {
      {"exec", {"argv", "command", "shell", "env", "cwd", "ok_exit_codes", "max_output_bytes"}},
      {"http",
       {"url", "method", "headers", "body", "json", "expect_status", "follow_redirects",
        "max_body_bytes"}},
      {"sleep", {"duration", "until"}},
      {"signal", {"signal"}},
      {"child", {"workflow_type", "input", "queue", "wait"}},
      // Run by remote workers (cueball.v1.Workers): no fields of its own.
      {"remote", {}}};
  return kFields;
}

StatusOr<engine::StepHandler> BuildStepKind(const std::string& kind, const Json& s,
                                            const Json& spec, const std::string& ptr,
                                            const std::string& field, Checker& c,
                                            engine::StepTraits* traits, Millis* timeout) {
  if (kind == "exec") return BuildExec(s, spec, ptr, field, c, traits, timeout);
  if (kind == "http") return BuildHttp(s, spec, ptr, field, c, traits, timeout);
  if (kind == "sleep") return BuildSleep(s, spec, ptr, field, c, traits, timeout);
  if (kind == "signal") return BuildSignal(s, spec, ptr, field, c, traits, timeout);
  if (kind == "remote") {
    if (traits->summary.empty()) traits->summary = "run by remote workers";
    return engine::RemoteStepHandler();
  }
  return BuildChild(s, spec, ptr, field, c, traits, timeout);
}

}  // namespace cueball::workers
