// Canary test (issue 4, section 3): distinctive names and NHS numbers sent
// through the real gateway must never appear in its log, in error text, in
// its metrics (Admin GetStatus) or in the audit trail.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "canary_util.h"
#include "ehx/audit/v1/audit.pb.h"
#include "gateway_harness.h"

namespace ehx::testing {
namespace {

using ehx::exchange::v1::Envelope;

TEST(CanaryTest, NamesAndNhsNumbersNeverReachLogsErrorsOrAudit) {
  TempDir dir;
  GatewayProcess gw(dir.path(), DemoAgenciesAndRoutes());
  gw.set_log_level("debug");
  ASSERT_TRUE(gw.Start()) << gw.log();
  const Envelope templ =
      LoadEnvelope(DemoMessages() / "02-caf-notification.json");
  ASSERT_GT(templ.caf_notification().children_size(), 0);
  const std::vector<std::string> nhs = ValidNhsNumbers(200);
  std::vector<std::string> canaries;
  auto stub = gw.Exchange("early-help");
  std::string error_text;
  for (int i = 0; i < 220; ++i) {
    Envelope e = templ;
    e.set_idempotency_key("canary-" + std::to_string(i));
    e.set_case_ref("EH-CANARY-" + std::to_string(i % 9));
    auto* child = e.mutable_caf_notification()->mutable_children(0);
    const std::string given = CanaryGiven(i);
    const std::string family = CanaryFamily(i);
    child->mutable_legal_name()->set_given(given);
    child->mutable_legal_name()->set_family(family);
    canaries.push_back(given);
    canaries.push_back(family);
    std::string number;
    if (i < 200) {
      number = nhs[i];
    } else {
      // 20 with a broken check digit: refused, and the refusal must not
      // quote the number or the name.
      number = nhs[i - 200];
      number.back() = static_cast<char>('0' + (number.back() - '0' + 1) % 10);
    }
    canaries.push_back(number);
    bool set = false;
    for (auto& id : *child->mutable_identifiers()) {
      if (id.system() == "https://fhir.nhs.uk/Id/nhs-number") {
        id.set_value(number);
        set = true;
      }
    }
    ASSERT_TRUE(set) << "template child has no NHS number";
    ehx::exchange::v1::PublishRequest req;
    *req.mutable_envelope() = e;
    ehx::exchange::v1::PublishReceipt r;
    grpc::ClientContext ctx;
    grpc::Status st = stub->Publish(&ctx, req, &r);
    if (i < 200) {
      ASSERT_TRUE(st.ok()) << i << ": " << st.error_message();
    } else {
      ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
      error_text += st.error_message() + "\n" + st.error_details() + "\n";
    }
  }
  // Deliver and ack everything the school gets (delivery paths log too).
  auto school = gw.Exchange("school-oakfield");
  ASSERT_TRUE(DrainMailbox(*school, [](const auto&, auto*) {}));
  // The gateway's metrics (Admin GetStatus: per-agency counts, quotas,
  // store health) and the admin store maintenance calls against the real
  // binary: answered, and searched for canaries like the log.
  std::string metrics_text;
  {
    auto admin = gw.Admin();
    ehx::exchange::v1::GatewayStatus status;
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->GetStatus(&ctx, {}, &status).ok());
    ASSERT_GT(status.ByteSizeLong(), 0u);
    metrics_text += status.DebugString();
    ehx::exchange::v1::ReencryptStoreResponse re;
    grpc::ClientContext rctx;
    grpc::Status rs = admin->ReencryptStore(&rctx, {}, &re);
    ASSERT_TRUE(rs.ok()) << rs.error_message();
    metrics_text += re.DebugString() + rs.error_message();
    ehx::exchange::v1::PurgeExpiredResponse pe;
    grpc::ClientContext pctx;
    grpc::Status ps = admin->PurgeExpired(&pctx, {}, &pe);
    ASSERT_TRUE(ps.ok()) << ps.error_message();
    EXPECT_EQ(pe.purged(), 0);  // no retention rules: keep forever
    metrics_text += pe.DebugString();
  }
  ASSERT_EQ(gw.Stop(), 0);

  // The audit trail, decoded.
  std::string audit_text;
  std::vector<ehx::audit::v1::AuditRecord> trail;
  ASSERT_TRUE(ReadAuditTrail(dir.path() / "ehx.db", &trail));
  for (const auto& r : trail) audit_text += r.DebugString();
  const int records = static_cast<int>(trail.size());
  ASSERT_GT(records, 200);

  const std::string log = gw.log();
  ASSERT_FALSE(log.empty()) << "debug logging produced nothing to search";
  int hits = 0;
  for (const auto& c : canaries) {
    if (log.find(c) != std::string::npos) {
      ADD_FAILURE() << "canary in gateway log";
      ++hits;
    }
    if (error_text.find(c) != std::string::npos) {
      ADD_FAILURE() << "canary in error text";
      ++hits;
    }
    if (audit_text.find(c) != std::string::npos) {
      ADD_FAILURE() << "canary in audit trail";
      ++hits;
    }
    if (metrics_text.find(c) != std::string::npos) {
      ADD_FAILURE() << "canary in metrics (GetStatus)";
      ++hits;
    }
  }
  EXPECT_EQ(hits, 0);
  std::printf(
      "canary: %zu canaries, %zu log bytes, %d audit records, 0 hits "
      "expected, %d found\n",
      canaries.size(), log.size(), records, hits);
}

}  // namespace
}  // namespace ehx::testing
