// The school MIS adapter: DfE Common Transfer Files dropped into an inbox
// folder are published as person updates and attendance summaries for
// children in open early help cases; CAF and TAF notifications delivered to
// the school are written as notices for its designated safeguarding lead.
// See README.md for the contract, mapping and security posture.
//
// Threading: the SDK's order (constructor, Start, OnDelivery..., Stop).
// The inbox loop runs on the adapter's own thread; Ingest() and Render()
// may be called from other threads (they share only the case index, under
// a mutex).
#ifndef EHX_ADAPTERS_SCHOOL_SCHOOL_ADAPTER_H_
#define EHX_ADAPTERS_SCHOOL_SCHOOL_ADAPTER_H_

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "case_index.h"
#include "ehx_adapter_protos.h"
#include "ehx_sdk/adapter.h"
#include "ehx_sdk/inbox.h"
#include "school_ingest.h"

namespace ehx::adapters::school {

using SchoolConfig = ::ehxpb::adapters::school::v1::SchoolConfig;

class SchoolAdapter : public ehx::sdk::Adapter {
 public:
  static constexpr const char* kType = "school";
  static constexpr const char* kVersion = "1.0.0";

  // Checks directories and the case map; throws StatusError
  // (INVALID_ARGUMENT / FAILED_PRECONDITION) naming the config key.
  SchoolAdapter(const SchoolConfig& config, ehx::sdk::Host host);
  ~SchoolAdapter() override;

  ehx::sdk::Status Start() override;
  void Stop() override;
  ehx::sdk::Status CheckHealth() override;

  // Writes the DSL notice of a CAF notification or TAF meeting to
  // dsl_inbox_dir (idempotent: same message, same file name). Other event
  // types are acknowledged and not written.
  ehx::sdk::DeliveryResult OnDelivery(
      const ::ehxpb::exchange::v1::Delivery& delivery) override;

  // One CTF in, records published through the host (ABI 1.2 `ingest`).
  ::ehxpb::adapter::v1::IngestReport Ingest(const std::string& input_name,
                                            std::string_view bytes) override;
  // The DSL notice of one delivery (ABI 1.2 `render`).
  ehx::sdk::Status Render(const ::ehxpb::exchange::v1::Delivery& delivery,
                          ::ehxpb::adapter::v1::RenderResult* out) override;

  // One pass over the inbox (the loop calls it; tests too).
  ehx::sdk::Status ScanOnce();

 private:
  IngestOutcome IngestWithHost(const std::string& input_name,
                               std::string_view bytes);
  std::shared_ptr<const CaseIndex> Cases();
  void ReloadCaseMapFileIfChanged();
  ehx::sdk::InboxAction ProcessFile(const std::filesystem::path& file);
  void Finish(const std::filesystem::path& file, const IngestReport& report);
  void Reject(const std::filesystem::path& file, const IngestReport& report);

  const SchoolConfig config_;
  const ehx::sdk::Host host_;
  CaseIndex inline_cases_;
  int64_t max_bytes_ = int64_t{64} << 20;

  std::mutex mu_;
  std::shared_ptr<const CaseIndex> cases_;            // guarded by mu_
  std::filesystem::file_time_type case_map_mtime_{};  // scan thread only
  std::unique_ptr<ehx::sdk::InboxPoller> poller_;
};

}  // namespace ehx::adapters::school

#endif  // EHX_ADAPTERS_SCHOOL_SCHOOL_ADAPTER_H_
