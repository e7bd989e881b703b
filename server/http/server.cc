#include "server/http/server.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <netdb.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace cueball::http {
namespace {

int Dispatch(mg_connection* conn, void* server) {
  return static_cast<Server*>(server)->Serve(conn);
}

// civetweb's own messages (a bad request line, a timeout) are not ours to
// log at error level; they are dropped rather than printed to stderr.
int Quiet(const mg_connection*, const char*) { return 1; }

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

void Send(mg_connection* conn, const Response& r, bool head) {
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " +
                    mg_get_response_code_text(conn, r.status) +
                    "\r\nContent-Type: " + r.content_type +
                    "\r\nContent-Length: " + std::to_string(r.body.size()) +
                    "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  if (!head) out += r.body;
  mg_write(conn, out.data(), out.size());
}

Response Text(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

}  // namespace

std::string Request::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

Server::Server(ServerOptions options) : options_(options) {}

Server::~Server() { Stop(); }

void Server::Route(const std::string& path, std::vector<std::string> methods, Handler handler) {
  routes_[path] = Entry{std::move(methods), std::move(handler)};
}

std::string ListenSpec(const std::string& listen, std::string* error) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    *error = "listen address must be HOST:PORT, got '" + listen + "'";
    return "";
  }
  const std::string host = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }) ||
      std::stoi(port) > 65535) {
    *error = "listen address '" + listen + "': port must be a number from 0 to 65535";
    return "";
  }
  if (host.empty()) return port;
  if (host.front() == '[' || host.find(':') != std::string::npos) {
    *error = "listen address '" + listen +
             "': IPv6 is not supported for HTTP (Debian's civetweb is built without it); "
             "use an IPv4 address or 0.0.0.0";
    return "";
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res)) {
    *error = "cannot resolve '" + host + "' to an IPv4 address: " + gai_strerror(rc);
    return "";
  }
  char buf[INET_ADDRSTRLEN] = {0};
  inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
  freeaddrinfo(res);
  return std::string(buf) + ":" + port;
}

std::string Server::Start(const std::string& listen, std::string* error) {
  const std::string spec = ListenSpec(listen, error);
  if (spec.empty()) return "";
  const std::string threads = std::to_string(std::max(1, options_.threads));
  const std::string timeout = std::to_string(std::max(100, options_.request_timeout_ms));
  const char* config[] = {"listening_ports", spec.c_str(), "num_threads", threads.c_str(),
                          "request_timeout_ms", timeout.c_str(), "enable_keep_alive", "no",
                          // No document root: nothing is served from disk.
                          nullptr};
  mg_init_library(0);
  mg_callbacks callbacks{};
  callbacks.log_message = Quiet;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = config;
  char text[256] = {0};
  mg_error_data err{};
  err.text = text;
  err.text_buffer_size = sizeof text;
  ctx_ = mg_start2(&init, &err);
  if (!ctx_) {
    *error = "cannot listen on " + listen + ": " + (text[0] ? text : "civetweb failed to start");
    mg_exit_library();
    return "";
  }
  // Every path goes to Serve, which matches routes exactly ("**" is
  // civetweb's pattern for any URI).
  mg_set_request_handler(ctx_, "**", Dispatch, this);
  mg_server_port ports[4];
  int bound = 0;
  if (mg_get_server_ports(ctx_, 4, ports) > 0) bound = ports[0].port;
  return listen.substr(0, listen.rfind(':')) + ":" + std::to_string(bound);
}

void Server::Stop() {
  if (!ctx_) return;
  mg_stop(ctx_);  // waits for the handlers that are running
  ctx_ = nullptr;
  mg_exit_library();
}

int Server::Serve(mg_connection* conn) {
  const mg_request_info* ri = mg_get_request_info(conn);
  Request req;
  req.method = ri->request_method ? ri->request_method : "";
  req.path = ri->local_uri ? ri->local_uri : "";
  req.query = ri->query_string ? ri->query_string : "";
  for (int i = 0; i < ri->num_headers; ++i)
    req.headers[Lower(ri->http_headers[i].name)] = ri->http_headers[i].value;
  const bool head = req.method == "HEAD";

  auto it = routes_.find(req.path);
  if (it == routes_.end()) {
    std::string known;
    for (const auto& [path, entry] : routes_) known += (known.empty() ? "" : ", ") + path;
    Send(conn, Text(404, "not found; try " + known + "\n"), head);
    return 1;
  }
  const auto& methods = it->second.methods;
  auto accepts = [&](const std::string& m) {
    return std::find(methods.begin(), methods.end(), m) != methods.end();
  };
  if (!accepts(req.method) && !(head && accepts("GET"))) {
    std::string allow;
    for (const auto& m : methods) allow += (allow.empty() ? "" : ", ") + m;
    Response r = Text(405, req.method + " is not allowed here; use " + allow + "\n");
    r.headers.push_back({"Allow", allow});
    Send(conn, r, head);
    return 1;
  }
  if (ri->content_length > static_cast<long long>(options_.max_body)) {
    Send(conn, Text(413, "body larger than " + std::to_string(options_.max_body) + " bytes\n"),
         head);
    return 1;
  }
  char buf[8192];
  while (true) {
    int n = mg_read(conn, buf, sizeof buf);
    if (n <= 0) break;
    req.body.append(buf, static_cast<size_t>(n));
    if (req.body.size() > options_.max_body) {
      Send(conn, Text(413, "body larger than " + std::to_string(options_.max_body) + " bytes\n"),
           head);
      return 1;
    }
  }
  Response r;
  try {
    r = it->second.handler(req);
  } catch (const std::exception&) {
    // Handlers answer their own errors; an exception here is a bug, and
    // its text may hold internals, so the client sees only that it failed.
    r = Text(500, "internal error\n");
  }
  Send(conn, r, head);
  return 1;
}

}  // namespace cueball::http
