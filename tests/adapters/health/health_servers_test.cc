// The MLLP and HTTPS listeners on loopback, port 0, with port files.
// clang-format off
// Boost 1.74's asio/awaitable.hpp uses std::exchange without <utility>.
#include <utility>
// clang-format on

#include <unistd.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "health_test_util.h"
#include "servers.h"

namespace ehx::adapters::health {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using ::ehx::adapters::health::testing::FakeGateway;
using ::ehx::adapters::health::testing::Fixture;
using ::ehx::adapters::health::testing::TestConfig;
using ::testing::HasSubstr;

int ReadPort(const std::string& path) {
  std::ifstream in(path);
  int port = 0;
  in >> port;
  return port;
}

TEST(MllpServerTest, AcksFramesSplitAndJoined) {
  const std::string dir = ::testing::TempDir() + "/health_mllp";
  std::filesystem::create_directories(dir);
  FakeGateway gw;
  Ingestor ingestor(TestConfig(), nullptr, gw.Fn());
  MllpListener cfg;
  cfg.set_enabled(true);
  cfg.set_port(0);
  cfg.set_port_file(dir + "/mllp.port");
  std::string error;
  auto server = StartMllpServer(cfg, &ingestor, &error);
  ASSERT_NE(server, nullptr) << error;
  const int port = ReadPort(cfg.port_file());
  ASSERT_EQ(port, server->port());
  ASSERT_GT(port, 0);

  asio::io_context io;
  tcp::socket sock(io);
  sock.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  const std::string a04 = hl7::MllpFrame(Fixture("adt_a04_latin1.hl7"));
  const std::string bad = hl7::MllpFrame(
      "MSH|^~\\&|A|B|C|D|20260101000000+0000||ADT^A01|X1|P|2.4\r");
  // First frame split in two writes, then the tail and a second frame
  // together.
  asio::write(sock, asio::buffer(a04.substr(0, 10)));
  asio::write(sock, asio::buffer(a04.substr(10) + bad));
  std::string got;
  std::array<char, 4096> buf;
  while (std::count(got.begin(), got.end(), '\x1c') < 2) {
    const size_t n = sock.read_some(asio::buffer(buf));
    got.append(buf.data(), n);
  }
  hl7::MllpDeframer d(1 << 20);
  std::vector<std::string> acks;
  d.Feed(got, &acks);
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_THAT(acks[0], HasSubstr("MSA|AA|MSG-A04-0001"));
  EXPECT_THAT(acks[1], HasSubstr("MSA|AR|X1|hl7_unsupported_event"));
  EXPECT_EQ(gw.accepted.size(), 1u);
  server->Stop();
  server->Stop();  // idempotent
  // The listener is gone.
  tcp::socket again(io);
  boost::system::error_code ec;
  again.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)},
      ec);
  EXPECT_TRUE(ec);
}

class HttpsServerTest : public ::testing::Test {
 protected:
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(*dir_, ec);
    delete dir_;
    dir_ = nullptr;
  }

  static void SetUpTestSuite() {
    // One folder per process: ctest runs these tests in parallel processes,
    // and a shared folder let one process overwrite the other's keys.
    dir_ = new std::string(::testing::TempDir() + "/health_https_" +
                           std::to_string(::getpid()));
    std::filesystem::create_directories(*dir_);
    const std::string d = *dir_;
    // A throwaway CA, server and client certificate (loopback only).
    const std::string cmd =
        "cd '" + d +
        "' && "
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca 2>/dev/null && "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null && "
        "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null "
        "&& "
        "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout client.key -out client.csr -subj /CN=hv-client 2>/dev/null && "
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -out client.pem -days 2 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  std::unique_ptr<Server> Start(bool require_client_cert) {
    HttpsListener cfg;
    cfg.set_enabled(true);
    cfg.set_port(0);
    cfg.set_port_file(*dir_ + "/https.port");
    cfg.set_cert_file(*dir_ + "/server.pem");
    cfg.set_key_file(*dir_ + "/server.key");
    cfg.set_client_ca_file(*dir_ + "/ca.pem");
    cfg.set_require_client_cert(require_client_cert);
    cfg.set_max_body_bytes(64 * 1024);
    std::string error;
    auto s = StartHttpsServer(cfg, &ingestor_, &error);
    EXPECT_NE(s, nullptr) << error;
    if (s) EXPECT_EQ(ReadPort(cfg.port_file()), s->port());
    return s;
  }

  // POSTs `body`; returns status (or -1) and the body.
  int Post(int port, const std::string& body, bool client_cert,
           std::string* out, bool header_only = false) {
    asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    ctx.load_verify_file(*dir_ + "/ca.pem");
    ctx.set_verify_mode(ssl::verify_peer);
    if (client_cert) {
      ctx.use_certificate_chain_file(*dir_ + "/client.pem");
      ctx.use_private_key_file(*dir_ + "/client.key", ssl::context::pem);
    }
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                      static_cast<unsigned short>(port)),
        ec);
    if (ec) return -1;
    stream.handshake(ssl::stream_base::client, ec);
    if (ec) return -1;
    http::request<http::string_body> req(http::verb::post, "/Patient", 11);
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/fhir+json");
    req.body() = body;
    req.prepare_payload();
    if (header_only) {
      // Only the header (with its Content-Length): the server must refuse
      // before reading the body.
      http::request_serializer<http::string_body> sr(req);
      http::write_header(stream, sr, ec);
    } else {
      http::write(stream, req, ec);
    }
    if (ec) return -1;
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res, ec);
    if (ec) {
      *out = ec.message();
      return -1;
    }
    *out = res.body();
    return res.result_int();
  }

  static std::string* dir_;
  FakeGateway gw_;
  Ingestor ingestor_{TestConfig(), nullptr, gw_.Fn()};
};
std::string* HttpsServerTest::dir_ = nullptr;

TEST_F(HttpsServerTest, PostsPatientAndBundle) {
  auto server = Start(false);
  ASSERT_NE(server, nullptr);
  std::string body;
  EXPECT_EQ(Post(server->port(), Fixture("patient_zoe.json"), false, &body),
            200);
  EXPECT_THAT(body, HasSubstr("published 1 of 1 records"));
  EXPECT_EQ(Post(server->port(), Fixture("bundle_mixed.json"), false, &body),
            422);
  EXPECT_THAT(body, HasSubstr("Bundle.entry[2].resource.identifier[0].value"));
  EXPECT_THAT(body, HasSubstr("nhs_number_modulus11"));
  EXPECT_EQ(Post(server->port(), "{", false, &body), 400);
  EXPECT_EQ(Post(server->port(), std::string(70 * 1024, ' '), false, &body,
                 /*header_only=*/true),
            413)
      << body;
  server->Stop();
}

TEST_F(HttpsServerTest, ClientCertificateRequired) {
  auto server = Start(true);
  ASSERT_NE(server, nullptr);
  std::string body;
  EXPECT_EQ(Post(server->port(), Fixture("patient_zoe.json"), false, &body),
            -1);
  EXPECT_EQ(Post(server->port(), Fixture("patient_zoe.json"), true, &body),
            200);
  server->Stop();
}

// A one-thread HTTPS server on loopback (Boost.Beast) standing in for the
// health visitors' FHIR server: answers the n-th connection with the n-th
// status and keeps the requests it read.
class FakeFhirServer {
 public:
  FakeFhirServer(const std::string& dir, std::vector<int> statuses)
      : ctx_(ssl::context::tls_server),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    ctx_.use_certificate_chain_file(dir + "/server.pem");
    ctx_.use_private_key_file(dir + "/server.key", ssl::context::pem);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, statuses] {
      for (int status : statuses) {
        tcp::socket sock(io_);
        boost::system::error_code ec;
        acceptor_.accept(sock, ec);
        if (ec) break;
        beast::ssl_stream<beast::tcp_stream> stream(std::move(sock), ctx_);
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(5));
        stream.handshake(ssl::stream_base::server, ec);
        if (ec) continue;  // e.g. the client did not trust us
        beast::flat_buffer buf;
        http::request<http::string_body> req;
        http::read(stream, buf, req, ec);
        if (ec) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(req);
        }
        http::response<http::string_body> res(static_cast<http::status>(status),
                                              11);
        res.set(http::field::content_type, "application/fhir+json");
        res.body() = "{\"resourceType\": \"OperationOutcome\"}";
        res.prepare_payload();
        http::write(stream, res, ec);
        stream.shutdown(ec);
      }
      done_ = true;
    });
  }
  ~FakeFhirServer() {
    // Unblock accept() if a test failed before using every status.
    while (!done_) {
      asio::io_context io;
      tcp::socket s(io);
      boost::system::error_code ec;
      s.connect({asio::ip::make_address("127.0.0.1"), port_}, ec);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    thread_.join();
  }
  unsigned short port() const { return port_; }
  std::vector<http::request<http::string_body>> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  asio::io_context io_;
  ssl::context ctx_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> done_{false};
  std::mutex mu_;
  std::vector<http::request<http::string_body>> requests_;
  std::thread thread_;
};

// communication_url: the Communication is POSTed over TLS (server verified
// against communication_ca_file) as application/fhir+json, and the HTTP
// status comes back for the delivery decision (2xx ack, 4xx dead letter,
// else retry); an untrusted server is a transport failure, never a send.
TEST_F(HttpsServerTest, CommunicationIsPostedToTheConfiguredUrl) {
  const std::string body = Fixture("communication_caf.golden.json");
  ASSERT_FALSE(body.empty());
  FakeFhirServer fhir(*dir_, {201, 422, 503, 201});
  const std::string url = "https://localhost:" + std::to_string(fhir.port()) +
                          "/fhir/Communication";
  std::string error;
  EXPECT_EQ(PostJson(url, body, *dir_ + "/ca.pem", &error), 201) << error;
  EXPECT_EQ(PostJson(url, body, *dir_ + "/ca.pem", &error), 422) << error;
  EXPECT_EQ(PostJson(url, body, *dir_ + "/ca.pem", &error), 503) << error;
  // A CA that did not sign the server: refused before anything is sent.
  EXPECT_EQ(PostJson(url, body, *dir_ + "/client.pem", &error), -1);
  EXPECT_THAT(error, HasSubstr("communication_url request failed"));
  const auto got = fhir.requests();
  ASSERT_EQ(got.size(), 3u);
  for (const auto& req : got) {
    EXPECT_EQ(req.method(), http::verb::post);
    EXPECT_EQ(req.target(), "/fhir/Communication");
    EXPECT_EQ(req[http::field::content_type], "application/fhir+json");
    EXPECT_EQ(req.body(), body);
  }
  EXPECT_EQ(PostJson("ftp://localhost/x", body, "", &error), -1);
}

}  // namespace
}  // namespace ehx::adapters::health
