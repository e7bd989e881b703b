// http::Server: the daemon's plain-HTTP listener, built on civetweb
// (Debian's libcivetweb, the library prometheus-cpp's exposer uses). It
// serves /metrics and the probes today (metrics/probe_routes.h) and is the
// server the dashboard's pages and JSON API will add routes to.
//
// Routes match the decoded path exactly; anything else is 404 with the list
// of known paths. Handlers run on civetweb's worker threads (several at
// once), so a handler must be thread-safe. Every answer carries
// Cache-Control: no-store and closes the connection.
//
// Listen addresses are HOST:PORT with an IPv4 host or a name that resolves
// to one (port 0 picks a free port). Debian's civetweb is built without
// IPv6, so "[::1]:9090" is refused with an error saying so.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

struct mg_context;
struct mg_connection;

namespace cueball::http {

struct Request {
  std::string method;                          // "GET", "HEAD", "POST", ...
  std::string path;                            // decoded, without the query
  std::string query;                           // raw, after '?', may be empty
  std::string body;                            // at most ServerOptions::max_body bytes
  std::map<std::string, std::string> headers;  // names lower-cased

  // The header's value, or "" (name in lower case).
  std::string Header(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  int threads = 4;                // requests served at once
  int request_timeout_ms = 5000;  // a slow client is cut off after this
  size_t max_body = 1024 * 1024;  // larger bodies get 413
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds a route before Start. `methods` lists what it accepts; HEAD is
  // accepted wherever GET is, and answered without a body.
  void Route(const std::string& path, std::vector<std::string> methods, Handler handler);

  // Binds HOST:PORT and starts serving. Returns the bound address
  // (HOST:PORT with the port picked), or "" with `error` set.
  std::string Start(const std::string& listen, std::string* error);
  void Stop();

  // Called by civetweb's threads (public for the C callback only).
  int Serve(mg_connection* conn);

 private:
  struct Entry {
    std::vector<std::string> methods;
    Handler handler;
  };
  ServerOptions options_;
  std::map<std::string, Entry> routes_;
  mg_context* ctx_ = nullptr;
};

// Splits "HOST:PORT" for a listener: the host may be empty (every address),
// an IPv4 address or a name resolved to IPv4. Returns civetweb's form
// ("1.2.3.4:80" or "80"), or "" with `error` set.
std::string ListenSpec(const std::string& listen, std::string* error);

}  // namespace cueball::http
