#!/usr/bin/env python3
"""The layer walls, checked on every #include of server/, workers/ and client/.

The build already keeps each target to the project headers of the targets it
links (cmake/Headers.cmake). This check adds what a build cannot see: headers
of installed libraries (gRPC, libpqxx, civetweb, ...) live in /usr/include
for everyone, so it says which folder may include which library, and it
repeats the project arrows so that a wrong link line is caught too.

  python3 tests/lint/layers.py [ROOT]     check ROOT (default: the repo)
  python3 tests/lint/layers.py --self-test
        plant forbidden includes in a copy and check that each is caught
"""
import os
import re
import shutil
import sys
import tempfile

# Every include root the rules speak of. An include that starts with none of
# these (the C++ and POSIX headers) is always allowed.
KNOWN = {
    "server/domain", "server/logging", "server/metrics", "server/http", "server/store",
    "server/store/postgres", "server/engine", "server/maintenance", "server/api",
    "server/config", "server/app", "workers", "client", "client/cli",
    # third party
    "cueball/v1", "grpc/health/v1", "grpc", "grpcpp", "google/protobuf", "pqxx",
    "spdlog", "prometheus", "civetweb.h", "CivetServer.h", "CLI", "curl", "yaml-cpp",
    "toml++", "nlohmann", "date",
}

# Folder -> include roots it may use (its own folder is always allowed).
ALLOWED = {
    "server/domain": set(),
    "server/logging": {"server/domain", "spdlog", "nlohmann"},
    "server/metrics": {"prometheus"},
    "server/http": {"civetweb.h"},
    "server/store": {"server/domain"},
    "server/store/postgres": {"server/domain", "server/store", "server/logging", "pqxx",
                              "spdlog", "nlohmann"},
    # The engine sees domain, store interfaces, metrics and logging: no SQL
    # driver, no gRPC, no HTTP, no api.
    "server/engine": {"server/domain", "server/store", "server/metrics", "server/logging",
                      "spdlog", "nlohmann", "date"},
    "server/maintenance": {"server/domain", "server/store", "server/engine",
                           "server/metrics", "server/logging", "spdlog", "nlohmann"},
    "workers": {"server/domain", "server/engine", "curl", "yaml-cpp", "nlohmann"},
    # The api sees the engine and the contract, never SQL.
    "server/api": {"server/domain", "server/store", "server/engine", "server/maintenance",
                   "server/metrics", "server/logging", "cueball/v1", "grpc/health/v1",
                   "grpc", "grpcpp", "google/protobuf", "spdlog", "nlohmann"},
    "server/config": {"server/domain", "CLI", "toml++"},
    "server/app": KNOWN - {"client", "client/cli", "CLI"},
    "server": KNOWN - {"client", "client/cli"},  # server/main.cc
    "client": {"server/domain", "cueball/v1", "grpc", "grpcpp", "google/protobuf", "curl",
               "nlohmann"},
    "client/cli": {"client", "server/domain", "cueball/v1", "grpc", "grpcpp",
                   "google/protobuf", "CLI", "nlohmann"},
    "client/cli/commands": {"client", "client/cli", "server/domain", "cueball/v1", "grpc",
                            "grpcpp", "google/protobuf", "CLI", "nlohmann"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def root_of(path):
    """The longest KNOWN root that `path` (an include) starts with."""
    best = None
    for k in KNOWN:
        if path == k or path.startswith(k + "/") or (k.endswith(".h") and path == k):
            if best is None or len(k) > len(best):
                best = k
    return best


def check(root):
    problems = []
    for top in ("server", "workers", "client"):
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            folder = os.path.relpath(dirpath, root)
            if not any(f.endswith((".h", ".cc")) for f in files):
                continue  # sql/, say: no C++ here
            if folder not in ALLOWED:
                problems.append(f"{folder}: folder has no layer rule in tests/lint/layers.py")
                continue
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        inc_root = root_of(m.group(1))
                        if inc_root is None or inc_root == folder:
                            continue
                        if inc_root not in ALLOWED[folder]:
                            problems.append(f"{folder}/{name}:{n}: {folder}/ may not include "
                                            f"{m.group(1)} ({inc_root})")
    return problems


def self_test(repo):
    planted = {
        "server/engine/planted.cc": '#include "server/store/postgres/pg_run_store.h"\n',
        "server/engine/planted2.cc": "#include <pqxx/pqxx>\n",
        "server/engine/planted3.h": "#include <grpcpp/grpcpp.h>\n",
        "server/api/planted.cc": '#include "server/store/postgres/pg_pool.h"\n',
        "server/store/planted.h": '#include "server/engine/dispatcher.h"\n',
        "workers/planted.cc": '#include "cueball/v1/workflows.pb.h"\n',
        "server/newfolder/x.cc": "#include <vector>\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for top in ("server", "workers", "client"):
            shutil.copytree(os.path.join(repo, top), os.path.join(tmp, top))
        clean = check(tmp)
        if clean:
            print("self-test: the unchanged tree should pass but got:\n  " + "\n  ".join(clean))
            return 1
        for rel, text in planted.items():
            os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w") as f:
                f.write(text)
        found = check(tmp)
        missed = [rel for rel in planted
                  if not any(p.startswith(rel.rsplit("/", 1)[0]) and
                             (os.path.basename(rel) in p or "no layer rule" in p)
                             for p in found)]
        if len(found) != len(planted) or missed:
            print(f"self-test: planted {len(planted)} forbidden includes, caught {len(found)}:")
            for p in found:
                print("  " + p)
            return 1
    print(f"self-test: all {len(planted)} planted forbidden includes were caught")
    return 0


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if sys.argv[1:] == ["--self-test"]:
        return self_test(repo)
    root = sys.argv[1] if len(sys.argv) > 1 else repo
    problems = check(root)
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) cross a layer wall (rules: tests/lint/layers.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
