// The real adapters loaded into the real ehx-gateway binary (port 0, temp
// dir), exchanging native files end to end: Raise export -> CSC referral
// file; CSC decision file -> Raise import file; HL7 v2 over MLLP -> ACK AA
// and an identity update delivered; CTF -> attendance summary delivered to
// early help; CIN census RC9 closure -> StepDown -> Raise import file; the
// Supporting Families tracker CSV -> outcome evidence; FHIR Patient over
// HTTPS (client certificate) -> identity update; CAF notification -> FHIR
// Communication file for health visiting. The agencies, routes and sharing
// policy are the demo's own (deploy/config/demo.yaml), so this also keeps
// the quick-start config honest; the native files are the demo's
// (deploy/demo/flow), and the plugin configs follow deploy/demo/run-demo.sh.
// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without <utility>.
#include <utility>
// clang-format on

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway_harness.h"
#include "google/protobuf/util/json_util.h"

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

// The school adapter's plugin entry: folders under `d`, Amelie's UPN
// mapped to kCase.
std::string SchoolPlugin(const std::string& d) {
  return Plugin("school", "school-oakfield") + "      inbox_dir: " + d +
         "/school/in\n      rejected_dir: " + d +
         "/school/rejected\n      processed_dir: " + d +
         "/school/processed\n      dsl_inbox_dir: " + d +
         "/school/dsl\n      school_agency_id: school-oakfield\n"
         "      poll_interval_ms: 50\n      min_file_age_ms: 10\n"
         "      create_dirs: true\n      case_map: [{upn: B801200005001, "
         "case_ref: " +
         std::string(kCase) + "}]\n";
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

// Fetches (and acks) `agency`'s deliveries for up to 20 s until `count` of
// them satisfied `pred`; returns those (fewer if they did not all come).
std::vector<Delivery> WaitForDeliveries(
    const GatewayProcess& gw, const std::string& agency,
    const std::function<bool(const Delivery&)>& pred, size_t count) {
  auto stub = gw.Exchange(agency);
  std::vector<Delivery> found;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    FetchRequest req;
    req.set_max_messages(50);
    FetchResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    if (!stub->Fetch(&ctx, req, &resp).ok()) return found;
    if (resp.deliveries_size() > 0) {
      AckRequest ack;
      for (const auto& d : resp.deliveries()) {
        auto* i = ack.add_items();
        i->set_delivery_id(d.delivery_id());
        i->set_ok(true);
        if (found.size() < count && pred(d)) found.push_back(d);
      }
      AckResponse ar;
      grpc::ClientContext actx;
      stub->Ack(&actx, ack, &ar);
    }
    if (found.size() >= count) return found;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return found;
}

// The first of `agency`'s deliveries (fetched and acked for up to 20 s)
// that satisfies `pred` (empty Delivery if none came).
Delivery WaitForDelivery(const GatewayProcess& gw, const std::string& agency,
                         const std::function<bool(const Delivery&)>& pred) {
  std::vector<Delivery> d = WaitForDeliveries(gw, agency, pred, 1);
  return d.empty() ? Delivery() : d[0];
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

// POSTs `body` to https://127.0.0.1:<port><target> as
// application/fhir+json, trusting `ca` and presenting `cert`/`key` (none
// when empty). Returns the HTTP status (-1 on a transport failure) and
// fills `answer` with the response body.
int HttpsPost(int port, const std::string& target, const std::string& body,
              const fs::path& ca, const fs::path& cert, const fs::path& key,
              std::string* answer) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  namespace ssl = asio::ssl;
  asio::io_context io;
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx.load_verify_file(ca.string(), ec);
  if (ec) return -1;
  ctx.set_verify_mode(ssl::verify_peer);
  if (!cert.empty()) {
    ctx.use_certificate_chain_file(cert.string(), ec);
    if (!ec) ctx.use_private_key_file(key.string(), ssl::context::pem, ec);
    if (ec) return -1;
  }
  beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
  beast::get_lowest_layer(stream).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                              static_cast<unsigned short>(port)),
      ec);
  if (ec) return -1;
  stream.handshake(ssl::stream_base::client, ec);
  if (ec) return -1;
  http::request<http::string_body> req(http::verb::post, target, 11);
  req.set(http::field::host, "localhost");
  req.set(http::field::content_type, "application/fhir+json");
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req, ec);
  if (ec) return -1;
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res, ec);
  if (ec) return -1;
  *answer = res.body();
  return res.result_int();
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
    // adapter itself has its own mailbox, early-help-raise. The demo
    // fixture below uses the demo's own setting instead.
    body +=
        Plugin("raise", "early-help-raise") + "      root_dir: " + d +
        "/raise\n      la_code: \"801\"\n      agency_id: " + raise_agency_id_ +
        "\n"
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
    body += SchoolPlugin(d);
    body += Plugin("health", "health-visiting") +
            "      agency_id: health-visiting\n      state_dir: " + d +
            "/health/state\n      outbox_dir: " + d +
            "/health/out\n      create_dirs: true\n      mllp: {enabled: "
            "true, port: 0, port_file: " +
            d +
            "/mllp.port}\n      https: {enabled: true, "
            "listen_address: 127.0.0.1, port: 0, port_file: " +
            d +
            "/https.port, cert_file: " + (DevPki() / "server.pem").string() +
            ", key_file: " + (DevPki() / "server.key").string() +
            ", client_ca_file: " + (DevPki() / "ca.pem").string() +
            ", require_client_cert: true}\n";
    body += Plugin("supporting_families", "supporting-families") +
            "      inbox_dir: " + d + "/sf/inbound\n      outbox_dir: " + d +
            "/sf/outbound\n      state_dir: " + d +
            "/sf/state\n      la_code: \"801\"\n      case_refs: "
            "{SF801-000100: " +
            kCase +
            "}\n      poll_interval_ms: 50\n      min_file_age_ms: 10\n"
            "      create_dirs: true\n";
    gw_ = std::make_unique<GatewayProcess>(dir_.path(), body);
    ASSERT_TRUE(gw_->Start()) << gw_->log();
  }

  // Drops the demo's Raise export (case EH-2026-0100 opened with consent,
  // CAF, assessment, plan, step-up referral) and waits for its processing
  // report, so the case, its parties and the referral link exist.
  void OpenCase() {
    const std::string name = "raise-export-20260402T010005Z.json";
    Drop(Src("deploy/demo/flow") / name, a_ / "raise/export");
    ASSERT_FALSE(WaitForFile(a_ / "raise/export/reports", name).empty())
        << gw_->log();
  }

  // The Raise adapter's `agency_id` (its practitioners' agency, which its
  // consents name in scope).
  std::string raise_agency_id_ = "early-help";
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

// The Supporting Families outcome tracker (CSV) dropped into the adapter's
// inbox: three rows of family SF801-000100 (mapped to EH-2026-0100 by
// case_refs) -> three outcome evidence records published as
// supporting-families, delivered to early help (policy
// evidence-to-early-help-sf-csc) and reported in the processing report;
// the extract is archived. The reverse direction (attendance -> evidence
// file) is withheld by the demo's policy (see below;
// SupportingFamiliesEvidenceE2eTest runs it under a policy that allows it).
TEST_F(AdaptersE2eTest, SupportingFamiliesTrackerBecomesOutcomeEvidence) {
  OpenCase();
  const std::string name =
      "sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv";
  Drop(Src("deploy/demo/flow") / name, a_ / "sf/inbound");
  const std::string report =
      WaitForFile(a_ / "sf/inbound/reports", name + ".report.json");
  ASSERT_FALSE(report.empty()) << gw_->log();
  EXPECT_TRUE(Contains(report, "\"result\":\"accepted\"")) << report;

  const std::vector<Delivery> evidence = WaitForDeliveries(
      *gw_, "early-help",
      [](const Delivery& d) {
        return d.envelope().event_type() ==
                   ehx::exchange::v1::EVENT_TYPE_OUTCOME_EVIDENCE &&
               d.envelope().sender_agency() == "supporting-families";
      },
      3);
  ASSERT_EQ(evidence.size(), 3u) << gw_->log();
  std::set<int> areas;
  for (const Delivery& d : evidence) {
    EXPECT_EQ(d.envelope().case_ref(), kCase);
    EXPECT_EQ(d.envelope().outcome_evidence().family_id(), "SF801-000100");
    areas.insert(d.envelope().outcome_evidence().area());
  }
  EXPECT_EQ(areas,
            (std::set<int>{ehx::cases::v1::OUTCOME_AREA_GOOD_EDUCATION,
                           ehx::cases::v1::OUTCOME_AREA_FINANCIAL_STABILITY,
                           ehx::cases::v1::OUTCOME_AREA_FAMILY_RELATIONSHIPS}));
  // The extract was archived, not rejected.
  EXPECT_FALSE(WaitForFile(a_ / "sf/inbound/archive", name).empty());

  // The adapter's outbound evidence file is written from attendance
  // summaries it receives. The demo's consents do not name Supporting
  // Families and it is not a party to the case, so the policy withholds
  // the school's attendance summary from it and no evidence file is
  // written: the summary reaches early help only.
  Drop(Src("deploy/demo/flow/8012000_CTF_8019999_001.xml"), a_ / "school/in");
  const Delivery attendance =
      WaitForDelivery(*gw_, "early-help", [](const Delivery& d) {
        return d.envelope().event_type() ==
               ehx::exchange::v1::EVENT_TYPE_ATTENDANCE_SUMMARY;
      });
  ASSERT_EQ(attendance.envelope().case_ref(), kCase) << gw_->log();
  std::vector<ehx::audit::v1::AuditRecord> trail;
  ASSERT_TRUE(ReadAuditTrail(dir_.path() / "ehx.db", &trail));
  bool withheld = false;
  for (const auto& r : trail) {
    if (r.message_id() == attendance.envelope().message_id() &&
        r.action() == "withhold" &&
        Contains(r.reason(), "to=supporting-families ")) {
      withheld = true;
      EXPECT_TRUE(Contains(r.reason(), "rule=default-deny")) << r.reason();
    }
  }
  EXPECT_TRUE(withheld);
  std::error_code ec;
  for (fs::directory_iterator it(a_ / "sf/outbound", ec), end; !ec && it != end;
       it.increment(ec)) {
    ADD_FAILURE() << "unexpected outbound file " << it->path().filename();
  }
}

// The demo's own Raise setting (run-demo.sh): the Raise adapter's
// practitioners belong to its own agency, early-help-raise, so its consents
// name early-help-raise in scope. With agency_id early-help (the fixture's
// default, for fetching over gRPC) the step-down below is withheld from
// early-help-raise (basis CONSENT_OUT_OF_SCOPE, rule default-deny) and the
// Raise system would never hear of it.
class AdaptersE2eDemoRaiseTest : public AdaptersE2eTest {
 protected:
  AdaptersE2eDemoRaiseTest() { raise_agency_id_ = "early-help-raise"; }
};

// CSC closes the CIN episode the step-up referral started with RC9: the
// census file dropped into the CSC adapter's census folder -> a StepDown
// linked to EH-2026-0100 through the referral the CSC adapter wrote (same
// NHS number) -> shared with and delivered to the early help service's
// Raise adapter (policy step-down-to-parties), which writes the Raise
// import file with the step-down item (run-demo.sh step 8).
TEST_F(AdaptersE2eDemoRaiseTest, CinCensusClosureStepsDownToRaise) {
  OpenCase();
  // The CSC adapter has written (and indexed) the referral.
  ASSERT_FALSE(WaitForFile(a_ / "csc/referrals", "referral-SU-0100-1-").empty())
      << gw_->log();
  Drop(Src("deploy/demo/flow/cin-census-closure-CS4471.xml"),
       a_ / "csc/census");

  const std::string import = WaitForFile(
      a_ / "raise/import", "raise-import-", [](const std::string& c) {
        return Contains(c, "\"type\": \"step_down\"");
      });
  ASSERT_FALSE(import.empty()) << gw_->log();
  EXPECT_TRUE(Contains(import, "\"caseId\": \"EH-2026-0100\"")) << import;
  EXPECT_TRUE(Contains(import, "\"reasonForClosureCode\": \"RC9\"")) << import;
  EXPECT_TRUE(Contains(import, "\"laChildId\": \"CS4471\"")) << import;
  EXPECT_TRUE(Contains(import, "\"cinClosureDate\": \"2026-05-29\"")) << import;

  // The audit trail: csc published the step-down, the gateway shared it
  // with early-help-raise under step-down-to-parties, and early-help-raise
  // acknowledged it (the import file was written before the ack).
  std::string step_down_id;
  bool shared = false, acked = false;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!acked && std::chrono::steady_clock::now() < deadline) {
    std::vector<ehx::audit::v1::AuditRecord> trail;
    ASSERT_TRUE(ReadAuditTrail(dir_.path() / "ehx.db", &trail));
    for (const auto& r : trail) {
      if (r.actor() == "csc" && r.action() == "accept" &&
          Contains(r.reason(), "EVENT_TYPE_STEP_DOWN")) {
        step_down_id = r.message_id();
      }
      if (step_down_id.empty() || r.message_id() != step_down_id) continue;
      shared |= r.action() == "share" &&
                Contains(r.reason(), "to=early-help-raise ") &&
                Contains(r.reason(), "rule=step-down-to-parties");
      acked |= r.actor() == "early-help-raise" && r.action() == "ack";
    }
    if (!acked) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(step_down_id.empty()) << gw_->log();
  EXPECT_TRUE(shared);
  EXPECT_TRUE(acked);
}

// Health visiting: the CAF notification of the Raise export reaches the
// health adapter, which writes a FHIR Communication into its outbox_dir;
// the health visiting record system POSTs a FHIR R4 Patient over HTTPS
// with its client certificate -> 200 and an identity update delivered to
// the lead practitioner's agency. Without a client certificate the TLS
// handshake is refused (require_client_cert).
TEST_F(AdaptersE2eTest, FhirOverHttpsAndCommunicationsForHealthVisiting) {
  OpenCase();
  const std::string communication = WaitForFile(
      a_ / "health/out", "Communication-", [](const std::string& c) {
        return Contains(c, "\"code\": \"caf-notification\"");
      });
  ASSERT_FALSE(communication.empty()) << gw_->log();
  EXPECT_TRUE(Contains(communication, "\"resourceType\": \"Communication\""));
  EXPECT_TRUE(Contains(communication, "\"value\": \"EH-2026-0100\""))
      << communication;

  const int port = ReadPort(a_ / "https.port");
  ASSERT_GT(port, 0) << gw_->log();
  const std::string patient =
      Slurp(Src("deploy/demo/flow/fhir-patient-amelie.json"));
  std::string answer;
  EXPECT_EQ(HttpsPost(port, "/Patient", patient, DevPki() / "ca.pem", "", "",
                      &answer),
            -1);
  const int status = HttpsPost(port, "/Patient", patient, DevPki() / "ca.pem",
                               DevPki() / "health-visiting.pem",
                               DevPki() / "health-visiting.key", &answer);
  EXPECT_EQ(status, 200) << answer;
  EXPECT_TRUE(Contains(answer, "\"resourceType\":\"OperationOutcome\"") ||
              Contains(answer, "\"resourceType\": \"OperationOutcome\""))
      << answer;

  const Delivery person =
      WaitForDelivery(*gw_, "early-help", [](const Delivery& d) {
        if (d.envelope().event_type() !=
                ehx::exchange::v1::EVENT_TYPE_PERSON_UPDATED ||
            d.envelope().sender_agency() != "health-visiting") {
          return false;
        }
        for (const auto& id :
             d.envelope().person_update().person().identifiers()) {
          if (Contains(id.system(), "fhir-patient-id")) return true;
        }
        return false;
      });
  ASSERT_TRUE(person.envelope().has_person_update()) << gw_->log();
  EXPECT_EQ(person.envelope().case_ref(), kCase);
  const auto& p = person.envelope().person_update().person();
  EXPECT_EQ(p.person_id(), "hv-amelie-0100");
  EXPECT_EQ(p.legal_name().given(), "Amélie");
  bool nhs = false;
  for (const auto& id : p.identifiers()) {
    if (id.system() == "https://fhir.nhs.uk/Id/nhs-number") {
      nhs = true;
      EXPECT_EQ(id.value(), "9990000018");
      EXPECT_EQ(id.verification(),
                ehx::cases::v1::VERIFICATION_STATUS_VERIFIED);
    }
  }
  EXPECT_TRUE(nhs);
}

// `ehx-gateway --check-config` loads each plugin's shared object and checks
// its config against the plugin's own schema without creating it (no
// folders, no ports), and warns when an own-agency field (`agency_id`,
// `*_agency_id`, top level: plugin_config.h) is not the plugin's agency.
class CheckConfigTest : public ::testing::Test {
 protected:
  // Runs --check-config on listen/tls/store + the demo's agencies, routes
  // and policy + `plugins_yaml`; returns the exit code and fills out/err.
  int Check(const std::string& plugins_yaml) {
    const fs::path cfg = dir_.path() / "gateway.yaml";
    std::ofstream(cfg) << "listen: \"127.0.0.1:0\"\n"
                       << "tls: {ca_file: \"" << (DevPki() / "ca.pem").string()
                       << "\", cert_file: \""
                       << (DevPki() / "server.pem").string()
                       << "\", key_file: \""
                       << (DevPki() / "server.key").string() << "\"}\n"
                       << "store: {sqlite_path: \""
                       << (dir_.path() / "ehx.db").string() << "\"}\n"
                       << DemoConfigBody() << plugins_yaml;
    const std::string cmd = std::string(EHX_BINARY_DIR) +
                            "/bin/ehx-gateway --check-config " + cfg.string() +
                            " >" + (dir_.path() / "out").string() + " 2>" +
                            (dir_.path() / "err").string();
    const int status = std::system(cmd.c_str());
    out_ = Slurp(dir_.path() / "out");
    err_ = Slurp(dir_.path() / "err");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  TempDir dir_;
  std::string out_, err_;
};

TEST_F(CheckConfigTest, OwnAgencyIdOtherThanThePluginsAgencyIsAWarning) {
  const std::string d = dir_.path().string();
  const std::string plugins =
      "plugins:\n" + Plugin("raise", "early-help-raise") +
      "      root_dir: " + d + "/raise\n      agency_id: early-help\n" +
      Plugin("school", "school-oakfield") + "      inbox_dir: " + d +
      "/in\n      dsl_inbox_dir: " + d +
      "/dsl\n      school_agency_id: school-elmwood\n" +
      // A nested agency_id names another agency: not checked.
      Plugin("csc", "csc") + "      outbox_dir: " + d +
      "/r\n      decision_inbox_dir: " + d +
      "/d\n      census_inbox_dir: " + d + "/c\n      state_dir: " + d +
      "/s\n      step_down_lead_practitioner: {name: Duty, agency_id: "
      "early-help-raise}\n";
  ASSERT_EQ(Check(plugins), 0) << out_ << err_;
  EXPECT_TRUE(Contains(out_, "config OK: 7 agencies")) << out_;
  EXPECT_TRUE(Contains(out_, "3 plugins, 2 warning(s)")) << out_;
  EXPECT_TRUE(Contains(
      err_,
      "WARNING: plugin 'raise': plugins[raise].config.agency_id is "
      "'early-help' but the plugin is loaded as agency 'early-help-raise': "
      "the adapter writes 'early-help' into what it publishes"))
      << err_;
  EXPECT_TRUE(Contains(err_,
                       "so step-downs and other records addressed to "
                       "'early-help-raise' will not be matched by the "
                       "adapter"))
      << err_;
  EXPECT_TRUE(Contains(err_,
                       "WARNING: plugin 'school': "
                       "plugins[school].config.school_agency_id is "
                       "'school-elmwood' but the plugin is loaded as agency "
                       "'school-oakfield'"))
      << err_;
  EXPECT_FALSE(Contains(err_, "plugin 'csc'")) << err_;
  // Nothing was created: --check-config never calls the plugins' create().
  EXPECT_FALSE(fs::exists(dir_.path() / "raise"));
  EXPECT_FALSE(fs::exists(dir_.path() / "ehx.db"));

  // An empty own-agency field: the adapter's default applies (Raise:
  // early-help), which the gateway cannot see.
  ASSERT_EQ(Check("plugins:\n" + Plugin("raise", "early-help-raise") +
                  "      root_dir: " + d + "/raise\n"),
            0)
      << err_;
  EXPECT_TRUE(Contains(err_,
                       "WARNING: plugin 'raise': "
                       "plugins[raise].config.agency_id is not set"))
      << err_;

  // A plugin config error is an error of the config (exit 2), naming it.
  ASSERT_EQ(Check("plugins:\n" + Plugin("raise", "early-help-raise") +
                  "      root_dirr: /x\n"),
            2);
  EXPECT_TRUE(Contains(err_, "plugins[raise].config.root_dirr: unknown key"))
      << err_;
}

// The demo's own plugin section (deploy/demo/run-demo.sh, its shell
// variables filled in) checks clean: no warning.
TEST_F(CheckConfigTest, DemoPluginsGiveNoWarning) {
  const std::string script = Slurp(Src("deploy/demo/run-demo.sh"));
  const size_t from = script.find("\nplugins:\n");
  ASSERT_NE(from, std::string::npos);
  const size_t to = script.find("\nYAML\n", from);
  ASSERT_NE(to, std::string::npos);
  std::string plugins = script.substr(from + 1, to - from);
  auto replace_all = [&plugins](const std::string& var,
                                const std::string& value) {
    for (size_t at = plugins.find(var); at != std::string::npos;
         at = plugins.find(var, at + value.size())) {
      plugins.replace(at, var.size(), value);
    }
  };
  replace_all("$PLUGINS", std::string(EHX_BINARY_DIR) + "/plugins");
  replace_all("$NCASE", kCase);
  replace_all("$A", (dir_.path() / "a").string());
  replace_all("$WORK/pki", DevPki().string());
  replace_all("$WORK", dir_.path().string());
  ASSERT_FALSE(Contains(plugins, "$")) << plugins;
  ASSERT_EQ(Check(plugins), 0) << out_ << err_;
  EXPECT_TRUE(Contains(out_, "config OK: 7 agencies")) << out_;
  EXPECT_TRUE(Contains(out_, " 5 plugins\n")) << out_;
  EXPECT_FALSE(Contains(err_, "WARNING")) << err_;
}

// The Supporting Families outbound evidence file (contract section 13)
// written by the real adapter in the real gateway. The demo policy rightly
// keeps attendance from Supporting Families, so this fixture has its own
// routes and policy: evidence from schools and early help may reach
// Supporting Families (rule evidence-to-sf-test, no party or consent
// needed); nothing else is allowed (health's evidence is withheld by
// default-deny). The school adapter ingests the demo's CTF (attendance of
// P-100-01) and early help publishes police ASB evidence for P-100-02 over
// gRPC; the adapter matches both to the tracker it ingested first.
class SupportingFamiliesEvidenceE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = dir_.path() / "a";
    const std::string d = a_.string();
    const std::string demo = DemoConfigBody();
    const size_t from = demo.find("agencies:\n");
    const size_t to = demo.find("\nroutes:\n");
    ASSERT_NE(from, std::string::npos);
    ASSERT_NE(to, std::string::npos);
    std::string body = "operators: [ops]\n" + demo.substr(from, to + 1 - from);
    body += R"(routes:
  - {event_type: EVENT_TYPE_ATTENDANCE_SUMMARY, to: [supporting-families, early-help]}
  - {event_type: EVENT_TYPE_OUTCOME_EVIDENCE, to: [supporting-families, early-help]}
delivery: {max_attempts: 3, initial_backoff_ms: 100, max_backoff_ms: 1000}
policy:
  version: "test-sf-evidence-1"
  granted_agencies: [early-help, school-oakfield, health-visiting, supporting-families]
  rules:
    - id: evidence-to-sf-test
      description: "Attendance and ASB evidence from schools and early help to Supporting Families."
      sender_roles: [AGENCY_ROLE_SCHOOL, AGENCY_ROLE_EARLY_HELP]
      recipient_roles: [AGENCY_ROLE_SUPPORTING_FAMILIES]
      record_types: [RECORD_TYPE_EVIDENCE]
      bases: [SHARING_BASIS_CONSENT_IN_SCOPE, SHARING_BASIS_CONSENT_OUT_OF_SCOPE, SHARING_BASIS_CONSENT_CITED, SHARING_BASIS_CONSENT_REFUSED, SHARING_BASIS_CONSENT_WITHDRAWN, SHARING_BASIS_NO_CONSENT, SHARING_BASIS_SIGNIFICANT_HARM, SHARING_BASIS_STATUTORY_DUTY]
      party_required: false
  masks:
    - description: "Supporting Families: whole attendance and outcome evidence."
      recipient_roles: [AGENCY_ROLE_SUPPORTING_FAMILIES]
      record_types: [RECORD_TYPE_EVIDENCE]
      paths: [attendance_summary, outcome_evidence]
    - description: "The built-in significant-harm referral rule needs one."
      recipient_roles: [AGENCY_ROLE_CSC_FRONT_DOOR]
      record_types: [RECORD_TYPE_STEP_UP_REFERRAL]
      paths: [step_up_referral]
  purposes:
    - {record_type: RECORD_TYPE_EVIDENCE, purposes: [CONSENT_PURPOSE_OUTCOME_EVIDENCE, CONSENT_PURPOSE_INFORMATION_SHARING]}
plugins:
)";
    body += SchoolPlugin(d);
    body += Plugin("supporting_families", "supporting-families") +
            "      inbox_dir: " + d + "/sf/inbound\n      outbox_dir: " + d +
            "/sf/outbound\n      state_dir: " + d +
            "/sf/state\n      la_code: \"801\"\n      case_refs: "
            "{SF801-000100: " +
            kCase +
            "}\n      poll_interval_ms: 50\n      min_file_age_ms: 10\n"
            "      create_dirs: true\n";
    gw_ = std::make_unique<GatewayProcess>(dir_.path(), body);
    ASSERT_TRUE(gw_->Start()) << gw_->log();
  }

  // Police ASB evidence for Marta (P-100-02, NHS 999 000 0034, adult) in
  // the baseline period, published over gRPC by `agency`.
  grpc::Status PublishAsb(const std::string& agency, const std::string& key,
                          const std::string& role, int count,
                          const std::string& intervention) {
    const std::string json =
        R"({"idempotencyKey": ")" + key + R"(", "caseRef": ")" + kCase + R"(",
      "eventType": "EVENT_TYPE_OUTCOME_EVIDENCE",
      "occurredAt": "2026-03-20T10:00:00Z",
      "outcomeEvidence": {
        "familyId": "SF801-000100",
        "person": {"personId": "pol-7781",
          "identifiers": [{"system": "https://fhir.nhs.uk/Id/nhs-number",
            "value": "9990000034",
            "verification": "VERIFICATION_STATUS_VERIFIED"}],
          "dateOfBirth": {"year": 1990, "month": 11, "day": 20}},
        "area": "OUTCOME_AREA_DIVERTED_FROM_CRIME",
        "evidenceSource": "police",
        "evidence": "asb_role: )" +
        role + "\nasb_incident_count: " + std::to_string(count) +
        "\nasb_highest_intervention: " + intervention +
        R"(\nperiod_kind: baseline"}})";
    ehx::exchange::v1::PublishRequest req;
    auto st = google::protobuf::util::JsonStringToMessage(
        json, req.mutable_envelope());
    if (!st.ok()) {
      return grpc::Status(grpc::StatusCode::INTERNAL, st.ToString());
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    ehx::exchange::v1::PublishReceipt receipt;
    return gw_->Exchange(agency)->Publish(&ctx, req, &receipt);
  }

  // The newest evidence file in the outbox (names sort by time).
  fs::path NewestEvidenceFile() const {
    fs::path newest;
    std::error_code ec;
    for (fs::directory_iterator it(a_ / "sf/outbound", ec), end;
         !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind("sf-evidence-801-", 0) == 0 && name.size() > 4 &&
          name.compare(name.size() - 4, 4, ".csv") == 0 &&
          (newest.empty() || name > newest.filename().string())) {
        newest = it->path();
      }
    }
    return newest;
  }

  TempDir dir_;
  fs::path a_;
  std::unique_ptr<GatewayProcess> gw_;
};

// Splits one CSV record without quotes (the evidence rows here need none).
std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t comma = line.find(',', start);
    out.push_back(line.substr(start, comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

TEST_F(SupportingFamiliesEvidenceE2eTest,
       AttendanceAndAsbBecomeTheEvidenceFile) {
  // 1. The tracker first: it tells the adapter who its people are.
  const std::string tracker =
      "sf-outcome-tracker-801-2026-Q2-20260612T160000Z.csv";
  Drop(Src("deploy/demo/flow") / tracker, a_ / "sf/inbound");
  ASSERT_FALSE(
      WaitForFile(a_ / "sf/inbound/reports", tracker + ".report.json").empty())
      << gw_->log();

  // 2. Health's ASB evidence: not allowed to Supporting Families by this
  //    policy (default-deny), so it never reaches the adapter.
  ASSERT_TRUE(
      PublishAsb("health-visiting", "hv-asb-1", "victim", 1, "none").ok());
  // 3. The school's CTF -> attendance summary for P-100-01 (UPN
  //    B801200005001, NHS 999 000 0018).
  Drop(Src("deploy/demo/flow/8012000_CTF_8019999_001.xml"), a_ / "school/in");
  // 4. Early help relays the police's ASB evidence for P-100-02.
  ASSERT_TRUE(
      PublishAsb("early-help", "eh-asb-1", "perpetrator", 2, "warning_letter")
          .ok());

  // Each delivery rewrites the complete file; wait for one with both rows.
  std::string csv;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    const fs::path f = NewestEvidenceFile();
    csv = f.empty() ? "" : Slurp(f);
    if (Contains(csv, ",school_attendance,") && Contains(csv, ",asb,")) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(Contains(csv, ",asb,")) << csv << gw_->log();

  // Section 13.3: UTF-8 BOM, CRLF after every record, the 13.4 header.
  ASSERT_EQ(csv.rfind("\xEF\xBB\xBF", 0), 0u);
  ASSERT_GE(csv.size(), 2u);
  EXPECT_EQ(csv.substr(csv.size() - 2), "\r\n");
  std::vector<std::string> lines;
  for (size_t at = 3; at < csv.size();) {
    const size_t crlf = csv.find("\r\n", at);
    ASSERT_NE(crlf, std::string::npos);
    lines.push_back(csv.substr(at, crlf - at));
    at = crlf + 2;
  }
  EXPECT_EQ(lines.front(),
            "la_code,family_ref,person_ref,evidence_id,evidence_type,"
            "headline_outcome,period_kind,period_start,period_end,source,"
            "source_extract_date,match_method,school_urn,school_laestab,"
            "academic_year,sessions_possible,sessions_attended,"
            "sessions_authorised_absence,sessions_unauthorised_absence,"
            "attendance_pct,persistent_absence,severe_absence,asb_role,"
            "asb_incident_count,asb_highest_intervention,data_quality_flags,"
            "generated_at");
  // Exactly the two allowed rows: nothing from health (the victim row).
  ASSERT_EQ(lines.size(), 3u) << csv;
  EXPECT_FALSE(Contains(csv, "victim")) << csv;

  // Rows sort by family, person, type. Evidence ids are name-based UUIDs
  // (v5); generated_at is when the gateway accepted the latest record.
  auto check_common = [](const std::vector<std::string>& f) {
    ASSERT_EQ(f.size(), 27u);
    EXPECT_EQ(f[3].size(), 36u) << f[3];
    EXPECT_EQ(f[3][14], '5') << f[3];
    EXPECT_EQ(f[26].size(), 20u) << f[26];
    EXPECT_EQ(f[26].back(), 'Z') << f[26];
  };
  const std::vector<std::string> att = Fields(lines[1]);
  check_common(att);
  const std::vector<std::string> want_att = {
      "801", "SF801-000100", "P-100-01", att[3], "school_attendance",
      "Getting a good education", "academic_year",
      // The CTF's AttendanceStartDate; the CTF's date (before 31 July).
      "2025-09-03", "2026-04-07", "school_mis", "2026-04-07", "nhs_number",
      "100001", "8012000", "2025/26", "250", "200", "22", "28",
      // 200 / 250 = 80.0 %: persistent (< 90), not severe (< 50).
      "80.0", "Y", "N", "", "", "", "", att[26]};
  EXPECT_EQ(att, want_att) << lines[1];

  const std::vector<std::string> asb = Fields(lines[2]);
  check_common(asb);
  const std::vector<std::string> want_asb = {
      "801", "SF801-000100", "P-100-02", asb[3], "asb",
      "Families diverted from crime",
      // Baseline: the 12 months before date_identified (02/02/2026).
      "baseline", "2025-02-02", "2026-02-01", "police", "2026-03-20",
      "nhs_number", "", "", "", "", "", "", "", "", "", "", "perpetrator", "2",
      "warning_letter", "", asb[26]};
  EXPECT_EQ(asb, want_asb) << lines[2];

  // No names, dates of birth, NHS numbers or UPNs in the file.
  for (const char* personal :
       {"Nowak", "Marta", "Amélie", "9990000034", "999 000 0018", "9990000018",
        "B801200005001", "1990-11-20", "2016-05-09"}) {
    EXPECT_FALSE(Contains(csv, personal)) << personal;
  }

  // The policy's decision on health's record is audited: withheld from
  // Supporting Families by default-deny.
  std::vector<ehx::audit::v1::AuditRecord> trail;
  ASSERT_TRUE(ReadAuditTrail(dir_.path() / "ehx.db", &trail));
  bool withheld = false;
  for (const auto& r : trail) {
    if (r.action() == "withhold" &&
        Contains(r.reason(), "to=supporting-families ") &&
        Contains(r.reason(), "rule=default-deny")) {
      withheld = true;
    }
  }
  EXPECT_TRUE(withheld);
}

}  // namespace
}  // namespace ehx::testing
