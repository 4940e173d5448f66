// Crash safety: a publisher counts acks while the gateway is SIGKILLed and
// restarted; every acked message must then be delivered to every routed
// recipient, and duplicates may only be redeliveries of the same id.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "gateway_harness.h"

namespace ehx::testing {
namespace {

using ehx::exchange::v1::Envelope;

TEST(CrashSafetyTest, AckedMessagesSurviveSigkillRestarts) {
  TempDir dir;
  GatewayProcess gw(dir.path(), DemoAgenciesAndRoutes());
  ASSERT_TRUE(gw.Start()) << gw.log();
  const Envelope templ =
      LoadEnvelope(DemoMessages() / "02-caf-notification.json");

  std::mutex mu;
  std::map<std::string, std::string> acked;  // idempotency key -> message id
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto publisher = [&](int id) {
    int n = 0;
    while (!stop) {
      Envelope e = templ;
      const std::string key =
          "crash-" + std::to_string(id) + "-" + std::to_string(n);
      e.set_idempotency_key(key);
      e.set_case_ref("EH-CR-" + std::to_string(n % 7));
      ehx::exchange::v1::PublishRequest req;
      *req.mutable_envelope() = e;
      // Retry the same key until acked: the gateway must dedupe.
      while (!stop) {
        auto stub = gw.Exchange("early-help");
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::milliseconds(1500));
        ehx::exchange::v1::PublishReceipt r;
        grpc::Status st = stub->Publish(&ctx, req, &r);
        if (st.ok()) {
          std::lock_guard<std::mutex> l(mu);
          auto [it, fresh] = acked.emplace(key, r.message_id());
          if (!fresh) {
            EXPECT_EQ(it->second, r.message_id());
          }
          break;
        }
        ++failures;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ++n;
    }
  };
  std::vector<std::thread> pubs;
  for (int i = 0; i < 4; ++i) pubs.emplace_back(publisher, i);
  std::mt19937 rng(42);
  size_t before_kill = 0;
  for (int kill = 0; kill < 5; ++kill) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(400 + static_cast<int>(rng() % 600)));
    {
      std::lock_guard<std::mutex> l(mu);
      before_kill = acked.size();
    }
    gw.Kill();
    ASSERT_TRUE(gw.Start()) << gw.log();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  for (auto& t : pubs) t.join();
  ASSERT_GT(before_kill, 20u) << "publisher made too little progress";

  std::set<std::string> acked_ids;
  for (const auto& [k, id] : acked) acked_ids.insert(id);
  for (const char* agency : {"school-oakfield", "health-visiting"}) {
    std::set<std::string> delivered;
    // Idempotency key -> every message id delivered under it, and how many
    // deliveries each message id took.
    std::map<std::string, std::set<std::string>> ids_by_key;
    std::map<std::string, int> deliveries_by_id;
    auto stub = gw.Exchange(agency);
    for (int round = 0; round < 10000; ++round) {
      ehx::exchange::v1::FetchRequest fr;
      fr.set_max_messages(500);
      ehx::exchange::v1::FetchResponse resp;
      grpc::ClientContext ctx;
      ASSERT_TRUE(stub->Fetch(&ctx, fr, &resp).ok());
      if (resp.deliveries().empty()) break;
      ehx::exchange::v1::AckRequest a;
      for (const auto& d : resp.deliveries()) {
        delivered.insert(d.envelope().message_id());
        ids_by_key[d.envelope().idempotency_key()].insert(
            d.envelope().message_id());
        ++deliveries_by_id[d.envelope().message_id()];
        auto* i = a.add_items();
        i->set_delivery_id(d.delivery_id());
        i->set_ok(true);
      }
      ehx::exchange::v1::AckResponse ar;
      grpc::ClientContext actx;
      ASSERT_TRUE(stub->Ack(&actx, a, &ar).ok());
    }
    size_t missing = 0;
    for (const auto& id : acked_ids) missing += delivered.count(id) ? 0 : 1;
    EXPECT_EQ(missing, 0u) << agency << ": acked but never delivered";
    // Anything delivered beyond the acked set was committed but its ack was
    // lost in a kill: allowed (at-least-once), and each is one message id.
    EXPECT_GE(delivered.size(), acked_ids.size());
    // Duplicates are only redeliveries of the same message id: a key that
    // was retried across a kill never became a second message.
    int redelivered = 0;
    for (const auto& [key, ids] : ids_by_key) {
      EXPECT_EQ(ids.size(), 1u) << agency << ": key " << key << " delivered as "
                                << ids.size() << " different messages";
      EXPECT_EQ(key.rfind("crash-", 0), 0u) << agency << ": unknown key";
      auto it = acked.find(key);
      if (it != acked.end()) {
        EXPECT_EQ(ids.count(it->second), 1u)
            << agency << ": key " << key << " delivered under another id";
      }
    }
    for (const auto& [id, n] : deliveries_by_id) redelivered += n - 1;
    std::printf("crash safety: %s received %zu messages, %d redeliveries\n",
                agency, delivered.size(), redelivered);
  }
  std::printf(
      "crash safety: %zu acked messages, %d failed attempts, 5 SIGKILLs\n",
      acked_ids.size(), failures.load());
}

}  // namespace
}  // namespace ehx::testing
