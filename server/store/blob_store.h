// BlobStore: named artifacts of runs, kept until the run is removed
// (run_store.h lists the parts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/store/run_store.h"

namespace cueball::store {

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Saves (or replaces) a blob of a run running under `lease_id`, with a
  // blob_saved event. FAILED_PRECONDITION when the lease is not this
  // attempt's.
  virtual StatusOr<BlobInfo> PutBlob(const std::string& run_id, const std::string& lease_id,
                                     const std::string& name, const std::string& content_type,
                                     const std::string& data) = 0;
  // NOT_FOUND naming the run or the blob.
  virtual StatusOr<StoredBlob> GetBlob(const std::string& run_id, const std::string& name) = 0;
  // The run's blobs by name; NOT_FOUND for no such run.
  virtual StatusOr<std::vector<BlobInfo>> ListBlobs(const std::string& run_id) = 0;
};

}  // namespace cueball::store
