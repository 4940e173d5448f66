#include "servers.h"

#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <fstream>
#include <optional>
#include <thread>

namespace ehx::adapters::health {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr auto kHttpTimeout = std::chrono::seconds(30);

bool Bind(asio::io_context& io, tcp::acceptor* acceptor,
          const std::string& address, int port, std::string* error) {
  error_code ec;
  const auto addr =
      asio::ip::make_address(address.empty() ? "127.0.0.1" : address, ec);
  if (ec) {
    *error = "listen_address is not an IP address";
    return false;
  }
  if (port < 0 || port > 65535) {
    *error = "port must be 0..65535";
    return false;
  }
  const tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen: " + ec.message();
    return false;
  }
  return true;
}

// A TCP listener on its own io_context thread: bind, port file, accept loop,
// stop. The MLLP and HTTPS servers differ only in what they do with an
// accepted socket (OnAccepted).
class AsioListener : public Server {
 public:
  int port() const override { return port_; }

  // Stops the loop, joins it, then destroys the acceptor and every pending
  // handler (closing all connections). Derived classes whose members the
  // handlers reference (the TLS context) call it from their own destructor,
  // before those members go.
  void Stop() override {
    if (io_ == nullptr) return;
    io_->stop();
    if (thread_.joinable()) thread_.join();
    acceptor_.reset();
    io_.reset();
  }

 protected:
  AsioListener()
      : io_(std::make_unique<asio::io_context>()),
        acceptor_(std::make_unique<tcp::acceptor>(*io_)) {}
  ~AsioListener() override { Stop(); }

  // Binds, writes `port_file` (if any), starts accepting on a new thread.
  bool Listen(const std::string& address, int port,
              const std::string& port_file, std::string* error) {
    if (!Bind(*io_, acceptor_.get(), address, port, error)) return false;
    port_ = acceptor_->local_endpoint().port();
    if (!port_file.empty() && !WritePortFile(port_file, port_, error)) {
      return false;
    }
    Accept();
    thread_ = std::thread([this] { io_->run(); });
    return true;
  }

  // Called on the io thread for each accepted connection.
  virtual void OnAccepted(tcp::socket socket) = 0;

 private:
  void Accept() {
    acceptor_->async_accept([this](error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      if (!ec) OnAccepted(std::move(socket));
      Accept();
    });
  }

  std::unique_ptr<asio::io_context> io_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::thread thread_;
  int port_ = 0;
};

// ------------------------------------------------------------------ MLLP

class MllpSession : public std::enable_shared_from_this<MllpSession> {
 public:
  MllpSession(tcp::socket socket, Ingestor* ingestor, size_t max_bytes,
              std::chrono::milliseconds idle)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        ingestor_(ingestor),
        deframer_(max_bytes),
        idle_(idle) {}

  void Start() { Read(); }

 private:
  void Read() {
    timer_.expires_after(idle_);
    auto self = shared_from_this();
    timer_.async_wait([self](error_code ec) {
      if (!ec) self->socket_.close(ec);
    });
    socket_.async_read_some(asio::buffer(buf_), [self](error_code ec,
                                                       size_t n) {
      self->timer_.cancel();
      if (ec) return;
      std::vector<std::string> messages;
      if (!self->deframer_.Feed(std::string_view(self->buf_.data(), n),
                                &messages)) {
        error_code ignored;
        self->socket_.close(ignored);  // oversized frame
        return;
      }
      std::string out;
      for (const std::string& m : messages) {
        out += hl7::MllpFrame(self->ingestor_->IngestHl7Message(m, nullptr));
      }
      if (out.empty()) {
        self->Read();
        return;
      }
      self->pending_ = std::move(out);
      asio::async_write(self->socket_, asio::buffer(self->pending_),
                        [self](error_code ec, size_t) {
                          if (!ec) self->Read();
                        });
    });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  Ingestor* ingestor_;
  hl7::MllpDeframer deframer_;
  std::chrono::milliseconds idle_;
  std::array<char, 16384> buf_{};
  std::string pending_;
};

class MllpServer : public AsioListener {
 public:
  MllpServer(const MllpListener& config, Ingestor* ingestor)
      : config_(config), ingestor_(ingestor) {}
  ~MllpServer() override { Stop(); }

  bool Start(std::string* error) {
    return Listen(config_.listen_address(), config_.port(), config_.port_file(),
                  error);
  }

 private:
  void OnAccepted(tcp::socket socket) override {
    const int64_t max = config_.max_message_bytes() > 0
                            ? config_.max_message_bytes()
                            : int64_t{1} << 20;
    const int idle =
        config_.idle_timeout_ms() > 0 ? config_.idle_timeout_ms() : 300000;
    std::make_shared<MllpSession>(std::move(socket), ingestor_,
                                  static_cast<size_t>(max),
                                  std::chrono::milliseconds(idle))
        ->Start();
  }

  const MllpListener config_;
  Ingestor* ingestor_;
};

// ----------------------------------------------------------------- HTTPS

class HttpsSession : public std::enable_shared_from_this<HttpsSession> {
 public:
  HttpsSession(tcp::socket socket, ssl::context& ctx, Ingestor* ingestor,
               uint64_t max_body)
      : stream_(std::move(socket), ctx),
        ingestor_(ingestor),
        max_body_(max_body) {}

  void Start() {
    beast::get_lowest_layer(stream_).expires_after(kHttpTimeout);
    auto self = shared_from_this();
    stream_.async_handshake(ssl::stream_base::server, [self](error_code ec) {
      if (!ec) self->Read();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(max_body_);
    beast::get_lowest_layer(stream_).expires_after(kHttpTimeout);
    auto self = shared_from_this();
    http::async_read(stream_, buffer_, *parser_, [self](error_code ec, size_t) {
      if (ec == http::error::body_limit) {
        self->Respond(
            413,
            R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"too-costly","diagnostics":"body_too_large: the body exceeds max_body_bytes"}]})",
            false);
        return;
      }
      if (ec) return;
      self->Handle(self->parser_->release());
    });
  }

  void Handle(http::request<http::string_body> req) {
    const bool keep = req.keep_alive();
    auto outcome = [](const char* code, const std::string& diag) {
      return std::string(
                 R"({"resourceType":"OperationOutcome","issue":[{"severity":"error","code":")") +
             code + R"(","diagnostics":")" + diag + "\"}]}";
    };
    if (req.method() != http::verb::post && req.method() != http::verb::put) {
      Respond(405,
              outcome("not-supported",
                      "method_not_allowed: POST or PUT a Patient or Bundle"),
              keep);
      return;
    }
    const std::string ctype(req[http::field::content_type]);
    if (ctype.find("json") == std::string::npos) {
      Respond(
          415,
          outcome("not-supported", "media_type: send application/fhir+json"),
          keep);
      return;
    }
    const Ingestor::HttpAnswer a = ingestor_->IngestFhirHttp(req.body());
    Respond(a.status, a.body, keep);
  }

  void Respond(int status, std::string body, bool keep) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(status), 11);
    res->set(http::field::server, "ehx-health");
    res->set(http::field::content_type, "application/fhir+json");
    res->keep_alive(keep);
    res->body() = std::move(body);
    res->prepare_payload();
    auto self = shared_from_this();
    http::async_write(stream_, *res, [self, res](error_code ec, size_t) {
      if (ec) return;
      if (res->keep_alive()) {
        self->Read();
      } else {
        self->stream_.async_shutdown([self](error_code) {});
      }
    });
  }

  beast::ssl_stream<beast::tcp_stream> stream_;
  Ingestor* ingestor_;
  uint64_t max_body_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
};

class HttpsServer : public AsioListener {
 public:
  HttpsServer(const HttpsListener& config, Ingestor* ingestor)
      : config_(config), ingestor_(ingestor), ctx_(ssl::context::tls_server) {}
  // Stops before ctx_ goes: pending sessions reference it.
  ~HttpsServer() override { Stop(); }

  bool Start(std::string* error) {
    error_code ec;
    ctx_.set_options(ssl::context::default_workarounds |
                         ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                         ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    if (config_.cert_file().empty() || config_.key_file().empty()) {
      *error = "https.cert_file and https.key_file are required";
      return false;
    }
    ctx_.use_certificate_chain_file(config_.cert_file(), ec);
    if (ec) {
      *error = "https.cert_file cannot be loaded: " + ec.message();
      return false;
    }
    ctx_.use_private_key_file(config_.key_file(), ssl::context::pem, ec);
    if (ec) {
      *error = "https.key_file cannot be loaded: " + ec.message();
      return false;
    }
    if (config_.require_client_cert()) {
      if (config_.client_ca_file().empty()) {
        *error = "https.client_ca_file is required with require_client_cert";
        return false;
      }
      ctx_.load_verify_file(config_.client_ca_file(), ec);
      if (ec) {
        *error = "https.client_ca_file cannot be loaded: " + ec.message();
        return false;
      }
      ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert,
                           ec);
    }
    return Listen(config_.listen_address(), config_.port(), config_.port_file(),
                  error);
  }

 private:
  void OnAccepted(tcp::socket socket) override {
    const uint64_t max = config_.max_body_bytes() > 0
                             ? static_cast<uint64_t>(config_.max_body_bytes())
                             : uint64_t{8} << 20;
    std::make_shared<HttpsSession>(std::move(socket), ctx_, ingestor_, max)
        ->Start();
  }

  const HttpsListener config_;
  Ingestor* ingestor_;
  ssl::context ctx_;  // sessions reference it: the destructor stops first
};

}  // namespace

bool WritePortFile(const std::string& path, int port, std::string* error) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) {
      *error = "cannot write port_file";
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write port_file";
    return false;
  }
  return true;
}

std::unique_ptr<Server> StartMllpServer(const MllpListener& config,
                                        Ingestor* ingestor,
                                        std::string* error) {
  auto s = std::make_unique<MllpServer>(config, ingestor);
  if (!s->Start(error)) return nullptr;
  return s;
}

std::unique_ptr<Server> StartHttpsServer(const HttpsListener& config,
                                         Ingestor* ingestor,
                                         std::string* error) {
  auto s = std::make_unique<HttpsServer>(config, ingestor);
  if (!s->Start(error)) return nullptr;
  return s;
}

int PostJson(const std::string& url, const std::string& body,
             const std::string& ca_file, std::string* error) {
  // url = scheme://host[:port]/target
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0) {
    *error = "communication_url must be http:// or https://";
    return -1;
  }
  std::string rest = url.substr(tls ? 8 : 7);
  const size_t slash = rest.find('/');
  const std::string target =
      slash == std::string::npos ? "/" : rest.substr(slash);
  std::string hostport = rest.substr(0, slash);
  std::string host = hostport;
  std::string port = tls ? "443" : "80";
  const size_t colon = hostport.rfind(':');
  if (colon != std::string::npos && hostport.find(']') == std::string::npos) {
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  asio::io_context io;
  error_code ec;
  tcp::resolver resolver(io);
  const auto results = resolver.resolve(host, port, ec);
  if (ec) {
    *error = "cannot resolve communication_url host";
    return -1;
  }
  http::request<http::string_body> req(http::verb::post, target, 11);
  req.set(http::field::host, host);
  req.set(http::field::content_type, "application/fhir+json");
  req.body() = body;
  req.prepare_payload();
  http::response<http::string_body> res;
  beast::flat_buffer buffer;
  if (tls) {
    ssl::context ctx(ssl::context::tls_client);
    if (ca_file.empty()) {
      ctx.set_default_verify_paths(ec);
    } else {
      ctx.load_verify_file(ca_file, ec);
    }
    ctx.set_verify_mode(ssl::verify_peer, ec);
    beast::ssl_stream<beast::tcp_stream> stream(io, ctx);
    SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    stream.set_verify_callback(ssl::host_name_verification(host), ec);
    beast::get_lowest_layer(stream).expires_after(kHttpTimeout);
    beast::get_lowest_layer(stream).connect(results, ec);
    if (!ec) stream.handshake(ssl::stream_base::client, ec);
    if (!ec) http::write(stream, req, ec);
    if (!ec) http::read(stream, buffer, res, ec);
    if (ec) {
      *error = "communication_url request failed: " + ec.message();
      return -1;
    }
    stream.shutdown(ec);
  } else {
    beast::tcp_stream stream(io);
    stream.expires_after(kHttpTimeout);
    stream.connect(results, ec);
    if (!ec) http::write(stream, req, ec);
    if (!ec) http::read(stream, buffer, res, ec);
    if (ec) {
      *error = "communication_url request failed: " + ec.message();
      return -1;
    }
  }
  return static_cast<int>(res.result_int());
}

}  // namespace ehx::adapters::health
