#include "workers/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace cueball::workers {
namespace {

void Append(std::string* to, bool* truncated, const char* data, size_t n, size_t cap) {
  if (to->size() >= cap) {
    if (n > 0) *truncated = true;
    return;
  }
  size_t take = std::min(n, cap - to->size());
  to->append(data, take);
  if (take < n) *truncated = true;
}

}  // namespace

ExecResult RunCommand(const ExecRequest& req, const engine::CancelToken& cancel) {
  ExecResult res;
  if (req.argv.empty()) {
    res.error = "argv is empty";
    return res;
  }
  int out_pipe[2], err_pipe[2], exec_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 ||
      pipe2(exec_pipe, O_CLOEXEC) != 0) {
    res.error = std::string("pipe: ") + std::strerror(errno);
    return res;
  }
  // Everything the child needs is built before fork (no allocation after it).
  std::vector<std::string> env_strings;
  for (const char* name : {"PATH", "HOME", "LANG", "TZ"}) {
    if (req.env.count(name)) continue;
    if (const char* v = std::getenv(name)) env_strings.push_back(std::string(name) + "=" + v);
  }
  for (const auto& [k, v] : req.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, argv;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = req.argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  pid_t pid = fork();
  if (pid < 0) {
    res.error = std::string("fork: ") + std::strerror(errno);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], exec_pipe[0], exec_pipe[1]})
      close(fd);
    return res;
  }
  if (pid == 0) {
    setpgid(0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (!req.cwd.empty() && chdir(req.cwd.c_str()) != 0) {
      int e = errno;
      (void)!write(exec_pipe[1], "c", 1);
      (void)!write(exec_pipe[1], &e, sizeof e);
      _exit(127);
    }
    execvpe(argv[0], argv.data(), envp.data());
    int e = errno;
    (void)!write(exec_pipe[1], "x", 1);
    (void)!write(exec_pipe[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(exec_pipe[1]);
  // Did exec succeed? The pipe closes on exec (CLOEXEC) or carries errno.
  char what = 0;
  int child_errno = 0;
  ssize_t n = read(exec_pipe[0], &what, 1);
  if (n == 1) {
    (void)!read(exec_pipe[0], &child_errno, sizeof child_errno);
  }
  close(exec_pipe[0]);
  if (n == 1) {
    waitpid(pid, nullptr, 0);
    close(out_pipe[0]);
    close(err_pipe[0]);
    res.error = (what == 'c' ? "cannot enter directory '" + req.cwd + "': "
                             : "cannot run '" + req.argv[0] + "': ") +
                std::strerror(child_errno);
    return res;
  }
  res.started = true;

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  bool term_sent = false;
  auto kill_at = std::chrono::steady_clock::time_point::max();
  // On cancel: SIGTERM to the process group, then SIGKILL 2 s later.
  auto stop_if_cancelled = [&] {
    if (cancel.cancelled() && !term_sent) {
      kill(-pid, SIGTERM);
      term_sent = true;
      res.stopped = true;
      kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    }
    if (term_sent && std::chrono::steady_clock::now() >= kill_at) {
      kill(-pid, SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
  };
  char buf[65536];
  while (open_fds > 0) {
    stop_if_cancelled();
    int r = poll(fds, 2, 50);
    if (r < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        if (i == 0) {
          Append(&res.out, &res.out_truncated, buf, static_cast<size_t>(got), req.max_output);
        } else {
          Append(&res.err, &res.err_truncated, buf, static_cast<size_t>(got), req.max_output);
        }
      } else if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  // Output closed: wait for the exit (still honouring cancellation).
  int status = 0;
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    stop_if_cancelled();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status)) res.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) res.term_signal = WTERMSIG(status);
  return res;
}

}  // namespace cueball::workers
