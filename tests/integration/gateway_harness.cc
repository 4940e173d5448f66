#include "gateway_harness.h"

#include <google/protobuf/util/json_util.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace ehx::testing {

namespace fs = std::filesystem;

namespace {
std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TempDir::TempDir() {
  std::random_device rd;
  const char* base = std::getenv("TMPDIR");
  path_ = fs::path(base ? base : "/tmp") /
          ("ehx-test-" + std::to_string(getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!std::getenv("EHX_KEEP_TEMP")) fs::remove_all(path_, ec);
}

const fs::path& DevPki() {
  static TempDir* dir = new TempDir();  // lives for the process
  static fs::path pki = [] {
    fs::path out = dir->path() / "pki";
    std::string cmd = std::string("bash ") + EHX_SOURCE_DIR +
                      "/deploy/pki/make-dev-pki.sh " + out.string() +
                      " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) std::abort();
    return out;
  }();
  return pki;
}

std::string DemoAgenciesAndRoutes() {
  return R"(operators: [ops]
agencies:
  - {id: early-help, name: "Early Help", role: AGENCY_ROLE_EARLY_HELP}
  - {id: csc-front-door, name: "Contact Point", role: AGENCY_ROLE_CSC_FRONT_DOOR}
  - {id: school-oakfield, name: "Oakfield Primary", role: AGENCY_ROLE_SCHOOL}
  - {id: health-visiting, name: "Health Visiting", role: AGENCY_ROLE_HEALTH}
routes:
  - {event_type: EVENT_TYPE_CASE_OPENED, to_selectors: [RECIPIENT_SELECTOR_CASE_AGENCIES]}
  - {event_type: EVENT_TYPE_CAF_NOTIFICATION, to_selectors: [RECIPIENT_SELECTOR_CASE_AGENCIES]}
  - {event_type: EVENT_TYPE_STEP_UP_REFERRAL, to_selectors: [RECIPIENT_SELECTOR_FRONT_DOOR]}
  - {event_type: EVENT_TYPE_REFERRAL_OUTCOME, to_selectors: [RECIPIENT_SELECTOR_REFERRER, RECIPIENT_SELECTOR_LEAD_PRACTITIONER]}
  - {event_type: EVENT_TYPE_STEP_DOWN, to_selectors: [RECIPIENT_SELECTOR_EARLY_HELP, RECIPIENT_SELECTOR_LEAD_PRACTITIONER]}
# A small explicit sharing policy for the demo flows (a missing policy
# means nothing is delivered). The full default: deploy/config/policy.yaml.
policy:
  version: "integration-1"
  granted_agencies: [early-help, csc-front-door, school-oakfield, health-visiting]
  rules:
    - {id: caf-to-parties, recipient_roles: [AGENCY_ROLE_SCHOOL, AGENCY_ROLE_HEALTH, AGENCY_ROLE_EARLY_HELP], record_types: [RECORD_TYPE_CAF_NOTIFICATION], bases: [SHARING_BASIS_CONSENT_IN_SCOPE, SHARING_BASIS_CONSENT_CITED], party_required: true}
    - {id: outcome-to-parties, sender_roles: [AGENCY_ROLE_CSC_FRONT_DOOR], recipient_roles: [AGENCY_ROLE_EARLY_HELP], record_types: [RECORD_TYPE_REFERRAL_OUTCOME], bases: [SHARING_BASIS_CONSENT_IN_SCOPE, SHARING_BASIS_CONSENT_OUT_OF_SCOPE, SHARING_BASIS_CONSENT_CITED, SHARING_BASIS_CONSENT_REFUSED, SHARING_BASIS_CONSENT_WITHDRAWN, SHARING_BASIS_NO_CONSENT, SHARING_BASIS_SIGNIFICANT_HARM, SHARING_BASIS_STATUTORY_DUTY], party_required: true}
    - {id: step-down-to-lead, sender_roles: [AGENCY_ROLE_CSC_FRONT_DOOR], recipient_roles: [AGENCY_ROLE_EARLY_HELP], record_types: [RECORD_TYPE_STEP_DOWN], bases: [SHARING_BASIS_CONSENT_IN_SCOPE, SHARING_BASIS_CONSENT_CITED], party_required: true}
  masks:
    - {recipient_roles: [AGENCY_ROLE_EARLY_HELP, AGENCY_ROLE_CSC_FRONT_DOOR], record_types: [RECORD_TYPE_CAF_NOTIFICATION, RECORD_TYPE_STEP_UP_REFERRAL, RECORD_TYPE_REFERRAL_OUTCOME, RECORD_TYPE_STEP_DOWN], paths: [case_opened, caf_notification, step_up_referral, referral_outcome, step_down]}
    - {recipient_roles: [AGENCY_ROLE_SCHOOL, AGENCY_ROLE_HEALTH], record_types: [RECORD_TYPE_CAF_NOTIFICATION], paths: [case_opened.case_id, case_opened.lead_practitioner, case_opened.children.person_id, caf_notification.assessment_id, caf_notification.lead_practitioner, caf_notification.children.person_id]}
  purposes:
    - {record_type: RECORD_TYPE_CAF_NOTIFICATION, purposes: [CONSENT_PURPOSE_INFORMATION_SHARING]}
    - {record_type: RECORD_TYPE_STEP_DOWN, purposes: [CONSENT_PURPOSE_INFORMATION_SHARING]}
    - {record_type: RECORD_TYPE_REFERRAL_OUTCOME, purposes: [CONSENT_PURPOSE_REFERRAL]}
)";
}

GatewayProcess::GatewayProcess(fs::path dir, std::string body)
    : dir_(std::move(dir)), body_(std::move(body)) {}

GatewayProcess::~GatewayProcess() {
  if (pid_ > 0) Kill();
}

const fs::path& GatewayProcess::pki() const {
  return pki_.empty() ? DevPki() : pki_;
}

bool GatewayProcess::Start() {
  const fs::path pki = this->pki();
  const fs::path port_file = dir_ / "ports";
  fs::remove(port_file);
  std::ofstream cfg(dir_ / "gateway.yaml", std::ios::trunc);
  auto or_default = [&](const std::string& v, const char* name) {
    return v.empty() ? (pki / name).string() : v;
  };
  cfg << "listen: \"127.0.0.1:0\"\nadmin_listen: \"127.0.0.1:0\"\n"
      << "tls: {ca_file: \"" << or_default(server_ca_, "ca.pem")
      << "\", cert_file: \"" << or_default(server_cert_, "server.pem")
      << "\", key_file: \"" << or_default(server_key_, "server.key") << "\""
      << (tls_extra_.empty() ? "" : ", ") << tls_extra_ << "}\n"
      << "store: {sqlite_path: \"" << (dir_ / "ehx.db").string() << "\""
      << (store_extra_.empty() ? "" : ", ") << store_extra_ << "}\n"
      << "port_file: \"" << port_file.string() << "\"\n"
      << body_;
  cfg.close();
  const std::string bin = std::string(EHX_BINARY_DIR) + "/bin/ehx-gateway";
  const std::string logf = (dir_ / "gateway.log").string();
  pid_ = fork();
  if (pid_ == 0) {
    FILE* f = std::freopen(logf.c_str(), "a", stderr);
    (void)f;
    dup2(fileno(stderr), fileno(stdout));
    const std::string conf = (dir_ / "gateway.yaml").string();
    execl(bin.c_str(), bin.c_str(), "--config", conf.c_str(), "--log-level",
          log_level_.c_str(), nullptr);
    _exit(127);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    if (fs::exists(port_file)) {
      std::ifstream in(port_file);
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("exchange=", 0) == 0) port_ = std::stoi(line.substr(9));
        if (line.rfind("admin=", 0) == 0)
          admin_port_ = std::stoi(line.substr(6));
      }
      return port_ > 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void GatewayProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

int GatewayProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string GatewayProcess::log() const { return Slurp(dir_ / "gateway.log"); }

std::shared_ptr<grpc::Channel> GatewayProcess::ChannelWith(
    const std::string& cert_file, const std::string& key_file,
    bool admin) const {
  grpc::SslCredentialsOptions o;
  o.pem_root_certs =
      Slurp(client_roots_.empty() ? pki() / "ca.pem" : fs::path(client_roots_));
  if (!cert_file.empty()) {
    o.pem_cert_chain = Slurp(cert_file);
    o.pem_private_key = Slurp(key_file);
  }
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(admin ? admin_port_ : port_),
      grpc::SslCredentials(o), args);
}

std::shared_ptr<grpc::Channel> GatewayProcess::Channel(
    const std::string& agency, bool admin) const {
  return ChannelWith((pki() / (agency + ".pem")).string(),
                     (pki() / (agency + ".key")).string(), admin);
}

std::unique_ptr<ehx::exchange::v1::Exchange::Stub> GatewayProcess::Exchange(
    const std::string& agency) const {
  return ehx::exchange::v1::Exchange::NewStub(Channel(agency));
}

std::unique_ptr<ehx::exchange::v1::Admin::Stub> GatewayProcess::Admin() const {
  return ehx::exchange::v1::Admin::NewStub(Channel("ops", true));
}

ehx::exchange::v1::Envelope LoadEnvelope(const fs::path& file) {
  ehx::exchange::v1::Envelope env;
  auto st = google::protobuf::util::JsonStringToMessage(Slurp(file), &env);
  if (!st.ok()) {
    std::fprintf(stderr, "bad envelope JSON %s: %s\n", file.c_str(),
                 st.ToString().c_str());
    std::abort();
  }
  return env;
}

fs::path DemoMessages() {
  return fs::path(EHX_SOURCE_DIR) / "deploy" / "demo" / "messages";
}

bool DrainMailbox(
    ehx::exchange::v1::Exchange::Stub& stub,
    const std::function<void(const ehx::exchange::v1::Delivery&,
                             ehx::exchange::v1::AckItem*)>& answer) {
  for (int round = 0; round < 100; ++round) {
    ehx::exchange::v1::FetchRequest fr;
    fr.set_max_messages(100);
    ehx::exchange::v1::FetchResponse resp;
    grpc::ClientContext ctx;
    if (!stub.Fetch(&ctx, fr, &resp).ok()) return false;
    if (resp.deliveries().empty()) return true;
    ehx::exchange::v1::AckRequest a;
    for (const auto& d : resp.deliveries()) {
      auto* item = a.add_items();
      item->set_delivery_id(d.delivery_id());
      item->set_ok(true);
      answer(d, item);
    }
    ehx::exchange::v1::AckResponse ar;
    grpc::ClientContext actx;
    if (!stub.Ack(&actx, a, &ar).ok()) return false;
  }
  return true;
}

bool ReadAuditTrail(const std::filesystem::path& db,
                    std::vector<ehx::audit::v1::AuditRecord>* out) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) !=
      SQLITE_OK) {
    sqlite3_close(h);
    return false;
  }
  sqlite3_stmt* s = nullptr;
  bool ok = sqlite3_prepare_v2(h, "SELECT record FROM audit_log ORDER BY seq",
                               -1, &s, nullptr) == SQLITE_OK;
  while (ok && sqlite3_step(s) == SQLITE_ROW) {
    out->emplace_back();
    ok = out->back().ParseFromArray(sqlite3_column_blob(s, 0),
                                    sqlite3_column_bytes(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return ok;
}

}  // namespace ehx::testing
