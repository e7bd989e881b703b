// Output of the cueball CLI: aligned tables for people, JSON for programs.
// JSON output is the proto's JSON mapping with the JSON-text fields (input,
// state, result, event data) embedded as real JSON.
#pragma once

#include <google/protobuf/message.h>

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cueball/v1/workflows.pb.h"

namespace cueball::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(std::ostream& out) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

nlohmann::json ToJson(const google::protobuf::Message& msg);
std::string FormatTimestamp(const google::protobuf::Timestamp& t);  // "-" if unset
void PrintRunDetail(const v1::Run& run, std::ostream& out);
void PrintRunTable(const std::vector<const v1::Run*>& runs, std::ostream& out);
// One line per event: position, time, run, type, kind, step#attempt, data.
void PrintEventLine(const v1::Event& event, std::ostream& out);

}  // namespace cueball::cli
