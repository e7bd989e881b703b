// ConnectFlags: the flags (and CUEBALL_* variables) every cueball program
// uses to reach a daemon: address, bearer token, TLS and mutual TLS. Shared
// by the `cueball` CLI and the examples so that they all connect alike.
#pragma once

#include <CLI/CLI.hpp>
#include <fstream>
#include <stdexcept>
#include <string>

#include "client/client.h"

namespace cueball::client {

struct ConnectFlags {
  ConnectOptions options;
  std::string token_file;

  void Add(CLI::App& app) {
    app.add_option("--server", options.server, "cueballd address HOST:PORT")
        ->envname("CUEBALL_SERVER")
        ->capture_default_str();
    app.add_option("--token", options.token,
                   "bearer token (prefer CUEBALL_TOKEN or --token-file: argv is visible to others)")
        ->envname("CUEBALL_TOKEN");
    app.add_option("--token-file", token_file, "file whose first line is the bearer token")
        ->envname("CUEBALL_TOKEN_FILE");
    app.add_flag("--tls", options.tls, "connect with TLS, verifying against the system roots")
        ->envname("CUEBALL_TLS");
    app.add_option("--tls-ca", options.tls_ca_file,
                   "PEM CA that signed the daemon's certificate (implies --tls)")
        ->envname("CUEBALL_TLS_CA");
    app.add_option("--tls-cert", options.tls_cert_file,
                   "client certificate for mutual TLS (implies --tls)")
        ->envname("CUEBALL_TLS_CERT");
    app.add_option("--tls-key", options.tls_key_file, "private key of --tls-cert")
        ->envname("CUEBALL_TLS_KEY");
    app.add_option("--tls-server-name", options.tls_server_name,
                   "name to verify in the daemon's certificate when it differs from the host")
        ->envname("CUEBALL_TLS_SERVER_NAME");
  }

  // The options, with the token read from --token-file if given. Throws
  // std::invalid_argument with a message naming the flag.
  ConnectOptions Resolve() const {
    ConnectOptions o = options;
    if (!token_file.empty()) {
      std::ifstream in(token_file);
      std::string line;
      if (!in || !std::getline(in, line)) {
        throw std::invalid_argument("--token-file: cannot read '" + token_file + "'");
      }
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      o.token = line;
    }
    return o;
  }
};

}  // namespace cueball::client
