// End-to-end tests of the real ehx-gateway binary over mTLS.
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "common/status_util.h"
#include "ehx/audit/v1/audit.pb.h"
#include "gateway_harness.h"

namespace ehx::testing {
namespace {

namespace fs = std::filesystem;
using ehx::exchange::v1::AckRequest;
using ehx::exchange::v1::AckResponse;
using ehx::exchange::v1::Delivery;
using ehx::exchange::v1::Envelope;
using ehx::exchange::v1::FetchRequest;
using ehx::exchange::v1::FetchResponse;
using ehx::exchange::v1::PublishReceipt;
using ehx::exchange::v1::PublishRequest;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return c;
}

grpc::Status Publish(const GatewayProcess& gw, const std::string& agency,
                     const Envelope& env, PublishReceipt* receipt) {
  PublishRequest req;
  *req.mutable_envelope() = env;
  auto ctx = Ctx();
  return gw.Exchange(agency)->Publish(ctx.get(), req, receipt);
}

std::vector<Delivery> FetchAll(const GatewayProcess& gw,
                               const std::string& agency, bool ack,
                               int max = 100) {
  auto stub = gw.Exchange(agency);
  FetchRequest req;
  req.set_max_messages(max);
  FetchResponse resp;
  auto ctx = Ctx();
  grpc::Status st = stub->Fetch(ctx.get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  std::vector<Delivery> out(resp.deliveries().begin(), resp.deliveries().end());
  if (ack && !out.empty()) {
    AckRequest a;
    for (const auto& d : out) {
      auto* i = a.add_items();
      i->set_delivery_id(d.delivery_id());
      i->set_ok(true);
    }
    AckResponse ar;
    auto actx = Ctx();
    EXPECT_TRUE(stub->Ack(actx.get(), a, &ar).ok());
    EXPECT_EQ(ar.applied(), static_cast<int>(out.size()));
  }
  return out;
}

// Fetches and acks until the mailbox has nothing due (one per case is in
// flight at a time, so a case's messages come over several fetches).
std::vector<Delivery> Drain(const GatewayProcess& gw,
                            const std::string& agency) {
  std::vector<Delivery> out;
  for (int i = 0; i < 100; ++i) {
    auto batch = FetchAll(gw, agency, true);
    if (batch.empty()) break;
    out.insert(out.end(), batch.begin(), batch.end());
  }
  return out;
}

Envelope Caf(const std::string& key, const std::string& case_ref) {
  Envelope e = LoadEnvelope(DemoMessages() / "02-caf-notification.json");
  e.set_idempotency_key(key);
  e.set_case_ref(case_ref);
  return e;
}

class GatewayTest : public ::testing::Test {
 protected:
  void StartWith(const std::string& extra) {
    gw_ = std::make_unique<GatewayProcess>(dir_.path(),
                                           DemoAgenciesAndRoutes() + extra);
    ASSERT_TRUE(gw_->Start()) << gw_->log();
  }
  TempDir dir_;
  std::unique_ptr<GatewayProcess> gw_;
};

// The quick-start story: CAF to school and health, step-up to the front
// door, decision back to the referrer, step-down to early help.
TEST_F(GatewayTest, FourFlowsOverMutualTls) {
  StartWith("");
  PublishReceipt r;
  auto opened = LoadEnvelope(DemoMessages() / "01-case-opened.json");
  ASSERT_TRUE(Publish(*gw_, "early-help", opened, &r).ok());
  auto caf = LoadEnvelope(DemoMessages() / "02-caf-notification.json");
  grpc::Status st = Publish(*gw_, "early-help", caf, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(std::set<std::string>(r.recipients().begin(), r.recipients().end()),
            (std::set<std::string>{"health-visiting", "school-oakfield"}));
  for (const char* agency : {"school-oakfield", "health-visiting"}) {
    auto got = Drain(*gw_, agency);
    ASSERT_EQ(got.size(), 2u) << agency;  // case opened + CAF
    EXPECT_EQ(got[1].envelope().message_id(), r.message_id());
    EXPECT_EQ(got[1].envelope().sender_agency(), "early-help");
  }
  auto referral = LoadEnvelope(DemoMessages() / "03-step-up-referral.json");
  ASSERT_TRUE(Publish(*gw_, "early-help", referral, &r).ok());
  EXPECT_EQ(
      std::vector<std::string>(r.recipients().begin(), r.recipients().end()),
      std::vector<std::string>{"csc-front-door"});
  auto at_door = FetchAll(*gw_, "csc-front-door", true);
  ASSERT_EQ(at_door.size(), 1u);
  EXPECT_TRUE(at_door[0].envelope().has_step_up_referral());

  auto outcome = LoadEnvelope(DemoMessages() / "04-referral-outcome.json");
  st = Publish(*gw_, "csc-front-door", outcome, &r);
  ASSERT_TRUE(st.ok()) << st.error_message();
  auto back = FetchAll(*gw_, "early-help", true);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0].envelope().has_referral_outcome());

  auto step_down = LoadEnvelope(DemoMessages() / "05-step-down.json");
  ASSERT_TRUE(Publish(*gw_, "csc-front-door", step_down, &r).ok());
  auto eh = FetchAll(*gw_, "early-help", true);
  ASSERT_EQ(eh.size(), 1u);
  EXPECT_TRUE(eh[0].envelope().has_step_down());

  // The shared record links the referral to its decision.
  ehx::exchange::v1::GetCaseRecordRequest cr;
  cr.set_case_ref(caf.case_ref());
  ehx::record::v1::CaseRecord rec;
  auto ctx = Ctx();
  ASSERT_TRUE(gw_->Admin()->GetCaseRecord(ctx.get(), cr, &rec).ok());
  ASSERT_EQ(rec.referrals_size(), 1);
  EXPECT_EQ(rec.referrals(0).referrer_agency(), "early-help");
  EXPECT_EQ(rec.referrals(0).decided_by_agency(), "csc-front-door");
  EXPECT_NE(rec.referrals(0).decision(), 0);
  EXPECT_EQ(rec.event_count(), 5);
}

// Server reflection (grpc.reflection.v1alpha, what grpcurl and similar
// tools use) is served: it lists the services and returns the descriptor of
// the file declaring ehx.exchange.v1.Exchange. Debian ships no reflection
// .proto, so the few fields used are encoded here by hand (field numbers
// from the public reflection.proto: request list_services = 7,
// file_containing_symbol = 4; response file_descriptor_response = 4 {
// repeated bytes file_descriptor_proto = 1 }, list_services_response = 6 {
// repeated ServiceResponse service = 1 { string name = 1 } }).
TEST_F(GatewayTest, ServerReflectionListsServicesAndDescribesExchange) {
  StartWith("");
  grpc::GenericStub stub(gw_->Channel("early-help"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &ctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      &cq);
  auto wait = [&cq](intptr_t want) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok && reinterpret_cast<intptr_t>(tag) == want;
  };
  auto bytes = [](const std::string& s) {
    grpc::Slice slice(s);
    return grpc::ByteBuffer(&slice, 1);
  };
  auto text = [](const grpc::ByteBuffer& b) {
    std::vector<grpc::Slice> slices;
    std::string out;
    if (!b.Dump(&slices).ok()) return out;
    for (const auto& sl : slices) {
      out.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
    return out;
  };
  // One request, one response; returns the response's bytes ("" on error).
  intptr_t tag = 1;
  auto ask = [&](const std::string& request) -> std::string {
    grpc::ByteBuffer out = bytes(request);
    call->Write(out, reinterpret_cast<void*>(++tag));
    if (!wait(tag)) return "";
    grpc::ByteBuffer in;
    call->Read(&in, reinterpret_cast<void*>(++tag));
    if (!wait(tag)) return "";
    return text(in);
  };
  call->StartCall(reinterpret_cast<void*>(tag));
  ASSERT_TRUE(wait(tag));

  // list_services (field 7, a string whose content is ignored).
  google::protobuf::UnknownFieldSet listed;
  ASSERT_TRUE(listed.ParseFromString(ask(std::string("\x3a\x01*", 3))));
  std::set<std::string> services;
  for (int i = 0; i < listed.field_count(); ++i) {
    if (listed.field(i).number() != 6) continue;
    google::protobuf::UnknownFieldSet list;
    ASSERT_TRUE(list.ParseFromString(listed.field(i).length_delimited()));
    for (int j = 0; j < list.field_count(); ++j) {
      google::protobuf::UnknownFieldSet svc;
      ASSERT_TRUE(svc.ParseFromString(list.field(j).length_delimited()));
      ASSERT_GT(svc.field_count(), 0);
      services.insert(svc.field(0).length_delimited());
    }
  }
  EXPECT_TRUE(services.count("ehx.exchange.v1.Exchange")) << services.size();
  EXPECT_TRUE(services.count("grpc.health.v1.Health"));
  EXPECT_TRUE(services.count("grpc.reflection.v1alpha.ServerReflection"));

  // file_containing_symbol (field 4).
  const std::string symbol = "ehx.exchange.v1.Exchange";
  std::string req = "\x22";
  req.push_back(static_cast<char>(symbol.size()));
  req += symbol;
  google::protobuf::UnknownFieldSet described;
  ASSERT_TRUE(described.ParseFromString(ask(req)));
  bool found = false;
  for (int i = 0; i < described.field_count() && !found; ++i) {
    if (described.field(i).number() != 4) continue;
    google::protobuf::UnknownFieldSet files;
    ASSERT_TRUE(files.ParseFromString(described.field(i).length_delimited()));
    for (int j = 0; j < files.field_count() && !found; ++j) {
      google::protobuf::FileDescriptorProto fd;
      ASSERT_TRUE(fd.ParseFromString(files.field(j).length_delimited()));
      for (const auto& svc : fd.service()) {
        if (fd.package() + "." + svc.name() != symbol) continue;
        std::set<std::string> methods;
        for (const auto& m : svc.method()) methods.insert(m.name());
        EXPECT_TRUE(methods.count("Publish"));
        EXPECT_TRUE(methods.count("Subscribe"));
        found = true;
      }
    }
  }
  EXPECT_TRUE(found) << "no FileDescriptorProto declaring " << symbol;

  call->WritesDone(reinterpret_cast<void*>(++tag));
  ASSERT_TRUE(wait(tag));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(++tag));
  ASSERT_TRUE(wait(tag));
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(GatewayTest, PublishIsIdempotent) {
  StartWith("");
  PublishReceipt a, b, c;
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("k-1", "EH-1"), &a).ok());
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("k-1", "EH-1"), &b).ok());
  EXPECT_EQ(a.message_id(), b.message_id());
  EXPECT_FALSE(a.duplicate());
  EXPECT_TRUE(b.duplicate());
  grpc::Status st = Publish(*gw_, "early-help", Caf("k-1", "EH-2"), &c);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  // Only one delivery per recipient.
  EXPECT_EQ(FetchAll(*gw_, "school-oakfield", true).size(), 1u);
}

TEST_F(GatewayTest, OrderPerCaseAndOneInFlightPerCase) {
  StartWith("");
  std::map<std::string, std::vector<std::string>> sent;
  for (int i = 0; i < 30; ++i) {
    const std::string c = "EH-ORD-" + std::to_string(i % 3);
    PublishReceipt r;
    ASSERT_TRUE(
        Publish(*gw_, "early-help", Caf("o-" + std::to_string(i), c), &r).ok());
    sent[c].push_back(r.message_id());
  }
  std::map<std::string, std::vector<std::string>> got;
  for (int round = 0; round < 40; ++round) {
    auto batch = FetchAll(*gw_, "school-oakfield", false);
    std::set<std::string> cases;
    for (const auto& d : batch) {
      EXPECT_TRUE(cases.insert(d.envelope().case_ref()).second)
          << "two in flight for one case";
      got[d.envelope().case_ref()].push_back(d.envelope().message_id());
    }
    // Nothing more is due until these are acked.
    EXPECT_TRUE(FetchAll(*gw_, "school-oakfield", false).empty());
    auto stub = gw_->Exchange("school-oakfield");
    AckRequest a;
    for (const auto& d : batch) {
      auto* i = a.add_items();
      i->set_delivery_id(d.delivery_id());
      i->set_ok(true);
    }
    AckResponse ar;
    auto ctx = Ctx();
    ASSERT_TRUE(stub->Ack(ctx.get(), a, &ar).ok());
    if (batch.empty()) break;
  }
  EXPECT_EQ(got, sent);
}

TEST_F(GatewayTest, TtlExpiryDeadLettersAndTellsTheSender) {
  StartWith(R"(
delivery: {sweep_interval_ms: 100}
)");
  Envelope e = Caf("ttl-1", "EH-TTL");
  e.mutable_ttl()->set_seconds(1);
  PublishReceipt r;
  ASSERT_TRUE(Publish(*gw_, "early-help", e, &r).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  EXPECT_TRUE(FetchAll(*gw_, "school-oakfield", false).empty());
  // One notice per recipient; both are for one case, so they come one at
  // a time (order per case).
  std::vector<Delivery> notices;
  for (int i = 0; i < 5 && notices.size() < 2; ++i) {
    for (auto& d : FetchAll(*gw_, "early-help", true)) notices.push_back(d);
  }
  ASSERT_EQ(notices.size(), 2u);
  for (const auto& n : notices) {
    ASSERT_TRUE(n.envelope().has_non_delivery());
    EXPECT_EQ(n.envelope().non_delivery().message_id(), r.message_id());
    EXPECT_EQ(n.envelope().non_delivery().reason(), "ttl_expired");
    EXPECT_EQ(n.envelope().sender_agency(), "ehx-gateway");
  }
  ehx::exchange::v1::ListDeadLettersRequest lr;
  ehx::exchange::v1::ListDeadLettersResponse dl;
  auto ctx = Ctx();
  ASSERT_TRUE(gw_->Admin()->ListDeadLetters(ctx.get(), lr, &dl).ok());
  EXPECT_EQ(dl.dead_letters_size(), 2);
}

TEST_F(GatewayTest, PoisonMessageDeadLettersWhileOthersFlowThenReplays) {
  StartWith(R"(
delivery: {max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 20, sweep_interval_ms: 50}
)");
  PublishReceipt poison;
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("p-0", "EH-P"), &poison).ok());
  std::set<std::string> good;
  for (int i = 1; i <= 5; ++i) {
    PublishReceipt r;
    // Same case: ordering must not block behind the poison for ever.
    ASSERT_TRUE(
        Publish(*gw_, "early-help", Caf("p-" + std::to_string(i), "EH-P"), &r)
            .ok());
    good.insert(r.message_id());
  }
  auto stub = gw_->Exchange("school-oakfield");
  std::set<std::string> delivered;
  int poison_attempts = 0;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (delivered.size() < good.size() &&
         std::chrono::steady_clock::now() < deadline) {
    auto batch = FetchAll(*gw_, "school-oakfield", false);
    AckRequest a;
    for (const auto& d : batch) {
      auto* i = a.add_items();
      i->set_delivery_id(d.delivery_id());
      if (d.envelope().message_id() == poison.message_id()) {
        ++poison_attempts;
        i->set_ok(false);
        i->set_reason("cannot_parse");
      } else {
        i->set_ok(true);
        delivered.insert(d.envelope().message_id());
      }
    }
    AckResponse ar;
    auto ctx = Ctx();
    ASSERT_TRUE(stub->Ack(ctx.get(), a, &ar).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  EXPECT_EQ(delivered, good);
  EXPECT_EQ(poison_attempts, 3);
  ehx::exchange::v1::ListDeadLettersRequest lr;
  lr.set_agency("school-oakfield");
  ehx::exchange::v1::ListDeadLettersResponse dl;
  auto ctx = Ctx();
  ASSERT_TRUE(gw_->Admin()->ListDeadLetters(ctx.get(), lr, &dl).ok());
  ASSERT_EQ(dl.dead_letters_size(), 1);
  EXPECT_EQ(dl.dead_letters(0).message_id(), poison.message_id());
  EXPECT_EQ(dl.dead_letters(0).reason(), "max_attempts");
  // The sender hears about it.
  bool told = false;
  for (const auto& d : FetchAll(*gw_, "early-help", true)) {
    told |= d.envelope().has_non_delivery() &&
            d.envelope().non_delivery().message_id() == poison.message_id();
  }
  EXPECT_TRUE(told);
  // Replay puts it back.
  ehx::exchange::v1::ReplayDeadLettersRequest rr;
  rr.add_delivery_ids(dl.dead_letters(0).delivery_id());
  ehx::exchange::v1::ReplayDeadLettersResponse rres;
  auto rctx = Ctx();
  ASSERT_TRUE(gw_->Admin()->ReplayDeadLetters(rctx.get(), rr, &rres).ok());
  EXPECT_EQ(rres.replayed(), 1);
  auto again = FetchAll(*gw_, "school-oakfield", true);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].envelope().message_id(), poison.message_id());
  EXPECT_EQ(again[0].attempt(), 1);
}

TEST_F(GatewayTest, SubscribeStreamDeliversAndRedeliversUnacked) {
  StartWith("");
  PublishReceipt r;
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("s-1", "EH-S"), &r).ok());
  {
    auto stub = gw_->Exchange("school-oakfield");
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(10));
    auto stream = stub->Subscribe(&ctx);
    ehx::exchange::v1::SubscribeRequest start;
    start.mutable_start()->set_window(8);
    ASSERT_TRUE(stream->Write(start));
    Delivery d;
    ASSERT_TRUE(stream->Read(&d));
    EXPECT_EQ(d.envelope().message_id(), r.message_id());
    // Go away without acking.
    ctx.TryCancel();
  }
  // Redelivered (as a new attempt) to the next consumer.
  std::vector<Delivery> again;
  for (int i = 0; i < 100 && again.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    again = FetchAll(*gw_, "school-oakfield", false);
  }
  // The release counts as an attempt with backoff: it may take ~1 s.
  for (int i = 0; i < 60 && again.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    again = FetchAll(*gw_, "school-oakfield", false);
  }
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].envelope().message_id(), r.message_id());
  EXPECT_GE(again[0].attempt(), 2);
  // A live stream gets new messages pushed and acks them.
  auto stub = gw_->Exchange("health-visiting");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->Subscribe(&ctx);
  ehx::exchange::v1::SubscribeRequest start;
  start.mutable_start()->set_window(4);
  ASSERT_TRUE(stream->Write(start));
  Delivery d;
  ASSERT_TRUE(stream->Read(&d));  // s-1, already queued
  ehx::exchange::v1::SubscribeRequest ack;
  ack.mutable_ack()->set_delivery_id(d.delivery_id());
  ack.mutable_ack()->set_ok(true);
  ASSERT_TRUE(stream->Write(ack));
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("s-2", "EH-S"), &r).ok());
  ASSERT_TRUE(stream->Read(&d));
  EXPECT_EQ(d.envelope().message_id(), r.message_id());
  ctx.TryCancel();
}

// Nacks on the stream: a retryable nack comes back on the same stream as
// the next attempt after its backoff, while the stream stays open; a
// permanent nack dead-letters the message at once with its reason, and the
// sender is told.
TEST_F(GatewayTest, SubscribeStreamNackRetriesThenPermanentNackDeadLetters) {
  StartWith(R"(
delivery: {max_attempts: 10, initial_backoff_ms: 100, max_backoff_ms: 200, sweep_interval_ms: 50}
)");
  PublishReceipt r;
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("n-1", "EH-N"), &r).ok());
  auto stub = gw_->Exchange("school-oakfield");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub->Subscribe(&ctx);
  ehx::exchange::v1::SubscribeRequest start;
  start.mutable_start()->set_window(4);
  ASSERT_TRUE(stream->Write(start));
  Delivery d;
  ASSERT_TRUE(stream->Read(&d));
  EXPECT_EQ(d.envelope().message_id(), r.message_id());
  EXPECT_EQ(d.attempt(), 1);
  ehx::exchange::v1::SubscribeRequest nack;
  nack.mutable_ack()->set_delivery_id(d.delivery_id());
  nack.mutable_ack()->set_ok(false);
  nack.mutable_ack()->set_reason("busy");
  ASSERT_TRUE(stream->Write(nack));
  const auto nacked_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(stream->Read(&d));  // the retry, pushed on the same stream
  EXPECT_EQ(d.envelope().message_id(), r.message_id());
  EXPECT_EQ(d.attempt(), 2);
  EXPECT_GE(std::chrono::steady_clock::now() - nacked_at,
            std::chrono::milliseconds(50))
      << "redelivered before its backoff (at least 100/2 ms)";
  nack.mutable_ack()->set_delivery_id(d.delivery_id());
  nack.mutable_ack()->set_permanent(true);
  nack.mutable_ack()->set_reason("unsupported_record");
  ASSERT_TRUE(stream->Write(nack));
  // Dead-lettered at once with its reason; the sender hears of it.
  ehx::exchange::v1::ListDeadLettersResponse dl;
  for (int i = 0; i < 100 && dl.dead_letters_size() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ehx::exchange::v1::ListDeadLettersRequest lr;
    dl.Clear();
    auto actx = Ctx();
    ASSERT_TRUE(gw_->Admin()->ListDeadLetters(actx.get(), lr, &dl).ok());
  }
  ctx.TryCancel();
  ASSERT_EQ(dl.dead_letters_size(), 1);
  EXPECT_EQ(dl.dead_letters(0).agency(), "school-oakfield");
  EXPECT_EQ(dl.dead_letters(0).message_id(), r.message_id());
  EXPECT_EQ(dl.dead_letters(0).reason(), "rejected_by_recipient");
  EXPECT_EQ(dl.dead_letters(0).attempts(), 2);
  std::vector<Delivery> notices;
  for (int i = 0; i < 20 && notices.empty(); ++i) {
    notices = FetchAll(*gw_, "early-help", true);
    if (notices.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ASSERT_EQ(notices.size(), 1u);
  ASSERT_TRUE(notices[0].envelope().has_non_delivery());
  EXPECT_EQ(notices[0].envelope().non_delivery().message_id(), r.message_id());
}

// Certificates: refused before any handler runs; body cannot claim another
// agency; admin only for operators.
TEST_F(GatewayTest, CertificateCasesAreRefused) {
  StartWith("");
  const fs::path bad = DevPki() / "bad";
  PublishRequest req;
  *req.mutable_envelope() = Caf("c-1", "EH-C");
  struct Case {
    const char* name;
    std::string cert, key;
  } cases[] = {
      {"no client certificate", "", ""},
      {"untrusted CA", (bad / "untrusted.pem").string(),
       (bad / "untrusted.key").string()},
      {"self-signed", (bad / "self-signed.pem").string(),
       (bad / "self-signed.key").string()},
      {"expired", (bad / "expired.pem").string(),
       (bad / "expired.key").string()},
      {"not yet valid", (bad / "not-yet-valid.pem").string(),
       (bad / "not-yet-valid.key").string()},
  };
  for (const auto& c : cases) {
    auto stub =
        ehx::exchange::v1::Exchange::NewStub(gw_->ChannelWith(c.cert, c.key));
    PublishReceipt r;
    auto ctx = Ctx();
    grpc::Status st = stub->Publish(ctx.get(), req, &r);
    EXPECT_FALSE(st.ok()) << c.name;
    EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                st.error_code() == grpc::StatusCode::UNAUTHENTICATED)
        << c.name << ": " << st.error_code();
  }
  // A school certificate whose body claims to be early help.
  Envelope spoof = Caf("c-2", "EH-C");
  spoof.set_sender_agency("early-help");
  PublishReceipt r;
  grpc::Status st = Publish(*gw_, "school-oakfield", spoof, &r);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The Admin API refuses an agency certificate, at the handshake.
  auto admin =
      ehx::exchange::v1::Admin::NewStub(gw_->Channel("early-help", true));
  ehx::exchange::v1::GatewayStatus gs;
  auto ctx = Ctx();
  EXPECT_EQ(admin->GetStatus(ctx.get(), {}, &gs).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Nothing was stored.
  auto octx = Ctx();
  ASSERT_TRUE(gw_->Admin()->GetStatus(octx.get(), {}, &gs).ok());
  EXPECT_EQ(gs.events(), 0);
}

// Every malformed message in the corpus is refused with its field path and
// rule, and nothing is persisted.
TEST_F(GatewayTest, MalformedCorpusRefusedWithFieldAndRuleNothingStored) {
  StartWith("");
  const fs::path dir = fs::path(EHX_SOURCE_DIR) / "tests/conformance/malformed";
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream ss;
    ss << in.rdbuf();
    google::protobuf::Struct wrapper;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(ss.str(), &wrapper).ok());
    std::string env_json;
    google::protobuf::util::MessageToJsonString(
        wrapper.fields().at("envelope").struct_value(), &env_json);
    Envelope env;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(env_json, &env).ok())
        << entry.path();
    PublishReceipt r;
    grpc::Status st = Publish(*gw_, "early-help", env, &r);
    ASSERT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << entry.path() << " " << st.error_message();
    Violations got = ViolationsOf(FromGrpcStatus(st));
    for (const auto& want :
         wrapper.fields().at("expect").list_value().values()) {
      const auto& f = want.struct_value().fields();
      const std::string field = f.at("field").string_value();
      const std::string rule = f.at("rule").string_value();
      bool found = false;
      for (const auto& [gf, gd] : got) {
        found |= gf == field && gd.rfind(rule + ":", 0) == 0;
      }
      EXPECT_TRUE(found) << entry.path().filename() << " missing " << field
                         << " / " << rule;
    }
    ++files;
  }
  EXPECT_GE(files, 50);
  ehx::exchange::v1::GatewayStatus gs;
  auto ctx = Ctx();
  ASSERT_TRUE(gw_->Admin()->GetStatus(ctx.get(), {}, &gs).ok());
  EXPECT_EQ(gs.events(), 0);
  for (const auto& m : gs.mailboxes()) EXPECT_EQ(m.queued(), 0);
}

// An agency over its publish rate quota is refused with RESOURCE_EXHAUSTED
// while another agency publishing at the same time is unaffected.
TEST_F(GatewayTest, PublishRateQuotaIsPerAgency) {
  std::string body = DemoAgenciesAndRoutes();
  const std::string eh =
      "{id: early-help, name: \"Early Help\", role: AGENCY_ROLE_EARLY_HELP}";
  ASSERT_NE(body.find(eh), std::string::npos);
  body.replace(body.find(eh), eh.size(),
               "{id: early-help, name: \"Early Help\", role: "
               "AGENCY_ROLE_EARLY_HELP, publish_rate_per_second: 2, "
               "publish_burst: 5}");
  gw_ = std::make_unique<GatewayProcess>(dir_.path(), body);
  ASSERT_TRUE(gw_->Start()) << gw_->log();
  int ok = 0, exhausted = 0, other_ok = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    PublishReceipt r;
    grpc::Status st =
        Publish(*gw_, "early-help", Caf("q-" + std::to_string(i), "EH-Q"), &r);
    if (st.ok()) ++ok;
    if (st.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++exhausted;
    // The school has no quota: its publishes all go through meanwhile.
    grpc::Status other = Publish(*gw_, "school-oakfield",
                                 Caf("qs-" + std::to_string(i), "EH-Q2"), &r);
    if (other.ok()) ++other_ok;
  }
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_GE(ok, 5);  // the burst
  // Burst 5 plus 2 per second of the loop's own duration (whatever the load).
  EXPECT_LE(ok, 5 + static_cast<int>(2 * elapsed_s) + 1);
  EXPECT_GT(exhausted, 0);
  EXPECT_EQ(ok + exhausted, 20);
  EXPECT_EQ(other_ok, 20);
}

// An agency with too many undelivered messages gets RESOURCE_EXHAUSTED
// while another agency publishes normally; the count survives a restart
// (rebuilt from the store) and falls as recipients acknowledge.
TEST_F(GatewayTest, QueueQuotaIsPerAgencyAndFreedByDelivery) {
  std::string body = DemoAgenciesAndRoutes();
  const std::string eh =
      "{id: early-help, name: \"Early Help\", role: AGENCY_ROLE_EARLY_HELP}";
  ASSERT_NE(body.find(eh), std::string::npos);
  body.replace(body.find(eh), eh.size(),
               "{id: early-help, name: \"Early Help\", role: "
               "AGENCY_ROLE_EARLY_HELP, max_queued: 3}");
  gw_ = std::make_unique<GatewayProcess>(dir_.path(), body);
  ASSERT_TRUE(gw_->Start()) << gw_->log();
  int queued = 0, i = 0;
  grpc::Status st;
  for (; i < 10; ++i) {
    PublishReceipt r;
    st = Publish(*gw_, "early-help", Caf("qq-" + std::to_string(i), "EH-QQ"),
                 &r);
    if (!st.ok()) break;
    queued += r.recipients_size();
  }
  ASSERT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << st.error_message();
  EXPECT_GE(queued, 3);      // refused only once the quota was reached
  EXPECT_LT(queued - 2, 3);  // ... and not before (2 recipients a message)
  // Another agency is not affected.
  for (int j = 0; j < 5; ++j) {
    PublishReceipt r;
    EXPECT_TRUE(Publish(*gw_, "school-oakfield",
                        Caf("qo-" + std::to_string(j), "EH-QO"), &r)
                    .ok());
  }
  // Rebuilt from the store at start.
  ASSERT_EQ(gw_->Stop(), 0) << gw_->log();
  ASSERT_TRUE(gw_->Start()) << gw_->log();
  PublishReceipt r;
  EXPECT_EQ(
      Publish(*gw_, "early-help", Caf("qq-after", "EH-QQ"), &r).error_code(),
      grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Delivered and acknowledged: room again.
  Drain(*gw_, "school-oakfield");
  Drain(*gw_, "health-visiting");
  EXPECT_TRUE(Publish(*gw_, "early-help", Caf("qq-freed", "EH-QQ"), &r).ok());
}

// The audit trail of a real run verifies offline, and an edit is caught.
TEST_F(GatewayTest, AuditTrailVerifiesOfflineAndCatchesTampering) {
  StartWith("");
  PublishReceipt r;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        Publish(*gw_, "early-help", Caf("a-" + std::to_string(i), "EH-A"), &r)
            .ok());
  }
  Drain(*gw_, "school-oakfield");
  ASSERT_EQ(gw_->Stop(), 0) << gw_->log();
  const std::string db = (dir_.path() / "ehx.db").string();
  const std::string ctl = std::string(EHX_BINARY_DIR) +
                          "/bin/ehxctl audit verify " + db + " > " +
                          (dir_.path() / "verify.out").string();
  EXPECT_EQ(std::system(ctl.c_str()), 0);
  // Flip one byte of record 3 (a decision) with sqlite3's own API.
  const std::string tamper =
      "/usr/bin/python3 -c \"import sqlite3; c=sqlite3.connect('" + db +
      "'); b=bytearray(c.execute('select record from audit_log where seq=3')"
      ".fetchone()[0]); b[-40]^=1; c.execute('update audit_log set record=? "
      "where seq=3',(bytes(b),)); c.commit()\"";
  ASSERT_EQ(std::system(tamper.c_str()), 0);
  EXPECT_NE(std::system(ctl.c_str()), 0);
  std::ifstream in(dir_.path() / "verify.out");
  std::string out((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(out.find("first bad record seq=3"), std::string::npos) << out;
}

// Every Admin API action, reads included, is on the audit trail with the
// operator as actor (and the case reference only as its pseudonym); the
// trail still verifies.
TEST_F(GatewayTest, EveryAdminActionIsAudited) {
  StartWith("");
  PublishReceipt r;
  ASSERT_TRUE(Publish(*gw_, "early-help", Caf("adm-1", "EH-ADMIN-7"), &r).ok());
  auto admin = gw_->Admin();
  {
    ehx::exchange::v1::GatewayStatus gs;
    auto ctx = Ctx();
    ASSERT_TRUE(admin->GetStatus(ctx.get(), {}, &gs).ok());
  }
  {
    ehx::exchange::v1::ListDeadLettersRequest req;
    ehx::exchange::v1::ListDeadLettersResponse resp;
    auto ctx = Ctx();
    ASSERT_TRUE(admin->ListDeadLetters(ctx.get(), req, &resp).ok());
  }
  {
    ehx::exchange::v1::GetCaseRecordRequest req;
    req.set_case_ref("EH-ADMIN-7");
    ehx::record::v1::CaseRecord rec;
    auto ctx = Ctx();
    ASSERT_TRUE(admin->GetCaseRecord(ctx.get(), req, &rec).ok());
  }
  {
    ehx::exchange::v1::PeekMailboxRequest req;
    req.set_agency("school-oakfield");
    ehx::exchange::v1::PeekMailboxResponse resp;
    auto ctx = Ctx();
    ASSERT_TRUE(admin->PeekMailbox(ctx.get(), req, &resp).ok());
  }
  {
    ehx::exchange::v1::ReplayDeadLettersRequest req;  // refused: no ids
    ehx::exchange::v1::ReplayDeadLettersResponse resp;
    auto ctx = Ctx();
    EXPECT_EQ(admin->ReplayDeadLetters(ctx.get(), req, &resp).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_EQ(gw_->Stop(), 0) << gw_->log();
  std::map<std::string, std::string> by_action;  // action -> actor
  std::string all;
  std::vector<ehx::audit::v1::AuditRecord> trail;
  ASSERT_TRUE(ReadAuditTrail(dir_.path() / "ehx.db", &trail));
  for (const auto& a : trail) {
    by_action[a.action()] = a.actor();
    all += a.DebugString();
  }
  for (const char* action :
       {"admin_status", "admin_dead_letters", "admin_case_show",
        "admin_mailbox_peek", "admin_replay"}) {
    ASSERT_TRUE(by_action.count(action)) << action << "\n" << all;
    EXPECT_EQ(by_action[action], "ops") << action;
  }
  EXPECT_NE(all.find("result=INVALID_ARGUMENT"), std::string::npos);
  EXPECT_EQ(all.find("EH-ADMIN-7"), std::string::npos);  // pseudonym only
  const std::string ctl = std::string(EHX_BINARY_DIR) +
                          "/bin/ehxctl audit verify " +
                          (dir_.path() / "ehx.db").string() + " >/dev/null";
  EXPECT_EQ(std::system(ctl.c_str()), 0);
}

TEST(GatewayConfigTest, CheckConfigNamesUnknownKeyPath) {
  TempDir dir;
  std::ofstream(dir.path() / "bad.yaml") << "listen: \"127.0.0.1:0\"\n"
                                            "delivery: {max_atempts: 3}\n";
  const std::string cmd = std::string(EHX_BINARY_DIR) +
                          "/bin/ehx-gateway --check-config " +
                          (dir.path() / "bad.yaml").string() + " 2>" +
                          (dir.path() / "err").string();
  EXPECT_NE(std::system(cmd.c_str()), 0);
  std::ifstream in(dir.path() / "err");
  std::string err((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(err.find("delivery.max_atempts: unknown key"), std::string::npos)
      << err;
}

}  // namespace
}  // namespace ehx::testing
