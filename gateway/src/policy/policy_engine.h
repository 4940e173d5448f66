// The sharing policy engine: decides every delivery (one message to one
// recipient) from the sender and recipient agencies and roles, the record
// type, the legal basis / consent state and whether the recipient is a
// party to the case, and trims the delivered payload to the field mask of
// (recipient role, record type). Deny by default; fails closed.
#ifndef EHX_POLICY_POLICY_ENGINE_H_
#define EHX_POLICY_POLICY_ENGINE_H_

#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "ehx/config/v1/config.pb.h"
#include "ehx/exchange/v1/envelope.pb.h"
#include "ehx/record/v1/shared_record.pb.h"

namespace ehx::policy {

using ehx::config::v1::AgencyRole;
using ehx::config::v1::RecordType;
using ehx::config::v1::SharingBasis;

// Rule ids the engine itself uses (never valid in config).
inline constexpr char kRuleSignificantHarmFrontDoor[] =
    "builtin-significant-harm-front-door";
inline constexpr char kRuleDefaultDeny[] = "default-deny";
inline constexpr char kRuleFailClosed[] = "fail-closed";
inline constexpr char kRuleUnknownRecordType[] =
    "fail-closed-unknown-record-type";
inline constexpr char kRuleUnknownSender[] = "fail-closed-unknown-sender";
inline constexpr char kRuleUnknownRecipient[] = "fail-closed-unknown-recipient";
inline constexpr char kRuleUnknownBasis[] = "fail-closed-unknown-basis";
inline constexpr char kRuleDecommissioned[] = "recipient-decommissioned";
inline constexpr char kRuleNotGranted[] = "recipient-not-granted";

// One delivery to decide, in the policy's own terms.
struct Request {
  std::string sender;     // sender agency id
  std::string recipient;  // recipient agency id
  RecordType record_type = ehx::config::v1::RECORD_TYPE_UNSPECIFIED;
  SharingBasis basis = ehx::config::v1::SHARING_BASIS_UNSPECIFIED;
  bool party = false;  // recipient is a party to the case
};

class MaskTree;

// The outcome. `rule_id` names the rule that allowed it, or why not.
struct Decision {
  bool share = false;
  std::string rule_id;
  RecordType record_type = ehx::config::v1::RECORD_TYPE_UNSPECIFIED;
  SharingBasis basis = ehx::config::v1::SHARING_BASIS_UNSPECIFIED;
  bool party = false;
  AgencyRole recipient_role = ehx::config::v1::AGENCY_ROLE_UNSPECIFIED;
  // True when the refusal is an engine or configuration failure (missing
  // or invalid policy, unknown agency, record type or basis): callers alert.
  bool failure = false;
  const MaskTree* mask = nullptr;  // set when share; owned by the engine
};

// Immutable after Create; all methods are thread-safe.
class PolicyEngine {
 public:
  // Compiles config.policy() against config.agencies(). Never fails: a
  // missing or invalid policy yields an engine that withholds everything
  // (ok() false, error() says why).
  static std::unique_ptr<PolicyEngine> Create(
      const ehx::config::v1::GatewayConfig& config);
  ~PolicyEngine();

  bool ok() const { return error_.empty(); }
  // Why the engine fails closed ("" when ok()).
  const std::string& error() const { return error_; }
  // The policy version label ("none" without a valid policy).
  const std::string& version() const { return version_; }

  // Decides one delivery in policy terms.
  Decision Decide(const Request& request) const;

  // Decides the delivery of `envelope` (sender_agency set) to `recipient`
  // given the case `record` as it stands with this event applied: derives
  // the record type, the basis and party status, then Decide().
  Decision Evaluate(const std::string& recipient,
                    const ehx::exchange::v1::Envelope& envelope,
                    const ehx::record::v1::CaseRecord& record) const;

  // Trims `envelope` to what `decision` (share == true) allows: header
  // fields, and the payload fields in the mask; extra_recipients, unmapped
  // native content and unknown fields are dropped. Returns false (envelope
  // cleared of its payload) if the decision carries no mask.
  bool ApplyMask(const Decision& decision,
                 ehx::exchange::v1::Envelope* envelope) const;

  // "to=<agency> record=<type> basis=<basis> party=<yes|no> rule=<id>
  // policy=<version>" for the audit trail.
  std::string AuditDetail(const std::string& recipient,
                          const Decision& decision) const;

  // Role of a registered agency (UNSPECIFIED if unknown).
  AgencyRole RoleOf(const std::string& agency) const;

  // Pure helpers (exposed for tests).
  static RecordType RecordTypeOf(ehx::exchange::v1::EventType type);
  // The basis for delivering `envelope` to `recipient`; `purposes` are the
  // consent purposes that cover the record type.
  static SharingBasis DeriveBasis(const std::string& recipient,
                                  const ehx::exchange::v1::Envelope& envelope,
                                  const ehx::record::v1::CaseRecord& record,
                                  const std::set<int>& purposes);
  static bool IsParty(const std::string& recipient,
                      const ehx::record::v1::CaseRecord& record);

 private:
  PolicyEngine() = default;
  struct Rule {
    std::string id;
    std::set<int> sender_roles;  // empty: any
    std::set<int> bases;
    bool party_required = false;
  };
  std::string error_;
  std::string version_ = "none";
  struct AgencyInfo {
    AgencyRole role;
    bool decommissioned;
    bool granted;
  };
  std::map<std::string, AgencyInfo> agencies_;
  // (recipient role, record type) -> rules in config order.
  std::map<std::pair<int, int>, std::vector<Rule>> rules_;
  std::map<std::pair<int, int>, std::unique_ptr<MaskTree>> masks_;
  std::map<int, std::set<int>> purposes_;
};

}  // namespace ehx::policy

#endif  // EHX_POLICY_POLICY_ENGINE_H_
