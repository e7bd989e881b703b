// Executor: a fixed set of threads that run the api's handlers, so that no
// gRPC thread ever blocks on the database. Tasks run in the order posted;
// Stop runs every task already posted, then joins the threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cueball::api {

class Executor {
 public:
  Executor(int threads, std::string name);
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Runs `task` on one of the threads. After Stop, runs it on the caller.
  void Post(std::function<void()> task);
  // Runs what was posted, then joins the threads. Idempotent.
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace cueball::api
