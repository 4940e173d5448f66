// ehxctl audit verify: offline check of the audit chain and its signed
// checkpoints in a gateway's SQLite store (no gateway needed).
#include <fstream>
#include <iostream>
#include <sstream>

#include "audit/audit_log.h"
#include "gateway/tools/ehxctl/commands.h"

namespace ehx::ctl {

int AuditVerify(const AuditVerifyOptions& options) {
  std::string key_path = options.public_key;
  if (key_path.empty()) key_path = options.db + ".audit-key.pem.pub";
  std::ifstream in(key_path);
  if (!in) {
    std::cerr << "ehxctl: audit verify: cannot read public key " << key_path
              << " (give --public-key)\n";
    return kExitUsage;
  }
  std::stringstream pem;
  pem << in.rdbuf();
  auto r = audit::VerifyDatabase(options.db, pem.str());
  if (!r.ok()) {
    std::cerr << "ehxctl: audit verify: " << r.status().message() << "\n";
    return kExitUsage;
  }
  std::cout << "records=" << r->records << " checkpoints=" << r->checkpoints
            << "\n";
  if (!r->ok) {
    std::cout << "FAILED: first bad record seq=" << r->first_bad_seq << ": "
              << r->problem << "\n";
    return kExitFailure;
  }
  std::cout << "OK: chain intact, every checkpoint signature valid\n";
  return kExitOk;
}

}  // namespace ehx::ctl
