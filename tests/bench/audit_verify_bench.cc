// Audit verification benchmark (issue 4, section 3): generates an audit
// chain of --records records (with a signed checkpoint every 1000) into a
// fresh store, then times audit::VerifyDatabase (what `ehxctl audit verify`
// runs) against a baseline measured in the same run on the same rows:
// reading every record from SQLite and hashing its bytes with SHA-256.
//
// Prints audit_verify_records_per_s=<x> (target >= 100000) and
// audit_verify_vs_read_sha256_ratio=<x>.
#include <openssl/sha.h>
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "CLI/CLI.hpp"
#include "audit/audit_log.h"
#include "common/ids.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a)
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ehx audit verification benchmark"};
  int64_t records = 200000;
  int rounds = 3;
  app.add_option("--records", records, "Audit records to generate");
  app.add_option("--rounds", rounds, "Timed rounds (best is reported)");
  CLI11_PARSE(app, argc, argv);

  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() /
                       ("ehx-audit-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "audit.db").string();
  {
    ehx::store::StoreOptions opts;
    auto store = ehx::store::SqliteStore::Open(db, opts);
    if (!store.ok()) {
      std::fprintf(stderr, "%s\n",
                   std::string(store.status().message()).c_str());
      return 1;
    }
    auto key = ehx::audit::SigningKey::LoadOrCreate(
        (dir / "audit-key.pem").string(), true);
    if (!key.ok()) return 1;
    ehx::audit::AuditLog log(
        std::shared_ptr<const ehx::audit::SigningKey>(std::move(*key)), 1000);
    absl::Status st = (*store)->WriteNow(
        [](ehx::store::Txn& t) { return ehx::audit::EnsureSchema(t); });
    const auto gen = std::chrono::steady_clock::now();
    for (int64_t done = 0; st.ok() && done < records;) {
      st = (*store)->WriteNow([&](ehx::store::Txn& t) -> absl::Status {
        for (int i = 0; i < 10000 && done < records; ++i, ++done) {
          ehx::audit::v1::AuditRecord r;
          r.set_at_ms(1780000000000 + done);
          r.set_actor(done % 3 ? "early-help" : "ehx-gateway");
          r.set_action(done % 3 ? "share" : "accept");
          r.set_message_id(ehx::NewMessageId());
          r.set_case_pseudo(ehx::Pseudonym("EH-" + std::to_string(done % 997)));
          r.set_reason(
              "to=school-oakfield record=RECORD_TYPE_CAF_NOTIFICATION "
              "basis=SHARING_BASIS_CONSENT_IN_SCOPE party=yes "
              "rule=caf-to-parties policy=2026-01-default-1");
          absl::Status a = log.Append(t, std::move(r));
          if (!a.ok()) return a;
        }
        return absl::OkStatus();
      });
    }
    if (st.ok()) {
      st = (*store)->WriteNow(
          [&](ehx::store::Txn& t) { return log.Checkpoint(t, 0); });
    }
    if (!st.ok()) {
      std::fprintf(stderr, "generate: %s\n", std::string(st.message()).c_str());
      return 1;
    }
    std::printf("generated %lld records in %.2f s\n",
                static_cast<long long>(records), Seconds(gen));
    (*store)->Close();
  }
  std::ifstream in(dir / "audit-key.pem.pub");
  std::stringstream pub;
  pub << in.rdbuf();

  double best_verify = 1e18, best_base = 1e18;
  for (int round = 0; round < rounds; ++round) {
    // Baseline: the same rows read from SQLite and hashed with SHA-256.
    auto t0 = std::chrono::steady_clock::now();
    sqlite3* h = nullptr;
    sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(h, "SELECT seq, record FROM audit_log ORDER BY seq", -1,
                       &s, nullptr);
    unsigned char md[32];
    unsigned acc = 0;
    int64_t n = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
      SHA256(static_cast<const unsigned char*>(sqlite3_column_blob(s, 1)),
             sqlite3_column_bytes(s, 1), md);
      acc += md[0];
      ++n;
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    best_base = std::min(best_base, Seconds(t0));
    if (n != records || acc == 0xffffffffu) return 1;

    t0 = std::chrono::steady_clock::now();
    auto r = ehx::audit::VerifyDatabase(db, pub.str());
    const double secs = Seconds(t0);
    if (!r.ok() || !r->ok || r->records != records) {
      std::fprintf(stderr, "verify failed: %s\n",
                   r.ok() ? r->problem.c_str()
                          : std::string(r.status().message()).c_str());
      return 1;
    }
    best_verify = std::min(best_verify, secs);
  }
  fs::remove_all(dir);
  const double rate = records / best_verify;
  std::printf(
      "audit verify: %lld records, best of %d: %.3f s; baseline "
      "(read + SHA-256 of each record): %.3f s\n",
      static_cast<long long>(records), rounds, best_verify, best_base);
  std::printf("audit_verify_records_per_s=%.0f\n", rate);
  std::printf("audit_verify_vs_read_sha256_ratio=%.3f\n",
              best_base / best_verify);
  std::printf("audit_verify_target_100k=%s\n",
              rate >= 100000 ? "met" : "MISSED");
  return 0;
}
