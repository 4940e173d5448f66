// Delivered payloads carry no field outside the mask of (recipient role,
// record type), keep every masked field that was sent, and drop unknown
// fields, extra_recipients and unmapped native content.
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/match.h"
#include "policy/policy_engine.h"
#include "policy/policy_validate.h"
#include "policy_test_util.h"

namespace ehx::policy {
namespace {

namespace cfg = ehx::config::v1;
namespace pb = google::protobuf;
using ehx::exchange::v1::Envelope;

// Every set field path ("caf_notification.children.legal_name.given").
void SetPaths(const pb::Message& m, const std::string& prefix,
              std::set<std::string>* out) {
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const auto* f : fields) {
    const std::string p = prefix.empty() ? f->name() : prefix + "." + f->name();
    out->insert(p);
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
        SetPaths(m.GetReflection()->GetRepeatedMessage(m, f, i), p, out);
      }
    } else {
      SetPaths(m.GetReflection()->GetMessage(m, f), p, out);
    }
  }
}

bool HasUnknownFields(const pb::Message& m) {
  if (!m.GetReflection()->GetUnknownFields(m).empty()) return true;
  std::vector<const pb::FieldDescriptor*> fields;
  m.GetReflection()->ListFields(m, &fields);
  for (const auto* f : fields) {
    if (f->cpp_type() != pb::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (f->is_repeated()) {
      for (int i = 0; i < m.GetReflection()->FieldSize(m, f); ++i) {
        if (HasUnknownFields(m.GetReflection()->GetRepeatedMessage(m, f, i)))
          return true;
      }
    } else if (HasUnknownFields(m.GetReflection()->GetMessage(m, f))) {
      return true;
    }
  }
  return false;
}

const std::set<std::string> kHeader = {
    "message_id", "idempotency_key", "case_ref",
    "event_type", "occurred_at",     "correlation_id",
    "ttl",        "sender_agency",   "accepted_at"};

// Inside the mask: a mask path is a prefix of p, or p leads to one.
bool Covered(const std::string& p, const std::vector<std::string>& mask) {
  const std::string head = p.substr(0, p.find('.'));
  if (kHeader.count(head)) return true;
  for (const auto& m : mask) {
    if (p == m || absl::StartsWith(p, m + ".") || absl::StartsWith(m, p + "."))
      return true;
  }
  return false;
}

// Leaf-wise "the mask keeps it": a mask path equals p or is a prefix.
bool Kept(const std::string& p, const std::vector<std::string>& mask) {
  const std::string head = p.substr(0, p.find('.'));
  if (kHeader.count(head)) return true;
  for (const auto& m : mask) {
    if (p == m || absl::StartsWith(p, m + ".")) return true;
  }
  return false;
}

TEST(PolicyMaskTest, DeliveredPayloadsCarryNoFieldOutsideTheMask) {
  const cfg::GatewayConfig c = testing::DefaultPolicyConfig();
  auto engine = PolicyEngine::Create(c);
  ASSERT_TRUE(engine->ok()) << engine->error();
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"tests/conformance/valid", "deploy/demo/messages"}) {
    for (const auto& f :
         std::filesystem::directory_iterator(testing::Src(dir))) {
      if (f.path().extension() == ".json") files.push_back(f.path());
    }
  }
  ASSERT_GE(files.size(), 14u);
  int checked = 0, removed_fields = 0;
  std::set<int> types_seen;
  for (const auto& file : files) {
    Envelope original = testing::LoadEnvelope(file);
    original.set_sender_agency("role-early-help");
    original.set_message_id("m-1");
    original.add_extra_recipients("role-school");
    // Native content the sender's adapter did not map: kept with the
    // event, never delivered, whatever the mask.
    auto* unmapped = original.add_unmapped();
    unmapped->set_path("$.cases[0].riskMatrix");
    unmapped->set_media_type("application/json");
    unmapped->set_raw("{\"note\":\"Ffion Ó Súilleabháin\"}");
    const cfg::RecordType type =
        PolicyEngine::RecordTypeOf(original.event_type());
    ASSERT_NE(type, cfg::RECORD_TYPE_UNSPECIFIED) << file;
    types_seen.insert(type);
    // An unknown field deep in the payload (a newer sender's schema).
    {
      const auto* oneof = Envelope::descriptor()->FindOneofByName("payload");
      const auto* f =
          original.GetReflection()->GetOneofFieldDescriptor(original, oneof);
      original.GetReflection()
          ->MutableMessage(&original, f)
          ->GetReflection()
          ->MutableUnknownFields(
              original.GetReflection()->MutableMessage(&original, f))
          ->AddVarint(9999, 1);
    }
    for (int role = cfg::AGENCY_ROLE_EARLY_HELP; role <= cfg::AGENCY_ROLE_OTHER;
         ++role) {
      std::vector<std::string> mask;
      for (const auto& m : c.policy().masks()) {
        for (const auto& r : m.recipient_roles()) {
          if (r != cfg::AgencyRole_Name(static_cast<cfg::AgencyRole>(role)))
            continue;
          if (std::find(m.record_types().begin(), m.record_types().end(),
                        type) == m.record_types().end()) {
            continue;
          }
          mask.assign(m.paths().begin(), m.paths().end());
        }
      }
      // Find a decision that shares with this role, if any.
      Decision share;
      for (int b = 1; b <= 8 && !share.share; ++b) {
        for (const char* sender :
             {"role-early-help", "role-csc", "role-school"}) {
          Decision d = engine->Decide(
              {sender, testing::AgencyFor(testing::RoleNames()[role - 1]), type,
               static_cast<cfg::SharingBasis>(b), true});
          if (d.share) {
            share = d;
            break;
          }
        }
      }
      if (!share.share) continue;
      ASSERT_FALSE(mask.empty())
          << "shared without a mask: role " << role << " type " << type;
      Envelope delivered = original;
      ASSERT_TRUE(engine->ApplyMask(share, &delivered));
      std::set<std::string> before, after;
      SetPaths(original, "", &before);
      SetPaths(delivered, "", &after);
      for (const auto& p : after) {
        EXPECT_TRUE(Covered(p, mask))
            << file << " role " << role << ": " << p << " is outside the mask";
      }
      for (const auto& p : before) {
        if (Kept(p, mask)) {
          EXPECT_TRUE(after.count(p))
              << file << " role " << role << ": lost " << p;
        } else if (!Covered(p, mask)) {
          ++removed_fields;
        }
      }
      EXPECT_EQ(delivered.extra_recipients_size(), 0);
      EXPECT_EQ(delivered.unmapped_size(), 0) << file << " role " << role;
      EXPECT_FALSE(HasUnknownFields(delivered)) << file;
      EXPECT_EQ(delivered.payload_case(), original.payload_case()) << file;
      EXPECT_EQ(delivered.message_id(), "m-1");
      ++checked;
    }
  }
  EXPECT_EQ(types_seen.size(), 12u);
  EXPECT_GT(checked, 40);
  EXPECT_GT(removed_fields, 100);
  std::printf(
      "policy masks: %d (message, role) deliveries checked, %d fields "
      "removed\n",
      checked, removed_fields);
}

TEST(PolicyMaskTest, SchoolLearnsLeadAndNextTafButNotFamilyDetail) {
  auto engine = PolicyEngine::Create(testing::DefaultPolicyConfig());
  Envelope opened = testing::LoadEnvelope(
      testing::Src("deploy/demo/messages/01-case-opened.json"));
  Decision d = engine->Decide({"role-early-help", "role-school",
                               cfg::RECORD_TYPE_CAF_NOTIFICATION,
                               cfg::SHARING_BASIS_CONSENT_CITED, true});
  ASSERT_TRUE(d.share);
  ASSERT_TRUE(engine->ApplyMask(d, &opened));
  EXPECT_EQ(opened.case_opened().lead_practitioner().name(),
            "Siobhán Kowalczyk");
  EXPECT_EQ(opened.case_opened().family_members_size(), 0);  // parents
  EXPECT_FALSE(opened.case_opened().has_family());  // relationships, notes
  EXPECT_EQ(opened.case_opened().children(0).addresses_size(), 0);
  EXPECT_EQ(opened.case_opened().children(0).legal_name().given(), "Zoë");
  Envelope taf = testing::LoadEnvelope(
      testing::Src("tests/conformance/valid/taf-meeting.json"));
  ASSERT_TRUE(taf.taf_meeting().has_next_meeting_on());
  d = engine->Decide({"role-early-help", "role-school",
                      cfg::RECORD_TYPE_TAF_RECORD,
                      cfg::SHARING_BASIS_CONSENT_CITED, true});
  ASSERT_TRUE(d.share);
  ASSERT_TRUE(engine->ApplyMask(d, &taf));
  EXPECT_TRUE(taf.taf_meeting().has_next_meeting_on());
  EXPECT_EQ(taf.taf_meeting().parent_contributions_size(), 0);
  EXPECT_EQ(taf.taf_meeting().child_contributions_size(), 0);
  EXPECT_EQ(taf.taf_meeting().decisions_size(), 0);
  Envelope asm_ = testing::LoadEnvelope(
      testing::Src("tests/conformance/valid/assessment.json"));
  d = engine->Decide({"role-early-help", "role-school",
                      cfg::RECORD_TYPE_ASSESSMENT,
                      cfg::SHARING_BASIS_CONSENT_CITED, true});
  ASSERT_TRUE(engine->ApplyMask(d, &asm_));
  EXPECT_EQ(asm_.assessment().parent_views_size(),
            0);                                    // parents' health history
  EXPECT_EQ(asm_.assessment().factors_size(), 0);  // domestic abuse detail
  EXPECT_TRUE(asm_.assessment().analysis().empty());
}

}  // namespace
}  // namespace ehx::policy
