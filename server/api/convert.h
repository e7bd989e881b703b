// Translation between cueball.v1 messages and domain values, and from domain
// Status to grpc::Status. The only code besides the services that sees *.pb.h.
#pragma once

#include <grpcpp/grpcpp.h>

#include "cueball/v1/workflows.pb.h"
#include "server/domain/run.h"
#include "server/domain/status.h"
#include "server/engine/run_service.h"
#include "server/engine/workflow.h"
#include "server/maintenance/node_registry.h"
#include "server/store/event_store.h"

namespace cueball::api {

grpc::Status ToGrpc(const Status& s);
void SetTime(TimePoint t, google::protobuf::Timestamp* out);
google::protobuf::Duration ToDuration(Millis m);
// Check first (CheckDuration, CheckTimestamp).
Millis FromDuration(const google::protobuf::Duration& d);
TimePoint FromTimestamp(const google::protobuf::Timestamp& t);
void ToProto(const Run& run, int step_count, v1::Run* out);
void ToProto(const store::BlobInfo& b, v1::Blob* out);
void ToProto(const Event& event, v1::Event* out);
void ToProto(const store::Subscription& sub, int64_t head, v1::Subscription* out);
v1::RunStatus ToProto(RunStatus s);
std::optional<RunStatus> FromProto(v1::RunStatus s);
// A google.protobuf.Timestamp or Duration within the ranges the protobuf
// spec allows (years 1..9999; +-10,000 years; nanos with the seconds' sign):
// OK, else INVALID_ARGUMENT naming `field`. Check before converting.
grpc::Status CheckTimestamp(const google::protobuf::Timestamp& t, const std::string& field);
grpc::Status CheckDuration(const google::protobuf::Duration& d, const std::string& field);
// Checks the request's times (fields prefixed by `prefix`), then converts.
grpc::Status FromProto(const v1::EnqueueRequest& req, const std::string& prefix,
                       engine::EnqueueSpec* out);
// A List request's filter and page, or a bulk action's filter (fields
// named "filter.x" in errors): statuses and times checked, then converted.
grpc::Status FromProto(const v1::ListRequest& req, engine::ListSpec* out);
grpc::Status FromProto(const v1::RunFilter& filter, engine::FilterSpec* out);
void ToProto(const engine::WorkflowType& type, v1::WorkflowType* out);
void ToProto(const maintenance::NodeView& node, v1::Node* out);
void ToProto(const store::QueueInfo& queue, v1::Queue* out);
void ToProto(const store::Schedule& schedule, v1::Schedule* out);
// The fields a client sets (the engine validates them).
void FromProto(const v1::Schedule& schedule, engine::ScheduleSpec* out);

}  // namespace cueball::api
