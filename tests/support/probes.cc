#include "tests/support/probes.h"

#include <grpcpp/generic/generic_stub.h>

#include <future>

namespace cueball::testing {

int GrpcHealth(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1), response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) { done.set_value(s); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string text;
  for (auto& s : slices) text.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = 1}: field 1, varint.
  return text.size() == 2 && text[0] == '\x08' ? text[1] : 0;
}

int GrpcHealth(const std::string& address) {
  return GrpcHealth(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

}  // namespace cueball::testing
