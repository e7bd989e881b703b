#include "client/cli/commands/command.h"

#include <fstream>
#include <iostream>
#include <iterator>

namespace cueball::cli {
namespace {

const char* CodeName(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    default:
      return "ERROR";
  }
}

}  // namespace

int Fail(const grpc::Status& s) {
  std::cerr << "cueball: " << CodeName(s.error_code()) << ": " << s.error_message() << "\n";
  return kExitError;
}

int Usage(const std::string& msg) {
  std::cerr << "cueball: " << msg << "\n";
  return kExitUsage;
}

bool ReadInputArg(const std::string& arg, std::string* out) {
  if (arg.empty() || arg[0] != '@') {
    *out = arg;
    return true;
  }
  if (arg == "@-") {
    out->assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(arg.substr(1), std::ios::binary);
  if (!in) return false;
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

std::vector<std::unique_ptr<Command>> AllCommands() {
  std::vector<std::unique_ptr<Command>> all;
  all.push_back(EnqueueCommand());
  all.push_back(GetCommand());
  all.push_back(WaitCommand());
  all.push_back(ListCommand());
  all.push_back(CancelCommand());
  all.push_back(RetryCommand());
  all.push_back(QueueCommand());
  all.push_back(ScheduleCommand());
  all.push_back(SignalCommand());
  all.push_back(BlobCommand());
  all.push_back(GraphCommand());
  all.push_back(TypesCommand());
  all.push_back(NodesCommand());
  all.push_back(WorkersCommand());
  all.push_back(WatchCommand());
  all.push_back(SubscriptionsCommand());
  all.push_back(BenchCommand());
  return all;
}

}  // namespace cueball::cli
