// Canary at rest (issue 4, section 4): distinctive names and NHS numbers
// sent through the real gateway must not appear in the bytes of any file
// the gateway keeps (the SQLite database, its -wal and -shm files, keys),
// whether queued, delivered and acknowledged, or dead-lettered; checked
// while the gateway runs (WAL full) and after it stopped (checkpointed).
// Controls: plaintext we know is stored (agency ids) is found by the same
// search, and with encryption disabled the canaries are found too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "canary_util.h"
#include "gateway_harness.h"

namespace ehx::testing {
namespace {

namespace fs = std::filesystem;
using ehx::exchange::v1::Envelope;

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Every regular file under `dir`, by name.
std::map<std::string, std::string> Snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[fs::relative(entry.path(), dir).string()] = ss.str();
  }
  return out;
}

struct Canaries {
  std::vector<std::string> names;
  std::vector<std::string> numbers;
};

// Publishes `n` CAF notifications from early help, each naming one child
// with a canary name and NHS number.
Canaries Seed(GatewayProcess& gw, int n) {
  const Envelope templ =
      LoadEnvelope(DemoMessages() / "02-caf-notification.json");
  const std::vector<std::string> nhs = ValidNhsNumbers(n);
  Canaries c;
  auto stub = gw.Exchange("early-help");
  for (int i = 0; i < n; ++i) {
    Envelope e = templ;
    e.set_idempotency_key("rest-" + std::to_string(i));
    e.set_case_ref("EH-REST-" + std::to_string(i % 13));
    auto* child = e.mutable_caf_notification()->mutable_children(0);
    child->mutable_legal_name()->set_given(CanaryGiven(i));
    child->mutable_legal_name()->set_family(CanaryFamily(i));
    c.names.push_back(CanaryGiven(i));
    c.names.push_back(CanaryFamily(i));
    for (auto& id : *child->mutable_identifiers()) {
      if (id.system() == "https://fhir.nhs.uk/Id/nhs-number") {
        id.set_value(nhs[i]);
      }
    }
    c.numbers.push_back(nhs[i]);
    ehx::exchange::v1::PublishRequest req;
    *req.mutable_envelope() = e;
    ehx::exchange::v1::PublishReceipt r;
    grpc::ClientContext ctx;
    grpc::Status st = stub->Publish(&ctx, req, &r);
    EXPECT_TRUE(st.ok()) << i << ": " << st.error_message();
    EXPECT_FALSE(r.recipients().empty()) << i;
  }
  return c;
}

// The school fetches everything it can; acks all but one, which it
// rejects permanently (a dead letter and a non-delivery notice). Health
// visiting fetches nothing: its deliveries stay queued.
void DeliverToSchool(GatewayProcess& gw, int* acked, int* dead) {
  auto school = gw.Exchange("school-oakfield");
  ASSERT_TRUE(
      DrainMailbox(*school, [&](const auto&, ehx::exchange::v1::AckItem* item) {
        if (*dead == 0) {
          item->set_ok(false);
          item->set_permanent(true);
          ++*dead;
        } else {
          ++*acked;
        }
      }));
}

// Counts (file, canary) hits; names are also searched case-insensitively.
int CountHits(const std::map<std::string, std::string>& files,
              const Canaries& c, std::vector<std::string>* where) {
  int hits = 0;
  for (const auto& [name, bytes] : files) {
    const std::string lower = Lower(bytes);
    for (const auto& n : c.names) {
      if (bytes.find(n) != std::string::npos ||
          lower.find(Lower(n)) != std::string::npos) {
        ++hits;
        if (where->size() < 5) where->push_back(name);
      }
    }
    for (const auto& n : c.numbers) {
      if (bytes.find(n) != std::string::npos) {
        ++hits;
        if (where->size() < 5) where->push_back(name);
      }
    }
  }
  return hits;
}

bool Contains(const std::map<std::string, std::string>& files,
              const std::string& needle) {
  for (const auto& [name, bytes] : files) {
    if (bytes.find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(CanaryAtRestTest, NoCanaryInDatabaseWalOrKeyFiles) {
  TempDir dir;
  GatewayProcess gw(dir.path(), DemoAgenciesAndRoutes());
  ASSERT_TRUE(gw.Start()) << gw.log();
  const Canaries c = Seed(gw, 220);
  ASSERT_EQ(c.numbers.size(), 220u);
  int acked = 0, dead = 0;
  DeliverToSchool(gw, &acked, &dead);
  EXPECT_EQ(dead, 1);
  EXPECT_GT(acked, 100);

  // While running: the WAL holds recent pages.
  const auto running = Snapshot(dir.path());
  ASSERT_TRUE(running.count("ehx.db")) << "no database file";
  ASSERT_TRUE(running.count("ehx.db.data-key")) << "no generated data key";
  ASSERT_TRUE(running.count("ehx.db-wal")) << "no WAL while running";
  EXPECT_GT(running.at("ehx.db-wal").size(), 0u);
  std::vector<std::string> where;
  EXPECT_EQ(CountHits(running, c, &where), 0)
      << "canary found in " << (where.empty() ? "" : where[0]);
  // Control: plaintext columns are found by the same search.
  EXPECT_TRUE(Contains(running, "health-visiting"));

  ASSERT_EQ(gw.Stop(), 0);
  const auto stopped = Snapshot(dir.path());
  where.clear();
  EXPECT_EQ(CountHits(stopped, c, &where), 0)
      << "canary found in " << (where.empty() ? "" : where[0]);
  ASSERT_TRUE(stopped.count("ehx.db"));
  EXPECT_NE(stopped.at("ehx.db").find("school-oakfield"), std::string::npos)
      << "control: the recipient column (plaintext) must be found";
  EXPECT_NE(stopped.at("ehx.db").find("EH-REST-7"), std::string::npos)
      << "control: case references are stored in plaintext";
  std::printf(
      "canary at rest: %zu names, %zu NHS numbers, %zu files, %d acked, %d "
      "dead\n",
      c.names.size(), c.numbers.size(), stopped.size(), acked, dead);
}

// The control that proves the search can fail: with encryption disabled
// the same canaries are in the files.
TEST(CanaryAtRestTest, ControlCanariesFoundWhenEncryptionDisabled) {
  TempDir dir;
  GatewayProcess gw(dir.path(), DemoAgenciesAndRoutes());
  gw.set_store_extra("encryption: {disabled: true}");
  ASSERT_TRUE(gw.Start()) << gw.log();
  const Canaries c = Seed(gw, 10);
  ASSERT_EQ(gw.Stop(), 0);
  const auto files = Snapshot(dir.path());
  std::vector<std::string> where;
  EXPECT_GE(CountHits(files, c, &where), 10);
  EXPECT_NE(gw.log().find("encryption: DISABLED"), std::string::npos);
}

}  // namespace
}  // namespace ehx::testing
