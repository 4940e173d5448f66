// The real adapters loaded into the real ehx-gateway binary (port 0, temp
// dir), exchanging native files end to end: Raise export -> CSC referral
// file; CSC decision file -> Raise import file; HL7 v2 over MLLP -> ACK AA
// and an identity update delivered; CTF -> attendance summary delivered to
// early help. The agencies, routes and sharing policy are the demo's own
// (deploy/config/demo.yaml), so this also keeps the quick-start config
// honest; the native files are the demo's (deploy/demo/flow).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway_harness.h"

namespace ehx::testing {
namespace {

namespace fs = std::filesystem;
using ehx::exchange::v1::AckRequest;
using ehx::exchange::v1::AckResponse;
using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::FetchRequest;
using ehx::exchange::v1::FetchResponse;

constexpr char kCase[] = "EH-2026-0100";

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path Src(const std::string& rel) { return fs::path(EHX_SOURCE_DIR) / rel; }

// The demo config from `operators:` on (agencies, routes, delivery, policy):
// the harness writes listen, tls, store and port_file itself.
std::string DemoConfigBody() {
  const std::string yaml = Slurp(Src("deploy/config/demo.yaml"));
  const size_t at = yaml.find("\noperators:");
  return at == std::string::npos ? "" : yaml.substr(at + 1);
}

std::string Plugin(const std::string& name, const std::string& agency) {
  return "  - name: " + name + "\n    path: " + EHX_BINARY_DIR +
         "/plugins/ehx_adapter_" + name + ".so\n    agency: " + agency +
         "\n    config:\n";
}

// Copies `from` into `dir` the way agency systems do: temp name, rename.
void Drop(const fs::path& from, const fs::path& dir) {
  const fs::path tmp = dir / ("." + from.filename().string() + ".tmp");
  fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, dir / from.filename());
}

// Waits up to 20 s for a regular file in `dir` whose name starts with
// `prefix` and whose content satisfies `pred`; returns its content.
std::string WaitForFile(
    const fs::path& dir, const std::string& prefix,
    const std::function<bool(const std::string&)>& pred =
        [](const std::string&) { return true; }) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end;
         it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind(prefix, 0) != 0 || !it->is_regular_file()) continue;
      std::string content = Slurp(it->path());
      if (pred(content)) return content;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return "";
}

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// Fetches (and acks) `agency`'s deliveries for up to 20 s until one
// satisfies `pred`; returns it (empty Delivery if none came).
Delivery WaitForDelivery(const GatewayProcess& gw, const std::string& agency,
                         const std::function<bool(const Delivery&)>& pred) {
  auto stub = gw.Exchange(agency);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    FetchRequest req;
    req.set_max_messages(50);
    FetchResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    if (!stub->Fetch(&ctx, req, &resp).ok()) return Delivery();
    Delivery found;
    bool hit = false;
    if (resp.deliveries_size() > 0) {
      AckRequest ack;
      for (const auto& d : resp.deliveries()) {
        auto* i = ack.add_items();
        i->set_delivery_id(d.delivery_id());
        i->set_ok(true);
        if (!hit && pred(d)) {
          found = d;
          hit = true;
        }
      }
      AckResponse ar;
      grpc::ClientContext actx;
      stub->Ack(&actx, ack, &ar);
    }
    if (hit) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Delivery();
}

int ReadPort(const fs::path& file) {
  for (int i = 0; i < 200; ++i) {
    std::ifstream in(file);
    int port = 0;
    if (in >> port && port > 0) return port;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return 0;
}

// Sends one MLLP-framed message and returns the framed answer's payload.
std::string MllpExchange(int port, const std::string& message) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string framed = "\x0b" + message + "\x1c\x0d";
    if (::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(framed.size())) {
      char buf[4096];
      while (answer.size() < 2 ||
             answer.compare(answer.size() - 2, 2, "\x1c\x0d") != 0) {
        ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) break;
        answer.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return answer;
}

class AdaptersE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path a = dir_.path() / "a";
    a_ = a;
    const std::string d = a.string();
    std::string body = DemoConfigBody();
    ASSERT_FALSE(body.empty()) << "deploy/config/demo.yaml has no operators:";
    body += "plugins:\n";
    // Raise practitioners belong to the gRPC agency early-help (so this
    // test can fetch what the lead practitioner's agency receives); the
    // adapter itself has its own mailbox, early-help-raise.
    body += Plugin("raise", "early-help-raise") + "      root_dir: " + d +
            "/raise\n      la_code: \"801\"\n      agency_id: early-help\n"
            "      poll_interval_ms: 50\n      create_dirs: true\n"
            "      scope_agencies: {school: school-oakfield, "
            "health_visiting: health-visiting, csc: csc}\n";
    body += Plugin("csc", "csc") + "      outbox_dir: " + d +
            "/csc/referrals\n      decision_inbox_dir: " + d +
            "/csc/decisions\n      census_inbox_dir: " + d +
            "/csc/census\n      rejected_dir: " + d +
            "/csc/rejected\n      processed_dir: " + d +
            "/csc/processed\n      state_dir: " + d +
            "/csc/state\n      poll_interval_ms: 50\n      min_file_age_ms: "
            "10\n      create_dirs: true\n      step_down_lead_practitioner: "
            "{name: Early Help duty team, agency_id: early-help-raise}\n";
    body += Plugin("school", "school-oakfield") + "      inbox_dir: " + d +
            "/school/in\n      rejected_dir: " + d +
            "/school/rejected\n      processed_dir: " + d +
            "/school/processed\n      dsl_inbox_dir: " + d +
            "/school/dsl\n      school_agency_id: school-oakfield\n"
            "      poll_interval_ms: 50\n      min_file_age_ms: 10\n"
            "      create_dirs: true\n      case_map: [{upn: B801200005001, "
            "case_ref: " +
            kCase + "}]\n";
    body += Plugin("health", "health-visiting") +
            "      agency_id: health-visiting\n      state_dir: " + d +
            "/health/state\n      outbox_dir: " + d +
            "/health/out\n      create_dirs: true\n      mllp: {enabled: "
            "true, port: 0, port_file: " +
            d + "/mllp.port}\n";
    gw_ = std::make_unique<GatewayProcess>(dir_.path(), body);
    ASSERT_TRUE(gw_->Start()) << gw_->log();
  }

  TempDir dir_;
  fs::path a_;
  std::unique_ptr<GatewayProcess> gw_;
};

TEST_F(AdaptersE2eTest, NativeFilesFlowBetweenAgencies) {
  const fs::path flow = Src("deploy/demo/flow");

  // 1. Raise export (case opened, consent, CAF, ..., step-up) -> the CSC
  //    adapter writes the referral file for the CSC system.
  Drop(flow / "raise-export-20260402T010005Z.json", a_ / "raise/export");
  const std::string referral =
      WaitForFile(a_ / "csc/referrals", "referral-SU-0100-1-");
  ASSERT_FALSE(referral.empty()) << gw_->log();
  EXPECT_TRUE(Contains(referral, "\"schema\": \"ehx-csc-referral/1\""));
  EXPECT_TRUE(Contains(referral, "\"case_ref\": \"EH-2026-0100\""));
  EXPECT_TRUE(Contains(referral, "\"sender_agency\": \"early-help-raise\""));

  // The CAF reached the school's DSL inbox (consent scope -> agencies).
  EXPECT_FALSE(WaitForFile(a_ / "school/dsl", "", [](const std::string& c) {
                 return Contains(c, "EH-2026-0100");
               }).empty());

  // 2. The front door's decision file -> ReferralOutcome -> Raise import.
  Drop(flow / "decision-SU-0100-1.json", a_ / "csc/decisions");
  const std::string outcome = WaitForFile(
      a_ / "raise/import", "raise-import-", [](const std::string& c) {
        return Contains(c, "\"type\": \"referral_outcome\"");
      });
  ASSERT_FALSE(outcome.empty()) << gw_->log();
  EXPECT_TRUE(Contains(outcome, "\"referralId\": \"SU-0100-1\""));
  EXPECT_TRUE(Contains(outcome, "\"caseId\": \"EH-2026-0100\""));

  // 3. HL7 v2.4 ADT^A08 over MLLP -> ACK AA, and the identity update is
  //    delivered to the lead practitioner's agency.
  const int mllp = ReadPort(a_ / "mllp.port");
  ASSERT_GT(mllp, 0);
  const std::string ack =
      MllpExchange(mllp, Slurp(flow / "adt_a08_amelie_latin1.hl7"));
  EXPECT_TRUE(Contains(ack, "MSA|AA|MSG-A08-0100")) << ack;
  const Delivery person =
      WaitForDelivery(*gw_, "early-help", [](const Delivery& d) {
        return d.envelope().event_type() ==
                   ehx::exchange::v1::EVENT_TYPE_PERSON_UPDATED &&
               d.envelope().sender_agency() == "health-visiting";
      });
  EXPECT_EQ(person.envelope().case_ref(), kCase) << gw_->log();

  // 4. A CTF from the school MIS -> attendance summary to early help.
  Drop(flow / "8012000_CTF_8019999_001.xml", a_ / "school/in");
  const Delivery attendance =
      WaitForDelivery(*gw_, "early-help", [](const Delivery& d) {
        return d.envelope().event_type() ==
               ehx::exchange::v1::EVENT_TYPE_ATTENDANCE_SUMMARY;
      });
  ASSERT_EQ(attendance.envelope().case_ref(), kCase) << gw_->log();
  EXPECT_EQ(attendance.envelope().sender_agency(), "school-oakfield");
  EXPECT_TRUE(attendance.envelope().has_attendance_summary());
}

}  // namespace
}  // namespace ehx::testing
