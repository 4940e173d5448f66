// The policy inside GatewayCore: decisions audited at publish, consent
// withdrawal re-checked at delivery, masks applied, fail-closed alerts.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "pipeline/gateway_core.h"
#include "pipeline/projection.h"
#include "policy_test_util.h"

namespace ehx::policy {
namespace {

using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::PublishReceipt;
using ehx::pipeline::GatewayCore;
namespace cfg = ehx::config::v1;

class PolicyCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ehx-policy-core-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    core_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Start(cfg::GatewayConfig c) {
    c.mutable_store()->set_sqlite_path((dir_ / "ehx.db").string());
    const char* routes[][2] = {{"EVENT_TYPE_CASE_OPENED", nullptr},
                               {"EVENT_TYPE_CAF_NOTIFICATION", nullptr},
                               {"EVENT_TYPE_CONSENT_UPDATED", nullptr},
                               {"EVENT_TYPE_TAF_MEETING", nullptr}};
    for (auto& r : routes) {
      auto* route = c.add_routes();
      route->set_event_type(r[0]);
      route->add_to_selectors(cfg::RECIPIENT_SELECTOR_CASE_AGENCIES);
    }
    auto* ref = c.add_routes();
    ref->set_event_type("EVENT_TYPE_STEP_UP_REFERRAL");
    ref->add_to("role-school");  // misrouted on purpose: the policy withholds
    auto core = GatewayCore::Create(c);
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = std::move(*core);
  }
  absl::StatusOr<PublishReceipt> Publish(const std::string& sender,
                                         Envelope e) {
    std::promise<absl::StatusOr<PublishReceipt>> p;
    core_->Publish(
        sender, std::move(e),
        [&p](absl::StatusOr<PublishReceipt> r) { p.set_value(std::move(r)); });
    return p.get_future().get();
  }
  std::vector<Delivery> Fetch(const std::string& agency) {
    std::promise<absl::StatusOr<std::vector<Delivery>>> p;
    core_->Fetch(agency, 100, 60, [&p](auto r) { p.set_value(std::move(r)); });
    auto r = p.get_future().get();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<Delivery>{};
  }
  void AckAll(const std::string& agency, const std::vector<Delivery>& ds) {
    std::vector<ehx::AckItem> items;
    for (const auto& d : ds)
      items.push_back({d.delivery_id(), true, false, ""});
    std::promise<absl::StatusOr<int>> p;
    core_->Ack(agency, items, [&p](auto r) { p.set_value(r); });
    ASSERT_TRUE(p.get_future().get().ok());
  }
  // (action, detail) of every audit entry.
  std::vector<std::pair<std::string, std::string>> Audit() {
    std::vector<std::pair<std::string, std::string>> out;
    absl::Status st =
        core_->store()->Read([&](ehx::store::Txn& t) -> absl::Status {
          auto q = t.Prepare("SELECT record FROM audit_log ORDER BY seq");
          if (!q.ok()) return q.status();
          while (true) {
            auto r = (*q)->Step();
            if (!r.ok()) return r.status();
            if (!*r) break;
            ehx::audit::v1::AuditRecord rec;
            rec.ParseFromString((*q)->Text(0));
            out.emplace_back(rec.action(), rec.reason());
          }
          (*q)->Reset();
          return absl::OkStatus();
        });
    EXPECT_TRUE(st.ok()) << st;
    return out;
  }
  int Count(const std::string& action, const std::string& needle) {
    int n = 0;
    for (const auto& [a, d] : Audit())
      n += a == action && d.find(needle) != std::string::npos;
    return n;
  }
  Envelope Demo(const char* file, const std::string& key) {
    Envelope e = testing::LoadEnvelope(
        testing::Src(std::string("deploy/demo/messages/") + file));
    e.set_idempotency_key(key);
    return e;
  }
  std::filesystem::path dir_;
  std::unique_ptr<GatewayCore> core_;
};

TEST_F(PolicyCoreTest, DecisionsAreAuditedWithVersionAndMasksApplied) {
  Start(testing::DefaultPolicyConfig());
  EXPECT_EQ(Count("policy_loaded", "policy=2026-01-default-2"), 1);
  Envelope opened = Demo("01-case-opened.json", "o-1");
  opened.clear_case_opened();  // keep it small: re-add the parties
  opened = Demo("01-case-opened.json", "o-1");
  auto* ag = opened.mutable_case_opened()->mutable_agencies_involved();
  ag->Clear();
  for (const char* a : {"role-early-help", "role-school", "role-other"})
    *ag->Add() = a;
  opened.mutable_case_opened()->mutable_lead_practitioner()->set_agency_id(
      "role-early-help");
  auto r = Publish("role-early-help", opened);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      std::vector<std::string>(r->recipients().begin(), r->recipients().end()),
      std::vector<std::string>{"role-school"});
  EXPECT_EQ(Count("share",
                  "to=role-school record=RECORD_TYPE_CAF_NOTIFICATION "
                  "basis=SHARING_BASIS_CONSENT_CITED party=yes "
                  "rule=caf-to-parties policy=2026-01-default-2"),
            1);
  EXPECT_EQ(
      Count("withhold", "to=role-other record=RECORD_TYPE_CAF_NOTIFICATION"),
      1);
  auto got = Fetch("role-school");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].envelope().case_opened().family_members_size(), 0);
  EXPECT_EQ(got[0].envelope().case_opened().lead_practitioner().agency_id(),
            "role-early-help");
  EXPECT_TRUE(Fetch("role-other").empty());
}

// The conformance consent record, re-scoped.
Envelope ConsentEnvelope(const std::string& key, const std::string& id,
                         ehx::cases::v1::ConsentState state,
                         std::vector<std::string> scope) {
  google::protobuf::Struct wrapper;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                  testing::Slurp(testing::Src(
                      "tests/conformance/valid/consent-updated.json")),
                  &wrapper)
                  .ok());
  std::string json;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(
                  wrapper.fields().at("envelope"), &json)
                  .ok());
  Envelope e;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &e).ok());
  e.set_idempotency_key(key);
  auto* c = e.mutable_consent();
  c->set_consent_id(id);
  c->set_state(state);
  c->clear_scope_agency_ids();
  for (auto& a : scope) c->add_scope_agency_ids(a);
  if (state == ehx::cases::v1::CONSENT_STATE_WITHDRAWN) {
    c->mutable_withdrawn_on()->set_year(2026);
    c->mutable_withdrawn_on()->set_month(2);
    c->mutable_withdrawn_on()->set_day(1);
  }
  return e;
}

// Fetches and acks until nothing more comes.
std::vector<Delivery> DrainCore(
    PolicyCoreTest* t, const std::function<std::vector<Delivery>()>& fetch,
    const std::function<void(const std::vector<Delivery>&)>& ack) {
  std::vector<Delivery> all;
  int idle = 0;
  for (int i = 0; i < 60 && idle < 5; ++i) {
    auto b = fetch();
    idle = b.empty() ? idle + 1 : 0;
    all.insert(all.end(), b.begin(), b.end());
    ack(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  return all;
}

TEST_F(PolicyCoreTest, ConsentWithdrawalWithdrawsQueuedDeliveries) {
  Start(testing::DefaultPolicyConfig());
  Envelope caf = Demo("02-caf-notification.json", "c-1");
  auto* ag = caf.mutable_caf_notification()->mutable_agencies_involved();
  ag->Clear();
  for (const char* a : {"role-early-help", "role-school", "role-health"})
    *ag->Add() = a;
  caf.mutable_caf_notification()->mutable_lead_practitioner()->set_agency_id(
      "role-early-help");
  ASSERT_TRUE(Publish("role-early-help", caf).ok());
  ASSERT_TRUE(Publish("role-early-help",
                      ConsentEnvelope("k-1", "consent-0001",
                                      ehx::cases::v1::CONSENT_STATE_GIVEN,
                                      {"role-school", "role-health"}))
                  .ok());
  caf.set_idempotency_key("c-2");
  ASSERT_TRUE(Publish("role-early-help", caf).ok());
  // The family withdraws consent-0001, then gives health a fresh consent.
  auto wr = Publish("role-early-help",
                    ConsentEnvelope("k-2", "consent-0001",
                                    ehx::cases::v1::CONSENT_STATE_WITHDRAWN,
                                    {"role-school"}));
  ASSERT_TRUE(wr.ok()) << wr.status();
  // Parties are told of the withdrawal (a consent notice goes on any basis).
  EXPECT_EQ(wr->recipients_size(), 2);
  ASSERT_TRUE(Publish("role-early-help",
                      ConsentEnvelope("k-3", "consent-0002",
                                      ehx::cases::v1::CONSENT_STATE_GIVEN,
                                      {"role-health"}))
                  .ok());
  auto fetch = [this](const std::string& a) {
    return [this, a] { return Fetch(a); };
  };
  auto ack = [this](const std::string& a) {
    return [this, a](const std::vector<Delivery>& b) { AckAll(a, b); };
  };
  // The school gets the three consent notices; both CAFs still queued for
  // it are withdrawn at delivery.
  auto school = DrainCore(this, fetch("role-school"), ack("role-school"));
  EXPECT_EQ(school.size(), 3u);
  for (const auto& d : school) EXPECT_TRUE(d.envelope().has_consent());
  auto dead = core_->DeadLetters("role-school", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 2u);
  EXPECT_EQ((*dead)[0].reason(), "policy_withdrawn");
  EXPECT_EQ(Count("withhold",
                  "to=role-school record=RECORD_TYPE_CAF_NOTIFICATION "
                  "basis=SHARING_BASIS_CONSENT_WITHDRAWN party=yes "
                  "rule=default-deny policy=2026-01-default-2 at=delivery"),
            2);
  // Health's fresh consent covers it: both CAFs and the three notices.
  auto health = DrainCore(this, fetch("role-health"), ack("role-health"));
  EXPECT_EQ(health.size(), 5u);
  // The sender is told of each withdrawal.
  int notices = 0;
  for (const auto& d :
       DrainCore(this, fetch("role-early-help"), ack("role-early-help"))) {
    notices += d.envelope().has_non_delivery() &&
               d.envelope().non_delivery().reason() == "policy_withdrawn";
  }
  EXPECT_EQ(notices, 2);
}

TEST_F(PolicyCoreTest, SignificantHarmReferralAlwaysReachesTheFrontDoor) {
  cfg::GatewayConfig c = testing::DefaultPolicyConfig();
  // The demo front door is registered but (here) not granted.
  auto* granted = c.mutable_policy()->mutable_granted_agencies();
  granted->erase(std::find(granted->begin(), granted->end(), "csc-front-door"));
  // So is the demo's CSC adapter agency (also a front door).
  granted->erase(std::find(granted->begin(), granted->end(), "csc"));
  Start(c);
  Envelope ref = Demo("03-step-up-referral.json", "r-1");
  ref.mutable_step_up_referral()->set_parents_consent(
      ehx::cases::v1::REFERRAL_CONSENT_REFUSED);
  auto r =
      Publish("role-other", ref);  // e.g. police; route names only a school
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      std::vector<std::string>(r->recipients().begin(), r->recipients().end()),
      std::vector<std::string>{"role-csc-front-door"});
  EXPECT_EQ(Count("share",
                  "to=role-csc-front-door record=RECORD_TYPE_STEP_UP_REFERRAL "
                  "basis=SHARING_BASIS_SIGNIFICANT_HARM party=no "
                  "rule=builtin-significant-harm-front-door"),
            1);
  EXPECT_EQ(Count("withhold", "to=role-school"), 1);
  EXPECT_EQ(Count("share_failure", ""), 0);
  // A registered front door that is not granted gets nothing.
  EXPECT_EQ(Count("withhold",
                  "to=csc-front-door record=RECORD_TYPE_STEP_UP_REFERRAL "
                  "basis=SHARING_BASIS_SIGNIFICANT_HARM party=no "
                  "rule=recipient-not-granted"),
            1);
  EXPECT_EQ(Fetch("role-csc-front-door").size(), 1u);
}

TEST_F(PolicyCoreTest, MissingPolicyFailsClosedWithAlertAndAudit) {
  cfg::GatewayConfig c = testing::DefaultPolicyConfig();
  c.clear_policy();
  Start(c);
  EXPECT_EQ(Count("policy_error", "fail-closed: no policy section"), 1);
  Envelope caf = Demo("02-caf-notification.json", "c-1");
  auto r = Publish("early-help", caf);
  ASSERT_TRUE(r.ok())
      << r.status();  // accepted and stored, delivered to nobody
  EXPECT_EQ(r->recipients_size(), 0);
  EXPECT_EQ(Count("withhold", "rule=fail-closed policy=none"), 2);
  EXPECT_TRUE(Fetch("school-oakfield").empty());
  auto ref = Publish("early-help", Demo("03-step-up-referral.json", "r-1"));
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->recipients_size(), 0);
  EXPECT_EQ(
      Count("share_failure", "significant-harm referral reached no front door"),
      1);
}

}  // namespace
}  // namespace ehx::policy

namespace ehx::policy {
namespace {

// Ad-hoc measurement (run with --gtest_also_run_disabled_tests): in-process
// Publish throughput with the default policy (CAF to 3 parties: 3 decisions
// and 3 audit rows per message), and the engine's own cost per delivery.
TEST_F(PolicyCoreTest, DISABLED_MeasurePublishThroughputWithPolicy) {
  Start(testing::DefaultPolicyConfig());
  Envelope caf = Demo("02-caf-notification.json", "x");
  auto* ag = caf.mutable_caf_notification()->mutable_agencies_involved();
  ag->Clear();
  for (const char* a :
       {"role-early-help", "role-school", "role-health", "role-csc"}) {
    *ag->Add() = a;
  }
  const int kN = 20000;
  std::atomic<int> left{kN}, failed{0};
  std::mutex mu;
  std::condition_variable cv;
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int> in_flight{0};
  for (int i = 0; i < kN; ++i) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return in_flight.load() < 32; });
    }
    ++in_flight;
    Envelope e = caf;
    e.set_idempotency_key("k-" + std::to_string(i));
    e.set_case_ref("EH-B-" + std::to_string(i % 64));
    core_->Publish("role-early-help", std::move(e), [&](auto r) {
      if (!r.ok()) ++failed;
      --in_flight;
      --left;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return left.load() == 0; });
  }
  const double s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(failed.load(), 0);
  std::printf(
      "publish with policy: %d msgs in %.2f s = %.0f msg/s (3 recipients)\n",
      kN, s, kN / s);
  // Engine alone: decide + mask one delivery.
  auto engine = PolicyEngine::Create(testing::DefaultPolicyConfig());
  ehx::record::v1::CaseRecord rec;
  Envelope e = caf;
  e.set_sender_agency("role-early-help");
  ehx::pipeline::ApplyToRecord(e, {}, &rec);
  const int kM = 200000;
  const auto t1 = std::chrono::steady_clock::now();
  int shared = 0;
  for (int i = 0; i < kM; ++i) {
    Decision d = engine->Evaluate("role-school", e, rec);
    Envelope copy = e;
    shared += engine->ApplyMask(d, &copy);
  }
  const double s2 =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
          .count();
  EXPECT_EQ(shared, kM);
  std::printf(
      "engine: %.2f us per delivery decision+mask (incl. envelope copy)\n",
      s2 * 1e6 / kM);
}

}  // namespace
}  // namespace ehx::policy
