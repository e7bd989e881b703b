// cueball blob ls ID | blob get ID NAME: lists a run's artifacts, or writes
// one's bytes to stdout.
#include <iostream>

#include "client/cli/commands/command.h"
#include "client/cli/output.h"

namespace cueball::cli {
namespace {

class Blob final : public Command {
 public:
  CLI::App* Add(CLI::App& app) override {
    auto* cmd = app.add_subcommand("blob", "list and read the artifacts (blobs) of a run");
    cmd->require_subcommand(1);
    ls_ = cmd->add_subcommand("ls", "list a run's blobs");
    ls_->add_option("id", o_.id, "run id")->required();
    get_ = cmd->add_subcommand("get", "write a blob's bytes to stdout");
    get_->add_option("id", o_.id, "run id")->required();
    get_->add_option("name", o_.name, "blob name")->required();
    return cmd;
  }

  int Run(client::Client& c, const Globals& g) override {
    if (get_->parsed()) {
      v1::Blob info;
      std::string data;
      auto s = c.GetBlob(o_.id, o_.name, &info, &data);
      if (!s.ok()) return Fail(s);
      std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
      std::cout.flush();
      return 0;
    }
    v1::ListBlobsResponse resp;
    auto s = c.ListBlobs(o_.id, &resp);
    if (!s.ok()) return Fail(s);
    if (g.json) {
      std::cout << ToJson(resp).dump(2) << "\n";
      return 0;
    }
    Table t({"NAME", "SIZE", "CONTENT TYPE", "SHA256", "UPDATED"});
    for (const auto& b : resp.blobs()) {
      t.Add({b.name(), std::to_string(b.size()), b.content_type(), b.sha256().substr(0, 16),
             FormatTimestamp(b.updated_at())});
    }
    t.Print(std::cout);
    return 0;
  }

 private:
  struct Options {
    std::string id, name;
  } o_;
  CLI::App* ls_ = nullptr;
  CLI::App* get_ = nullptr;
};

}  // namespace

std::unique_ptr<Command> BlobCommand() { return std::make_unique<Blob>(); }

}  // namespace cueball::cli
