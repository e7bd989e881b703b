// The daemon's HTTP listener (civetweb) without a daemon: routes, methods,
// HEAD, body limits, concurrent requests and the listen addresses it takes.
// Requests are written by hand on a socket so the exact answer is visible.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "server/http/server.h"

using namespace cueball;

namespace {

// Sends `request` to 127.0.0.1:port and returns everything the server wrote.
std::string Exchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  size_t off = 0;
  while (off < request.size()) {
    ssize_t n = ::send(fd, request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

int PortOf(const std::string& bound) { return std::stoi(bound.substr(bound.rfind(':') + 1)); }

std::string StatusLine(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

std::string Body(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

}  // namespace

TEST_CASE("the HTTP server routes exact paths, checks methods and answers HEAD without a body") {
  http::Server server;
  server.Route("/hello", {"GET"}, [](const http::Request& req) {
    http::Response r;
    r.body = "hello " + req.query + " " + req.Header("x-name") + "\n";
    return r;
  });
  server.Route("/echo", {"POST"}, [](const http::Request& req) {
    http::Response r;
    r.status = 201;
    r.content_type = "application/json";
    r.body = req.body;
    r.headers.push_back({"X-Seen", std::to_string(req.body.size())});
    return r;
  });
  server.Route("/boom", {"GET"}, [](const http::Request&) -> http::Response {
    throw std::runtime_error("secret detail");
  });
  std::string error;
  const std::string bound = server.Start("127.0.0.1:0", &error);
  REQUIRE(error.empty());
  REQUIRE(bound.rfind("127.0.0.1:", 0) == 0);
  const int port = PortOf(bound);
  REQUIRE(port > 0);

  auto get = Exchange(port, "GET /hello?a=1 HTTP/1.1\r\nHost: x\r\nX-Name: Ann\r\n\r\n");
  CHECK(StatusLine(get) == "HTTP/1.1 200 OK");
  CHECK(Body(get) == "hello a=1 Ann\n");
  CHECK_THAT(get, Catch::Contains("Cache-Control: no-store"));
  CHECK_THAT(get, Catch::Contains("Content-Length: 14"));

  auto head = Exchange(port, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusLine(head) == "HTTP/1.1 200 OK");
  CHECK(Body(head).empty());
  CHECK_THAT(head, Catch::Contains("Content-Length: 8"));

  auto post =
      Exchange(port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n\r\n{\"a\":1}");
  CHECK(StatusLine(post) == "HTTP/1.1 201 Created");
  CHECK(Body(post) == "{\"a\":1}");
  CHECK_THAT(post, Catch::Contains("X-Seen: 7"));

  auto wrong_method = Exchange(port, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusLine(wrong_method) == "HTTP/1.1 405 Method Not Allowed");
  CHECK_THAT(wrong_method, Catch::Contains("Allow: GET"));

  auto missing = Exchange(port, "GET /hello/more HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusLine(missing) == "HTTP/1.1 404 Not Found");
  CHECK(Body(missing) == "not found; try /boom, /echo, /hello\n");

  auto boom = Exchange(port, "GET /boom HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(StatusLine(boom) == "HTTP/1.1 500 Internal Server Error");
  CHECK(Body(boom) == "internal error\n");
}

TEST_CASE("the HTTP server refuses bodies over its limit and serves requests side by side") {
  http::ServerOptions options;
  options.max_body = 16;
  options.threads = 4;
  http::Server server(options);
  std::atomic<int> inside{0}, most{0};
  server.Route("/slow", {"GET"}, [&](const http::Request&) {
    int now = ++inside;
    for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    --inside;
    return http::Response{};
  });
  server.Route("/echo", {"POST"}, [](const http::Request& req) {
    http::Response r;
    r.body = req.body;
    return r;
  });
  std::string error;
  const int port = PortOf(server.Start("127.0.0.1:0", &error));
  REQUIRE(error.empty());

  auto big = Exchange(
      port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n" + std::string(17, 'x'));
  CHECK(StatusLine(big) == "HTTP/1.1 413 Request Entity Too Large");
  auto chunked = Exchange(port,
                          "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "11\r\n" +
                              std::string(17, 'y') + "\r\n0\r\n\r\n");
  CHECK(StatusLine(chunked) == "HTTP/1.1 413 Request Entity Too Large");
  auto fits = Exchange(
      port, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n" + std::string(16, 'z'));
  CHECK(Body(fits) == std::string(16, 'z'));

  // A slow handler does not hold up the others (counted, not timed).
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] { Exchange(port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); });
  }
  for (auto& t : clients) t.join();
  CHECK(most.load() >= 2);
  server.Stop();
}

TEST_CASE("the HTTP server takes IPv4 hosts and names, and says why it refuses IPv6") {
  std::string error;
  CHECK(http::ListenSpec("0.0.0.0:7421", &error) == "0.0.0.0:7421");
  CHECK(http::ListenSpec(":7421", &error) == "7421");
  CHECK(http::ListenSpec("localhost:0", &error) == "127.0.0.1:0");
  CHECK(error.empty());
  CHECK(http::ListenSpec("[::1]:7421", &error).empty());
  CHECK_THAT(error, Catch::Contains("IPv6 is not supported") && Catch::Contains("[::1]:7421"));
  CHECK(http::ListenSpec("127.0.0.1:99999", &error).empty());
  CHECK_THAT(error, Catch::Contains("port must be a number from 0 to 65535"));
  CHECK(http::ListenSpec("127.0.0.1", &error).empty());
  CHECK_THAT(error, Catch::Contains("HOST:PORT"));

  // A port in use is an error naming the address, not a crash.
  http::Server first;
  const std::string bound = first.Start("127.0.0.1:0", &error);
  REQUIRE(!bound.empty());
  http::Server second;
  error.clear();
  CHECK(second.Start(bound, &error).empty());
  CHECK_THAT(error, Catch::Contains("cannot listen on " + bound));
}
