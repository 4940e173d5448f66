// The CSC adapter's translation core, independent of the plugin glue:
//
//   MapInput()     one native input (CIN census XML or a front-door
//                  decision JSON file) -> envelopes ready to publish plus
//                  record-level errors, in input order. Pure, no I/O.
//   PublishAll()   publishes the mapped records one by one through a
//                  publish function (the SDK host's Publish in the plugin,
//                  a fake in tests) and builds the IngestReport.
//   RenderReferral() one step-up referral delivery -> the referral JSON the
//                  CSC system takes in (referral.schema.json) and the link
//                  index entry to remember.
//
// Nothing here logs, and no error text carries personal data (names, NHS
// numbers, free text): errors name the field and the rule only.
#ifndef EHX_PLUGINS_ADAPTERS_CSC_CSC_INGEST_H_
#define EHX_PLUGINS_ADAPTERS_CSC_CSC_INGEST_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cin_census.h"
#include "ehx_adapter_protos.h"
#include "link_index.h"

namespace ehx::adapters::csc {

using CscConfig = ::ehxpb::adapters::csc::v1::CscConfig;
using Envelope = ::ehxpb::exchange::v1::Envelope;
using RecordError = ::ehxpb::adapter::v1::RecordError;
using IngestReport = ::ehxpb::adapter::v1::IngestReport;

// The envelope of a MappedItem, or none: std::optional<Envelope>'s
// interface for what callers use (explicit bool, *, ->, assignment from an
// Envelope), but shared and possibly on an arena: MapCensus builds all its
// envelopes on one protobuf Arena, which each MappedEnvelope keeps alive
// (std::shared_ptr aliasing), so building and freeing tens of thousands of
// envelopes is a few block allocations instead of a malloc/free per
// submessage and string. Copies share the envelope (shallow).
class MappedEnvelope {
 public:
  MappedEnvelope() = default;
  // `env` is owned by whatever `owner` owns (e.g. an arena).
  explicit MappedEnvelope(std::shared_ptr<Envelope> env)
      : env_(std::move(env)) {}
  MappedEnvelope& operator=(Envelope&& env) {
    env_ = std::make_shared<Envelope>(std::move(env));
    return *this;
  }
  explicit operator bool() const { return env_ != nullptr; }
  bool has_value() const { return env_ != nullptr; }
  Envelope& operator*() const { return *env_; }
  Envelope* operator->() const { return env_.get(); }

 private:
  std::shared_ptr<Envelope> env_;
};

// One unit of the report, in input order.
struct MappedItem {
  std::string position;
  // Set: a record to publish (its `errors` are flagged_only notes).
  // Empty with counts_as_record: a dropped record (errors say why).
  // Empty without counts_as_record: a note about the input (flagged).
  MappedEnvelope envelope;
  bool counts_as_record = true;
  std::vector<RecordError> errors;
};

struct MapResult {
  bool input_rejected = false;
  std::string input_error;  // rule: message (line n)
  std::vector<MappedItem> items;
};

enum class InputKind { kUnknown, kCensusXml, kDecisionJson };
// Sniffs the content (after a UTF-8 BOM and whitespace): '<' is census XML,
// '{' or '[' a decision file.
InputKind DetectKind(std::string_view bytes);

// Reads and maps a census in one pass (each Child mapped as soon as it is
// read). The same result as ParseCensus followed by MapCensusFile.
MapResult MapCensus(std::string_view bytes, const CscConfig& config,
                    const LinkIndex& index);
// Maps an already parsed census (tests, the fuzz target's cross-check, and
// MapCensus itself when a Header comes after the first Child).
MapResult MapCensusFile(const CensusFile& file, const CscConfig& config,
                        const LinkIndex& index);
MapResult MapDecisions(std::string_view bytes, const CscConfig& config,
                       const LinkIndex& index);
MapResult MapInput(std::string_view bytes, const CscConfig& config,
                   const LinkIndex& index);

// What a publish attempt came to.
struct PublishOutcome {
  enum class Kind { kAccepted, kRefused, kTransient };
  Kind kind = Kind::kAccepted;
  std::string message_id;  // kAccepted
  std::string code;        // e.g. "INVALID_ARGUMENT"
  std::string message;     // the gateway's text (no personal data)
  // (field, "rule: description") pairs from google.rpc.BadRequest.
  std::vector<std::pair<std::string, std::string>> violations;
};
using PublishFn = std::function<PublishOutcome(const Envelope&)>;

struct IngestOutcome {
  IngestReport report;
  // A transient failure stopped publishing: keep the input and try again
  // later (what was published is idempotent and will be recognised).
  bool retry_later = false;
};

// Publishes every record of `mapped` in order. A refused record becomes a
// RecordError (rule from the gateway's violation) and the rest go on.
IngestOutcome PublishAll(const std::string& input_name, const MapResult& mapped,
                         const PublishFn& publish);

// Renders a step-up referral delivery as the CSC referral JSON. Returns
// false with `rule` / `error` (no personal data) when the delivery is not a
// step-up referral or lacks what the file needs.
struct RenderedReferral {
  std::string file_name;
  std::string json;
  LinkEntry link;
};
bool RenderReferral(const ::ehxpb::exchange::v1::Delivery& delivery,
                    RenderedReferral* out, std::string* rule,
                    std::string* error);

// The JSON document for one StepUpReferral (exposed for tests and the
// benchmark).
std::string ReferralJson(const Envelope& envelope);

}  // namespace ehx::adapters::csc

#endif  // EHX_PLUGINS_ADAPTERS_CSC_CSC_INGEST_H_
