// The Supporting Families adapter: reads the service's outcome tracker CSV
// extracts from an inbox folder into OUTCOME_EVIDENCE envelopes, and writes
// the attendance / anti-social behaviour evidence CSV for the service from
// the deliveries it receives. See README.md. The plugin entry is in
// sf_entry.cc; this class lives in ehx_adapter_supporting_families_core.
#ifndef EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_ADAPTER_H_
#define EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_ADAPTER_H_

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "ehx_sdk/inbox.h"
#include "sf_evidence.h"
#include "sf_tracker.h"

namespace ehx::adapters::supporting_families {

using SupportingFamiliesConfig =
    ::ehxpb::adapters::supporting_families::v1::SupportingFamiliesConfig;

class SupportingFamiliesAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "supporting_families";
  static constexpr const char* kVersion = "1.0.0";

  // Throws StatusError on a bad config (names the key).
  SupportingFamiliesAdapter(const SupportingFamiliesConfig& config,
                            ehx::sdk::Host host);
  ~SupportingFamiliesAdapter() override;

  // Starts the inbox scan thread.
  ehx::sdk::Status Start() override;
  void Stop() override;
  ehx::sdk::Status CheckHealth() override;

  // Adds the delivery's evidence rows to the evidence set and writes the
  // complete evidence file to outbox_dir. Nothing to share (no tracker
  // person): ack. Not renderable: reject. Write failure: retry.
  ehx::sdk::DeliveryResult OnDelivery(
      const ehxpb::exchange::v1::Delivery& delivery) override;

  // One tracker extract: publishes every accepted row (section 3.3); the
  // people of accepted rows join the evidence index.
  ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                          std::string_view bytes) override;

  // The evidence file holding this delivery's rows only.
  ehx::sdk::Status Render(const ehxpb::exchange::v1::Delivery& delivery,
                          ehxpb::adapter::v1::RenderResult* out) override;

  // One pass over the inbox (what the scan thread does each poll).
  // Public for tests.
  ehx::sdk::Status ScanOnce();

 private:
  ehxpb::adapter::v1::IngestReport IngestImpl(const std::string& input_name,
                                              std::string_view bytes,
                                              bool* transient_failure,
                                              TrackerFile* parsed);
  ehx::sdk::InboxAction ProcessFile(const std::filesystem::path& file);
  void SaveIndexLocked();
  void RememberDigest(const std::string& digest);
  void SaveEvidenceLocked(const std::string& csv);

  const SupportingFamiliesConfig config_;
  const ehx::sdk::Host host_;
  std::string archive_dir_, rejected_dir_, reports_dir_;
  TrackerOptions tracker_options_;
  MapOptions map_options_;

  std::mutex state_mu_;  // guards index_ and evidence_
  TrackerIndex index_;
  std::map<std::string, EvidenceRow> evidence_;  // by evidence_id

  // SHA-256 of every extract already processed (contract 3.3 step 2), kept
  // in digests_path_ (state_dir, else the archive folder) across restarts.
  std::set<std::string> digests_;
  std::string digests_path_;
  std::unique_ptr<ehx::sdk::InboxPoller> poller_;  // last: stops first
};

}  // namespace ehx::adapters::supporting_families

#endif  // EHX_ADAPTERS_SUPPORTING_FAMILIES_SF_ADAPTER_H_
