// The folder (file-drop) adapter: agency systems that can only read and
// write files exchange ehx envelopes through three directories. See
// README.md for the contract and the security posture. The plugin entry
// (EHX_ADAPTER) is in folder_entry.cc; this class lives in the
// ehx_adapter_folder_core library so tests can drive it directly.
#ifndef EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_
#define EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_

#include <cstdint>
#include <filesystem>
#include <memory>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "ehx_sdk/inbox.h"

namespace ehx::adapters::folder {

// Publishes every finished *.json envelope dropped into inbox_dir; writes
// every delivery to outbox_dir; moves refused files to rejected_dir with an
// error text beside them. Constructor throws StatusError on bad config.
class FolderAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "folder";
  static constexpr const char* kVersion = "1.0.0";

  FolderAdapter(const ehxpb::adapters::folder::v1::FolderConfig& config,
                ehx::sdk::Host host);
  ~FolderAdapter() override;

  ehx::sdk::Status Start() override;
  void Stop() override;
  ehx::sdk::Status CheckHealth() override;

  // Writes the delivered envelope to the outbox. Idempotent: the same
  // message always gets the same file name, and a redelivery overwrites it.
  ehx::sdk::DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override;

 private:
  // The inbox handler: publish one file, then clear it (processed_dir or
  // delete), or reject it, or leave it for a retry.
  ehx::sdk::InboxAction ProcessFile(const std::filesystem::path& file);
  void Reject(const std::filesystem::path& file, const ehx::sdk::Status& why);

  const ehxpb::adapters::folder::v1::FolderConfig config_;
  const ehx::sdk::Host host_;
  int64_t max_bytes_ = 16 << 20;
  std::unique_ptr<ehx::sdk::InboxPoller> poller_;
};

}  // namespace ehx::adapters::folder

#endif  // EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_
