// The CSC / front door ("Contact Point") adapter. See README.md.
//
//  - OnDelivery: a step-up referral for the front door is rendered as the
//    referral JSON (Render) and written atomically into outbox_dir; the
//    referral is remembered in the link index (state_dir/links.jsonl).
//  - A scan thread reads decision_inbox_dir (front door decisions ->
//    ReferralOutcome) and census_inbox_dir (CIN census XML -> StepDown for
//    RC9 closures, ReferralOutcome with the CSC episode for linked 5D
//    referrals) and calls Ingest() on each file, like `ehxctl adapter check`
//    does.
//
// Threading as ehx::sdk::Adapter: hooks are never called concurrently with
// each other; the scan thread and OnDelivery share only the link index
// (locked).
#ifndef EHX_PLUGINS_ADAPTERS_CSC_CSC_ADAPTER_H_
#define EHX_PLUGINS_ADAPTERS_CSC_CSC_ADAPTER_H_

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "csc_ingest.h"
#include "ehx_sdk/adapter.h"
#include "ehx_sdk/inbox.h"
#include "link_index.h"

namespace ehx::adapters::csc {

class CscAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "csc";
  static constexpr const char* kVersion = "1.0.0";

  // Throws StatusError for an invalid config (missing or relative
  // directories, negative durations) or an unreadable link index.
  CscAdapter(const CscConfig& config, ehx::sdk::Host host);
  ~CscAdapter() override;

  ehx::sdk::Status Start() override;
  void Stop() override;
  ehx::sdk::Status CheckHealth() override;
  ehx::sdk::DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override;
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                          std::string_view bytes) override;
  ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                          ehxpb::adapter::v1::RenderResult* out) override;

  // One pass over the inboxes (the scan thread calls it; tests too).
  void ScanOnce() { poller_->ScanOnce(); }

 private:
  IngestOutcome IngestWithRetry(const std::string& input_name,
                                std::string_view bytes);
  ehx::sdk::InboxAction ProcessFile(const std::filesystem::path& file);
  // Moves the input to rejected_dir or processed_dir (or deletes it) with
  // its report; false if it could not be cleared.
  bool Finish(const std::filesystem::path& file, const IngestReport& report,
              bool rejected);

  const CscConfig config_;
  const ehx::sdk::Host host_;
  LinkIndex index_;
  int64_t max_bytes_ = int64_t{64} << 20;
  std::unique_ptr<ehx::sdk::InboxPoller> poller_;  // last: stops first
};

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_CSC_ADAPTER_H_
