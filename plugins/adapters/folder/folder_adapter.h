// The folder (file-drop) adapter: agency systems that can only read and
// write files exchange ehx envelopes through three directories. See
// README.md for the contract and the security posture. The plugin entry
// (EHX_ADAPTER) is in folder_entry.cc; this class lives in the
// ehx_adapter_folder_core library so tests can drive it directly.
#ifndef EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_
#define EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"

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
  void Run();
  bool Stopping();
  ehx::sdk::Status ScanOnce();
  void ProcessFile(const std::filesystem::path& file);
  static ehx::sdk::Status RemoveFile(const std::filesystem::path& file);
  void Reject(const std::filesystem::path& file, const ehx::sdk::Status& why);

  const ehxpb::adapters::folder::v1::FolderConfig config_;
  const ehx::sdk::Host host_;
  std::chrono::milliseconds poll_{1000};
  std::chrono::milliseconds min_age_{200};
  std::chrono::milliseconds retry_backoff_{5000};
  int64_t max_bytes_ = 16 << 20;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;    // guarded by mu_
  ehx::sdk::Status health_;  // guarded by mu_
  std::thread thread_;
  // Only touched by the scan thread.
  std::map<std::filesystem::path, std::chrono::steady_clock::time_point>
      retry_at_;
};

}  // namespace ehx::adapters::folder

#endif  // EHX_ADAPTERS_FOLDER_FOLDER_ADAPTER_H_
