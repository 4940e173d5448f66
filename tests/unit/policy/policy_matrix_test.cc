// Every combination of sender role, recipient role, record type, sharing
// basis and party-to-case against expected_matrix.tsv (generated from the
// documented rules by gen_expected_matrix.py and checked in).
#include <gtest/gtest.h>

#include <sstream>

#include "absl/strings/str_split.h"
#include "policy/policy_engine.h"
#include "policy_test_util.h"

namespace ehx::policy {
namespace {

namespace cfg = ehx::config::v1;

TEST(PolicyMatrixTest, DefaultPolicyMatchesDocumentedTable) {
  auto engine = PolicyEngine::Create(testing::DefaultPolicyConfig());
  ASSERT_TRUE(engine->ok()) << engine->error();
  std::istringstream in(
      testing::Slurp(testing::Src("tests/unit/policy/expected_matrix.tsv")));
  std::string line;
  int rows = 0, over = 0, under = 0, wrong_rule = 0;
  std::set<std::tuple<std::string, std::string, std::string, std::string,
                      std::string>>
      seen;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind("sender_role", 0) == 0)
      continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    ASSERT_EQ(f.size(), 7u) << line;
    seen.insert({f[0], f[1], f[2], f[3], f[4]});
    Request r;
    r.sender = testing::AgencyFor(f[0]);
    r.recipient = testing::AgencyFor(f[1]);
    ASSERT_TRUE(cfg::RecordType_Parse("RECORD_TYPE_" + f[2], &r.record_type))
        << line;
    ASSERT_TRUE(cfg::SharingBasis_Parse("SHARING_BASIS_" + f[3], &r.basis))
        << line;
    r.party = f[4] == "yes";
    const bool want = f[5] == "share";
    Decision d = engine->Decide(r);
    ++rows;
    if (d.share && !want) {
      ++over;
      ADD_FAILURE() << "over-share: " << line << " (engine rule " << d.rule_id
                    << ")";
    } else if (!d.share && want) {
      ++under;
      ADD_FAILURE() << "under-share: " << line << " (engine rule " << d.rule_id
                    << ")";
    } else if (d.rule_id != f[6]) {
      ++wrong_rule;
      ADD_FAILURE() << "rule: " << line << " engine says " << d.rule_id;
    }
    if (d.share) {
      EXPECT_NE(d.mask, nullptr) << line;
    }
  }
  // The table is complete: 7 x 7 x 12 x 8 x 2.
  EXPECT_EQ(rows, 9408);
  EXPECT_EQ(seen.size(), 9408u);
  EXPECT_GE(rows, 1000);
  EXPECT_EQ(over, 0);
  EXPECT_EQ(under, 0);
  EXPECT_EQ(wrong_rule, 0);
  std::printf(
      "policy matrix: %d combinations, %d over-shares, %d under-shares\n", rows,
      over, under);
}

}  // namespace
}  // namespace ehx::policy
