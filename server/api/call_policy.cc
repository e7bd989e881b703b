#include "server/api/call_policy.h"

#include <random>

#include "server/logging/logging.h"

namespace cueball::api {
namespace {

bool ValidRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return false;
    }
  }
  return true;
}

std::string NewRequestId() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

const char* StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

std::shared_ptr<spdlog::logger> CallPolicy::Log() {
  auto l = spdlog::get("api");
  return l ? l : spdlog::default_logger();
}

void CallPolicy::SetServing(bool serving, std::string reason) {
  std::lock_guard<std::mutex> lock(reason_mu_);
  not_serving_reason_ = std::move(reason);
  serving_.store(serving);
}

std::string CallPolicy::RequestId(grpc::ServerContextBase* ctx) {
  std::string id;
  const auto& md = ctx->client_metadata();
  auto it = md.find("x-request-id");
  if (it != md.end()) id.assign(it->second.data(), it->second.size());
  if (!ValidRequestId(id)) id = NewRequestId();
  ctx->AddInitialMetadata("x-request-id", id);
  return id;
}

grpc::Status CallPolicy::Admit(const char* method, grpc::ServerContextBase* ctx) {
  if (auth_ && auth_->enabled()) {
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    std::string value = it == md.end() ? "" : std::string(it->second.data(), it->second.size());
    if (!auth_->Allowed(value)) {
      logging::Warn(Log(), "rpc unauthenticated",
                    {{"method", method},
                     {"peer", ctx->peer()},
                     {"reason", value.empty() ? "no_token" : "bad_token"}});
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          value.empty() ? "missing bearer token: send metadata "
                                          "'authorization: Bearer TOKEN'"
                                        : "invalid bearer token");
    }
  }
  if (!serving_.load()) {
    std::lock_guard<std::mutex> lock(reason_mu_);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "cueballd is not ready: " + not_serving_reason_);
  }
  if (limiter_ && !limiter_->TryAcquire()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "request rate limit of " +
                            std::to_string(static_cast<int>(limiter_->rate())) +
                            " per second exceeded; retry later");
  }
  return grpc::Status::OK;
}

void CallPolicy::Done(const char* method, const grpc::Status& s,
                      std::chrono::steady_clock::time_point start) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (metrics_) metrics_->Rpc(method, StatusCodeName(s.error_code()), seconds);
  if (!s.ok()) {
    logging::Debug(Log(), "rpc failed",
                   {{"method", method},
                    {"code", StatusCodeName(s.error_code())},
                    {"message", s.error_message()}});
  }
}

Millis CallPolicy::WaitWithinDeadline(grpc::ServerContextBase* ctx, Millis wanted) {
  const auto deadline = ctx->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return wanted;
  auto left = std::chrono::duration_cast<Millis>(deadline - std::chrono::system_clock::now());
  left -= std::min(Millis(1000), Millis(100) + left / 20);
  if (left.count() < 0) left = Millis(0);
  return wanted.count() >= 0 && left < wanted ? left : wanted;
}

}  // namespace cueball::api
