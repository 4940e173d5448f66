// Agency identity and transport: the rejection matrix. Every case runs
// against the real ehx-gateway binary (port 0) with certificates made by
// tests/integration/pki/make-test-pki.sh, and is refused before any
// handler runs: the RPC fails with UNAVAILABLE at the handshake, the
// gateway log names the reason, and nothing is stored. Protocol versions
// and cipher suites are probed with Debian's `openssl s_client`.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway_harness.h"

namespace ehx::testing {
namespace {

namespace fs = std::filesystem;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::FetchRequest;
using ehx::exchange::v1::FetchResponse;
using ehx::exchange::v1::GatewayStatus;
using ehx::exchange::v1::PublishReceipt;
using ehx::exchange::v1::PublishRequest;

// The test PKI, shared by the test processes of one build (ctest runs
// each test in its own process, and RSA key generation is slow): made
// under a lock in the build tree, remade when a day old (its
// certificates live 30 days). Tests that change files copy it first.
const fs::path& TestPki() {
  static fs::path pki = [] {
    const fs::path out = fs::path(EHX_BINARY_DIR) / "tests" / "tls-test-pki";
    fs::create_directories(out.parent_path());
    const std::string o = out.string();
    const std::string cmd =
        "flock " + o + ".lock sh -c 'if [ ! -f " + o +
        "/.done ] || [ -n \"$(find " + o +
        "/.done -mmin +1440)\" ]; then rm -rf " + o + " && bash " +
        EHX_SOURCE_DIR + "/tests/integration/pki/make-test-pki.sh " + o +
        " && touch " + o + "/.done; fi' >" + o + ".log 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "make-test-pki.sh failed: see %s.log\n", o.c_str());
      std::abort();
    }
    return out;
  }();
  return pki;
}

std::string Agencies() {
  return R"(operators: [ops]
agencies:
  - {id: early-help, name: "Early Help", role: AGENCY_ROLE_EARLY_HELP}
  - {id: csc-front-door, name: "Contact Point", role: AGENCY_ROLE_CSC_FRONT_DOOR}
  - {id: school-oakfield, name: "Oakfield Primary", role: AGENCY_ROLE_SCHOOL}
  - {id: health-visiting, name: "Health Visiting", role: AGENCY_ROLE_HEALTH}
  - {id: old-agency, name: "Closed service", role: AGENCY_ROLE_OTHER, decommissioned: true}
)";
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() +
                  std::chrono::seconds(seconds));
  return c;
}

Envelope Caf(const std::string& key) {
  Envelope e = LoadEnvelope(DemoMessages() / "02-caf-notification.json");
  e.set_idempotency_key(key);
  e.set_case_ref("EH-TLS");
  return e;
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class TlsRejectionTest : public ::testing::Test {
 protected:
  void Start(const std::string& crl_file) {
    gw_ = std::make_unique<GatewayProcess>(dir_.path(), Agencies());
    gw_->set_pki(TestPki());
    gw_->set_tls_extra("crl_file: \"" + crl_file + "\"");
    ASSERT_TRUE(gw_->Start()) << gw_->log();
  }
  // The gateway log written since the last call.
  std::string NewLog() {
    std::string all = gw_->log();
    std::string delta = all.substr(std::min(seen_, all.size()));
    seen_ = all.size();
    return delta;
  }
  // Calls the exchange (Publish) or admin (GetStatus) API with `cert`
  // (+ `key`; empty = no client certificate).
  grpc::Status Call(const std::string& cert, const std::string& key,
                    bool admin) {
    const fs::path p = TestPki();
    auto ch = gw_->ChannelWith(cert.empty() ? "" : (p / cert).string(),
                               key.empty() ? "" : (p / key).string(), admin);
    auto ctx = Ctx(5);
    if (admin) {
      GatewayStatus gs;
      return ehx::exchange::v1::Admin::NewStub(ch)->GetStatus(ctx.get(), {},
                                                              &gs);
    }
    PublishRequest req;
    *req.mutable_envelope() = Caf("k-" + cert);
    PublishReceipt r;
    return ehx::exchange::v1::Exchange::NewStub(ch)->Publish(ctx.get(), req,
                                                             &r);
  }
  // Runs `openssl s_client` against the exchange port as early-help.
  // Returns its exit code; `out` gets its output.
  int SClient(const std::string& args, std::string* out,
              const std::string& cert = "early-help.pem",
              const std::string& key = "early-help.key") {
    const fs::path p = TestPki();
    const fs::path file = dir_.path() / "s_client.out";
    const std::string cmd =
        "openssl s_client -connect 127.0.0.1:" + std::to_string(gw_->port()) +
        " -servername localhost -alpn h2 -CAfile " + (p / "ca.pem").string() +
        " -cert " + (p / cert).string() + " -key " + (p / key).string() + " " +
        args + " </dev/null >" + file.string() + " 2>&1";
    const int rc = std::system(cmd.c_str());
    *out = Slurp(file);
    return rc;
  }
  int64_t Events() {
    GatewayStatus gs;
    auto ctx = Ctx();
    auto st = gw_->Admin()->GetStatus(ctx.get(), {}, &gs);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return gs.events();
  }

  TempDir dir_;
  std::unique_ptr<GatewayProcess> gw_;
  size_t seen_ = 0;
};

struct CertCase {
  const char* name;
  const char* cert;  // file in the test PKI ("" = none)
  const char* key;
  bool admin;          // call the Admin API instead of the Exchange API
  const char* reason;  // expected in the gateway log for this attempt
  // Offer the certificate with `openssl s_client` at SECLEVEL=0 over TLS
  // 1.2: gRPC's client (OpenSSL at Debian's level 2) will not even send a
  // 1024-bit or SHA-1 certificate, and the refusal must be the server's.
  bool s_client = false;
};

// Refused by gRPC's own OpenSSL verification (before our verifier).
constexpr char kChain[] = "certificate verify failed";

const CertCase kCertCases[] = {
    {"untrusted CA", "untrusted.pem", "untrusted.key", false, kChain},
    {"untrusted CA, its root sent too", "untrusted-with-root.pem",
     "untrusted-with-root.key", false, kChain},
    {"self-signed", "self-signed.pem", "self-signed.key", false, kChain},
    {"expired", "expired.pem", "expired.key", false, kChain},
    {"not yet valid", "not-yet-valid.pem", "not-yet-valid.key", false, kChain},
    {"revoked by CRL", "revoked.pem", "revoked.key", false,
     "chain: certificate revoked (depth 0)"},
    {"wrong key usage (keyAgreement only)", "ku-keyagreement.pem",
     "ku-keyagreement.key", false, "keyUsage must include digitalSignature"},
    {"wrong key usage (keyCertSign only)", "ku-certsign.pem", "ku-certsign.key",
     false, kChain},
    {"no extendedKeyUsage", "no-eku.pem", "no-eku.key", false,
     "extendedKeyUsage must include clientAuth"},
    {"serverAuth-only EKU", "eku-server.pem", "eku-server.key", false, kChain},
    {"server certificate presented as client", "server.pem", "server.key",
     false, kChain},
    {"missing client certificate", "", "", false,
     "peer did not return a certificate"},
    {"truncated chain (intermediate not sent)", "chain-good-leaf.pem",
     "chain-good-leaf.key", false, kChain},
    {"weak RSA-1024 key", "rsa1024.pem", "rsa1024.key", false, kChain, true},
    {"EC P-521 (not an accepted curve)", "p521.pem", "p521.key", false,
     "weak or unsupported key at depth 0"},
    {"EC secp256k1 (not an accepted curve)", "secp256k1.pem", "secp256k1.key",
     false, "wrong curve", true},
    {"decommissioned agency", "old-agency.pem", "old-agency.key", false,
     "agency old-agency is decommissioned"},
    {"unregistered agency", "stranger.pem", "stranger.key", false,
     "agency stranger is not accepted on the exchange listener"},
    {"two agency URIs", "two-uris.pem", "two-uris.key", false,
     "more than one urn:ehx:agency: URI SAN"},
    {"no agency URI (DNS SAN only)", "no-uri.pem", "no-uri.key", false,
     "no urn:ehx:agency: URI SAN"},
    {"agency URI with an invalid id", "bad-id.pem", "bad-id.key", false,
     "the agency URI SAN has an invalid id"},
    {"wrong URN namespace", "wrong-urn.pem", "wrong-urn.key", false,
     "no urn:ehx:agency: URI SAN"},
    {"CA:TRUE certificate used as a leaf", "ca-leaf.pem", "ca-leaf.key", false,
     "a CA certificate cannot be a client certificate"},
    {"SHA-1 signature", "sha1.pem", "sha1.key", false, kChain, true},
    {"revoked intermediate", "revoked-int.pem", "revoked-int.key", false,
     "chain: certificate revoked (depth 1)"},
    {"expired intermediate", "expired-int.pem", "expired-int.key", false,
     kChain},
    {"admin API with an agency certificate", "early-help.pem", "early-help.key",
     true, "agency early-help is not accepted on the admin listener"},
    {"exchange API with the operator certificate", "ops.pem", "ops.key", false,
     "agency ops is not accepted on the exchange listener"},
    {"admin API with a decommissioned agency", "old-agency.pem",
     "old-agency.key", true, "agency old-agency is decommissioned"},
    {"admin API without a client certificate", "", "", true,
     "peer did not return a certificate"},
};

TEST_F(TlsRejectionTest, CertificateMatrixRefusedAtHandshake) {
  Start((TestPki() / "crl.pem").string());
  NewLog();
  for (const auto& c : kCertCases) {
    if (c.s_client) {
      std::string out;
      EXPECT_NE(
          SClient("-tls1_2 -cipher DEFAULT:@SECLEVEL=0", &out, c.cert, c.key),
          0)
          << c.name << "\n"
          << out;
    } else {
      grpc::Status st = Call(c.cert, c.key, c.admin);
      EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE)
          << c.name << ": " << st.error_code() << " " << st.error_message();
    }
    const std::string log = NewLog();
    const bool ours =
        log.find("refused client certificate") != std::string::npos;
    const bool grpcs = log.find("Handshake failed") != std::string::npos;
    EXPECT_TRUE(ours || grpcs) << c.name << ": no refusal logged\n" << log;
    if (*c.reason) {
      EXPECT_NE(log.find(c.reason), std::string::npos)
          << c.name << ": expected '" << c.reason << "' in\n"
          << log;
    }
    // A refusal never reaches a handler: no call is logged as served and
    // no subject (CN) is logged.
    EXPECT_EQ(log.find("CN="), std::string::npos) << c.name;
  }
  // Nothing was stored, and the audit trail has no accept.
  EXPECT_EQ(Events(), 0);
  EXPECT_GE(std::size(kCertCases), 30u);
}

// The positive controls: the same gateway accepts valid certificates.
TEST_F(TlsRejectionTest, PositiveControlsAreAccepted) {
  Start((TestPki() / "crl.pem").string());
  struct Ok {
    const char* name;
    const char* cert;
    const char* key;
  } oks[] = {
      {"EC P-256 agency", "early-help.pem", "early-help.key"},
      {"EC P-384 agency", "p384.pem", "p384.key"},
      {"RSA-2048 agency", "rsa2048.pem", "rsa2048.key"},
      {"Ed25519 agency", "ed25519.pem", "ed25519.key"},
      {"leaf + intermediate sent", "chain-good.pem", "chain-good.key"},
  };
  for (const auto& o : oks) {
    auto ch = gw_->ChannelWith((TestPki() / o.cert).string(),
                               (TestPki() / o.key).string());
    FetchRequest req;
    FetchResponse resp;
    auto ctx = Ctx();
    grpc::Status st =
        ehx::exchange::v1::Exchange::NewStub(ch)->Fetch(ctx.get(), req, &resp);
    EXPECT_TRUE(st.ok()) << o.name << ": " << st.error_message() << "\n"
                         << gw_->log();
  }
  // A publish is accepted and stored; the operator reaches the Admin API.
  grpc::Status st = Call("early-help.pem", "early-help.key", false);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(Events(), 1);
}

// A certificate whose body claims another agency is refused by the
// handler (the sender comes from the certificate).
TEST_F(TlsRejectionTest, BodyClaimingAnotherAgencyIsRefused) {
  Start((TestPki() / "crl.pem").string());
  PublishRequest req;
  *req.mutable_envelope() = Caf("spoof");
  req.mutable_envelope()->set_sender_agency("early-help");
  PublishReceipt r;
  auto ctx = Ctx();
  grpc::Status st =
      gw_->Exchange("school-oakfield")->Publish(ctx.get(), req, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Events(), 0);
}

// A configured CRL that is missing refuses every client (fail closed) and
// says so in the log.
TEST_F(TlsRejectionTest, MissingCrlFailsClosed) {
  Start((dir_.path() / "no-such-crl.pem").string());
  grpc::Status st = Call("early-help.pem", "early-help.key", false);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE);
  const std::string log = gw_->log();
  EXPECT_NE(log.find("tls.crl_file cannot be read"), std::string::npos) << log;
  EXPECT_NE(log.find("fail closed"), std::string::npos) << log;
}

// tls.crl_dir: a CRL renamed into the folder takes effect on the next
// handshake, without a restart; an emptied folder fails closed.
TEST_F(TlsRejectionTest, CrlDirIsReloadedWhenItChanges) {
  const fs::path crls = dir_.path() / "crls";
  fs::create_directories(crls);
  fs::copy_file(TestPki() / "crl-empty.pem", crls / "all.pem");
  gw_ = std::make_unique<GatewayProcess>(dir_.path(), Agencies());
  gw_->set_pki(TestPki());
  gw_->set_tls_extra("crl_dir: \"" + crls.string() + "\"");
  ASSERT_TRUE(gw_->Start()) << gw_->log();
  EXPECT_TRUE(Call("health-visiting.pem", "health-visiting.key", false).ok());
  fs::copy_file(TestPki() / "crl-rotate.pem", crls / ".new.tmp");
  fs::rename(crls / ".new.tmp", crls / "all.pem");
  EXPECT_EQ(
      Call("health-visiting.pem", "health-visiting.key", false).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(Call("school-oakfield.pem", "school-oakfield.key", false).ok());
  fs::remove(crls / "all.pem");
  EXPECT_EQ(
      Call("school-oakfield.pem", "school-oakfield.key", false).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(gw_->log().find("no CRL was found"), std::string::npos)
      << gw_->log();
}

// TLS 1.0 and 1.1, and TLS 1.2 with CBC, plain-RSA or finite-field DHE
// key exchange are refused by the server; TLS 1.2 ECDHE+AEAD and TLS 1.3
// are accepted. The client runs at SECLEVEL=0 so that it does offer the
// old protocols and ciphers: the refusal is the server's (the client
// would say "no protocols available" / "no ciphers available").
TEST_F(TlsRejectionTest, ProtocolAndCipherMatrix) {
  Start((TestPki() / "crl.pem").string());
  NewLog();
  struct Probe {
    const char* name;
    const char* args;
    bool accept;
    const char* server_says;  // in the gateway log when refused
    const char* client_says;  // in s_client's output when accepted
  } probes[] = {
      {"TLS 1.0", "-tls1 -cipher DEFAULT:@SECLEVEL=0", false,
       "unsupported protocol", ""},
      {"TLS 1.1", "-tls1_1 -cipher DEFAULT:@SECLEVEL=0", false,
       "unsupported protocol", ""},
      {"TLS 1.2 CBC", "-tls1_2 -cipher ECDHE-RSA-AES128-SHA:@SECLEVEL=0", false,
       "no shared cipher", ""},
      {"TLS 1.2 CBC-SHA256",
       "-tls1_2 -cipher ECDHE-RSA-AES256-SHA384:@SECLEVEL=0", false,
       "no shared cipher", ""},
      {"TLS 1.2 plain RSA key exchange",
       "-tls1_2 -cipher AES128-GCM-SHA256:@SECLEVEL=0", false,
       "no shared cipher", ""},
      {"TLS 1.2 finite-field DHE",
       "-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", false,
       "no shared cipher", ""},
      {"TLS 1.2 ECDHE-RSA-AES128-GCM",
       "-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256", true, "",
       "Cipher is ECDHE-RSA-AES128-GCM-SHA256"},
      {"TLS 1.2 ECDHE-RSA-CHACHA20",
       "-tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305", true, "",
       "Cipher is ECDHE-RSA-CHACHA20-POLY1305"},
      {"TLS 1.3", "-tls1_3", true, "", "New, TLSv1.3"},
  };
  for (const auto& p : probes) {
    std::string out;
    const int rc = SClient(p.args, &out);
    const std::string log = NewLog();
    EXPECT_EQ(out.find("no protocols available"), std::string::npos)
        << p.name << ": the client refused, not the server\n"
        << out;
    EXPECT_EQ(out.find("no ciphers available"), std::string::npos)
        << p.name << ": the client refused, not the server\n"
        << out;
    if (p.accept) {
      EXPECT_EQ(rc, 0) << p.name << "\n" << out;
      EXPECT_NE(out.find(p.client_says), std::string::npos) << p.name << "\n"
                                                            << out;
    } else {
      EXPECT_NE(rc, 0) << p.name << "\n" << out;
      EXPECT_NE(out.find("Cipher is (NONE)"), std::string::npos)
          << p.name << "\n"
          << out;
      EXPECT_NE(log.find(p.server_says), std::string::npos)
          << p.name << ": expected '" << p.server_says << "' in\n"
          << log;
    }
  }
  EXPECT_EQ(Events(), 0);
}

}  // namespace
}  // namespace ehx::testing

namespace ehx::testing {
namespace {

void ReplaceAtomically(const fs::path& target, const std::string& content) {
  const fs::path tmp =
      target.parent_path() / ("." + target.filename().string() + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  fs::rename(tmp, target);
}

// Rotation under load: 4 clients publish continuously, each opening a
// new connection (a new handshake) every few calls, while the server's
// certificate and key, the trusted CA bundle and the CRL are replaced on
// disk. No good call fails; afterwards a new connection sees the new
// server certificate and the agency revoked by the new CRL is refused.
TEST(TlsRotationTest, CertificatesCaAndCrlRotateUnderLoadWithoutFailures) {
  TempDir dir;
  const fs::path live = dir.path() / "live";
  fs::create_directories(live);
  const fs::path pki = TestPki();
  // Key and certificate in one file: one rename swaps both at once (the
  // file watcher can never see a new key with an old certificate).
  ReplaceAtomically(live / "server.pem",
                    Slurp(pki / "server.key") + Slurp(pki / "server.pem"));
  ReplaceAtomically(live / "ca.pem", Slurp(pki / "ca.pem"));
  ReplaceAtomically(live / "crl.pem", Slurp(pki / "crl-empty.pem"));
  GatewayProcess gw(dir.path(), Agencies());
  gw.set_pki(pki);
  gw.set_server_files((live / "ca.pem").string(),
                      (live / "server.pem").string(),
                      (live / "server.pem").string());
  gw.set_tls_extra("crl_file: \"" + (live / "crl.pem").string() +
                   "\", refresh_interval_seconds: 1");
  gw.set_client_roots((pki / "bundle-both.pem").string());
  ASSERT_TRUE(gw.Start()) << gw.log();

  // health-visiting works before the new CRL.
  auto fetch_as = [&](const std::string& agency) {
    auto ch = gw.ChannelWith((pki / (agency + ".pem")).string(),
                             (pki / (agency + ".key")).string());
    FetchRequest req;
    FetchResponse resp;
    auto ctx = Ctx(5);
    return ehx::exchange::v1::Exchange::NewStub(ch)->Fetch(ctx.get(), req,
                                                           &resp);
  };
  ASSERT_TRUE(fetch_as("health-visiting").ok());

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0};
  std::vector<std::thread> clients;
  const char* agencies[] = {"early-help", "school-oakfield", "early-help",
                            "csc-front-door"};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      std::unique_ptr<ehx::exchange::v1::Exchange::Stub> stub;
      for (int i = 0; !stop; ++i) {
        if (i % 5 == 0) stub = gw.Exchange(agencies[t]);  // new handshake
        PublishRequest req;
        *req.mutable_envelope() =
            Caf("rot-" + std::to_string(t) + "-" + std::to_string(i));
        PublishReceipt r;
        auto ctx = Ctx(10);
        grpc::Status st = stub->Publish(ctx.get(), req, &r);
        if (st.ok()) {
          ++ok;
        } else {
          ++failed;
          ADD_FAILURE() << agencies[t] << ": " << st.error_code() << " "
                        << st.error_message();
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ReplaceAtomically(live / "ca.pem", Slurp(pki / "bundle-both.pem"));
  ReplaceAtomically(live / "server.pem",
                    Slurp(pki / "server2.key") + Slurp(pki / "server2.pem"));
  ReplaceAtomically(live / "crl.pem", Slurp(pki / "crl-rotate.pem"));
  // Keep publishing across at least two refresh intervals.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(ok.load(), 20);

  // A new connection sees the new server certificate.
  const std::string server2 = Slurp(pki / "server2.pem");
  std::string seen;
  for (int i = 0; i < 50 && seen != server2; ++i) {
    auto stub = gw.Exchange("early-help");
    FetchRequest req;
    FetchResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    ASSERT_TRUE(stub->Fetch(&ctx, req, &resp).ok());
    auto auth = ctx.auth_context();
    for (const auto& v : auth->FindPropertyValues("x509_pem_cert")) {
      seen.assign(v.data(), v.size());
    }
    if (seen != server2)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(seen, server2);
  // The agency revoked by the new CRL is refused; the others are not.
  EXPECT_EQ(fetch_as("health-visiting").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(gw.log().find("certificate revoked"), std::string::npos);
  EXPECT_TRUE(fetch_as("school-oakfield").ok());
}

}  // namespace
}  // namespace ehx::testing
