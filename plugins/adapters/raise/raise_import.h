// Gateway deliveries -> Raise import files (contract section 12):
// STEP_DOWN -> a `step_down` item, REFERRAL_OUTCOME -> `referral_outcome`,
// DOCUMENT_ATTACHED -> `document_attached`. One item per file. The itemId
// is a UUID derived from the gateway message id, so a redelivery or an
// operator re-queue reuses it and Raise answers `duplicate`.
//
// Only identifiers that passed validation are written (never an INVALID
// one); no legacy date forms; date-times in UTC with `Z`.
// Pure; thread-safe.
#ifndef EHX_ADAPTERS_RAISE_RAISE_IMPORT_H_
#define EHX_ADAPTERS_RAISE_RAISE_IMPORT_H_

#include <string>

#include "ehx_adapter_protos.h"

namespace ehx::adapters::raise {

struct ImportOptions {
  std::string la_code = "000";
  std::string agency_id = "early-help";
  std::string producer_version = "0.9.0";
};

// What RenderImport produced.
struct ImportRender {
  // Empty when the delivery is rendered; otherwise why not:
  // "not_for_raise" (event type Raise does not take: acknowledge and skip),
  // or a rule id such as "missing_case_ref" (permanent: reject).
  std::string skip_reason;
  std::string file_name;  // raise-import-<ts>-<batch>.json
  std::string content;    // UTF-8 JSON, LF line ends
  std::string item_id;    // the item's UUID
};

ImportRender RenderImport(const ehxpb::exchange::v1::Delivery& delivery,
                          const ImportOptions& options);

// A UUID (version-5 layout) derived from `seed`.
std::string UuidFrom(const std::string& seed);

}  // namespace ehx::adapters::raise

#endif  // EHX_ADAPTERS_RAISE_RAISE_IMPORT_H_
