// 100,000 random requests against a reference oracle written here,
// independently of the engine and of the YAML, from the rules in
// docs/security.md (including the fail-closed cases).
#include <gtest/gtest.h>

#include <random>

#include "policy/policy_engine.h"
#include "policy_test_util.h"

namespace ehx::policy {
namespace {

namespace cfg = ehx::config::v1;

enum Role { EH = 1, FD, CSC, SCH, HLT, SF, OTH };
enum Rec { CAF = 1, ASM, PLAN, TAF, REF, OUTC, SD, CLO, DOC, IDN, EVI, CON };
enum Basis { IN = 1, OUT, CIT, REFU, WD, NONE, SH, STAT };

// The oracle: true when the documented default policy shares.
bool Oracle(int sender_role, bool sender_known, int recip_role,
            bool recip_known, bool granted, bool decommissioned, int rec,
            int basis, bool party) {
  if (rec < CAF || rec > CON) return false;         // unknown record type
  if (!sender_known || !recip_known) return false;  // unknown agency
  if (basis < IN || basis > STAT) return false;     // unknown basis
  if (decommissioned || !granted) return false;  // not (or no longer) granted
  if (rec == REF && basis == SH && recip_role == FD) return true;  // built in
  if (recip_role == OTH) return false;  // "other" receives nothing
  const bool consented =
      basis == IN || basis == CIT || basis == STAT || basis == SH;
  const bool team = recip_role == EH || recip_role == FD || recip_role == CSC ||
                    recip_role == SCH || recip_role == HLT;
  const bool csc_sender = sender_role == FD || sender_role == CSC;
  switch (rec) {
    case CAF:
      return party && consented && (team || recip_role == SF);
    case ASM:
    case PLAN:
    case TAF:
      return party && consented && team;
    case REF:
      if (recip_role == FD) return basis == IN || basis == CIT || basis == STAT;
      return party && consented && (recip_role == CSC || recip_role == EH);
    case OUTC:
      return party && csc_sender && team;
    case SD:
      return party && csc_sender && consented && team;
    case CLO:
      return party && (team || (recip_role == SF && consented));
    case DOC:
      return party && consented &&
             (recip_role == EH || recip_role == FD || recip_role == CSC);
    case IDN:
      return party && consented && (team || recip_role == SF);
    case CON:
      return party && (team || recip_role == SF);
    case EVI:
      return party && consented && sender_role != FD && sender_role != CSC &&
             sender_role != OTH &&
             (recip_role == EH || recip_role == SF || recip_role == FD ||
              recip_role == CSC);
  }
  return false;
}

TEST(PolicyRandomTest, HundredThousandRequestsMatchTheOracle) {
  auto engine = PolicyEngine::Create(testing::DefaultPolicyConfig());
  ASSERT_TRUE(engine->ok()) << engine->error();
  std::mt19937_64 rng(20260129);
  // Agencies: one granted per role, "new-school" (not granted),
  // "old-health" (decommissioned), and unknown ones.
  struct A {
    std::string id;
    int role;
    bool known, granted, decommissioned;
  };
  std::vector<A> agencies;
  for (int r = EH; r <= OTH; ++r) {
    agencies.push_back({testing::AgencyFor(testing::RoleNames()[r - 1]), r,
                        true, true, false});
  }
  agencies.push_back({"new-school", SCH, true, false, false});
  agencies.push_back({"old-health", HLT, true, true, true});
  agencies.push_back(
      {"early-help", EH, true, true, false});  // demo id, granted by the YAML
  agencies.push_back({"stranger", 0, false, false, false});
  agencies.push_back({"", 0, false, false, false});
  std::uniform_int_distribution<size_t> pick(0, agencies.size() - 1);
  std::uniform_int_distribution<int> rec(-1, 14), basis(-1, 10), coin(0, 1);
  int over = 0, under = 0, shared = 0;
  const int kRequests = 100000;
  for (int i = 0; i < kRequests; ++i) {
    const A& s = agencies[pick(rng)];
    const A& r = agencies[pick(rng)];
    Request q;
    q.sender = s.id;
    q.recipient = r.id;
    q.record_type = static_cast<cfg::RecordType>(rec(rng));
    q.basis = static_cast<cfg::SharingBasis>(basis(rng));
    q.party = coin(rng);
    const bool want = Oracle(s.role, s.known, r.role, r.known, r.granted,
                             r.decommissioned, q.record_type, q.basis, q.party);
    const bool got = engine->Decide(q).share;
    shared += got;
    if (got && !want && ++over < 10) {
      ADD_FAILURE() << "over-share " << s.id << " -> " << r.id
                    << " rec=" << q.record_type << " basis=" << q.basis
                    << " party=" << q.party;
    }
    if (!got && want && ++under < 10) {
      ADD_FAILURE() << "under-share " << s.id << " -> " << r.id
                    << " rec=" << q.record_type << " basis=" << q.basis
                    << " party=" << q.party;
    }
  }
  EXPECT_EQ(over, 0);
  EXPECT_EQ(under, 0);
  EXPECT_GT(shared, 1000);  // the draw exercises sharing, not only refusals
  std::printf(
      "policy random: %d requests, %d shared, %d over-shares, %d "
      "under-shares\n",
      kRequests, shared, over, under);
}

}  // namespace
}  // namespace ehx::policy
