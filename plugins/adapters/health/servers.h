// The adapter's two listeners, each on its own Boost.Asio io_context and
// thread: FHIR over HTTPS (Boost.Beast + OpenSSL) and HL7 v2 over MLLP.
// Both hand every input to the Ingestor (which serialises work) and answer
// on the same connection. Start() binds (port 0 allowed; the bound port is
// written to the configured port file); Stop() closes the acceptor and all
// connections and joins the thread. Not copyable; Stop() is idempotent.
#ifndef EHX_ADAPTERS_HEALTH_SERVERS_H_
#define EHX_ADAPTERS_HEALTH_SERVERS_H_

#include <memory>
#include <string>

#include "ingestor.h"

namespace ehx::adapters::health {

using HttpsListener = ::ehxpb::adapters::health::v1::HttpsListener;
using MllpListener = ::ehxpb::adapters::health::v1::MllpListener;

class Server {
 public:
  virtual ~Server() = default;
  virtual int port() const = 0;
  virtual void Stop() = 0;
};

// nullptr and `error` (no secrets) when the listener cannot start.
std::unique_ptr<Server> StartMllpServer(const MllpListener& config,
                                        Ingestor* ingestor, std::string* error);
std::unique_ptr<Server> StartHttpsServer(const HttpsListener& config,
                                         Ingestor* ingestor,
                                         std::string* error);

// Writes "<port>\n" to `path` atomically (temp file + rename).
bool WritePortFile(const std::string& path, int port, std::string* error);

// POSTs `body` to an http:// or https:// URL (Communication delivery).
// `ca_file` verifies https servers ("" = system store). Returns the HTTP
// status, or -1 with `error` on a transport failure. Bounded by a 30 s
// timeout.
int PostJson(const std::string& url, const std::string& body,
             const std::string& ca_file, std::string* error);

}  // namespace ehx::adapters::health

#endif  // EHX_ADAPTERS_HEALTH_SERVERS_H_
