#include "crypto/aead.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace ehx::crypto {
namespace {

std::string Key(char fill) { return std::string(kKeySize, fill); }

TEST(KeyRingTest, RoundTripAndFormat) {
  KeyRing ring;
  ASSERT_TRUE(ring.AddKey("k1", Key('a')).ok());
  const std::string pt = "Qzanary Wisniewski 9991234567 \x00\xff end";
  auto blob = ring.Seal(pt, "events.envelope|M1");
  ASSERT_TRUE(blob.ok()) << blob.status();
  // version | len | "k1" | nonce | ct | tag
  ASSERT_EQ(blob->size(), 1 + 1 + 2 + kNonceSize + pt.size() + kTagSize);
  EXPECT_EQ(static_cast<unsigned char>((*blob)[0]), kBlobVersion);
  EXPECT_EQ((*blob)[1], 2);
  EXPECT_EQ(blob->substr(2, 2), "k1");
  EXPECT_EQ(blob->find("Qzanary"), std::string::npos);
  EXPECT_TRUE(LooksSealed(*blob));
  EXPECT_EQ(*BlobKeyId(*blob), "k1");
  auto back = ring.Open(*blob, "events.envelope|M1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, pt);
  // Two seals of the same plaintext differ (random nonce).
  EXPECT_NE(*ring.Seal(pt, "x"), *ring.Seal(pt, "x"));
  // Empty plaintext works too.
  auto empty = ring.Seal("", "a");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*ring.Open(*empty, "a"), "");
}

TEST(KeyRingTest, EveryByteTamperFails) {
  KeyRing ring;
  ASSERT_TRUE(ring.AddKey("key-1", Key('b')).ok());
  const std::string blob = *ring.Seal("payload with a name: Qzanary", "aad");
  for (size_t i = 0; i < blob.size(); ++i) {
    for (int bit : {0x01, 0x80}) {
      std::string t = blob;
      t[i] = static_cast<char>(t[i] ^ bit);
      auto r = ring.Open(t, "aad");
      EXPECT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
    }
  }
  // Truncation and extension.
  for (size_t n = 0; n < blob.size(); ++n) {
    EXPECT_FALSE(ring.Open(blob.substr(0, n), "aad").ok()) << n;
  }
  EXPECT_FALSE(ring.Open(blob + "x", "aad").ok());
}

TEST(KeyRingTest, WrongAadFails) {
  KeyRing ring;
  ASSERT_TRUE(ring.AddKey("k1", Key('c')).ok());
  const std::string blob = *ring.Seal("row one", "events.envelope|M1");
  auto r = ring.Open(blob, "events.envelope|M2");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(std::string(r.status().message()).find("row one"),
            std::string::npos);
  EXPECT_FALSE(ring.Open(blob, "cases.record|M1").ok());
  EXPECT_FALSE(ring.Open(blob, "").ok());
}

TEST(KeyRingTest, RotationKeepsOldRecordsReadable) {
  KeyRing ring;
  ASSERT_TRUE(ring.AddKey("2026-01", Key('d')).ok());
  const std::string old_blob = *ring.Seal("old", "a");
  ASSERT_TRUE(ring.AddKey("2026-02", Key('e')).ok());
  EXPECT_EQ(ring.active_key_id(), "2026-01");
  ASSERT_TRUE(ring.SetActive("2026-02").ok());
  const std::string new_blob = *ring.Seal("new", "a");
  EXPECT_EQ(*BlobKeyId(new_blob), "2026-02");
  EXPECT_EQ(*ring.Open(old_blob, "a"), "old");
  EXPECT_EQ(*ring.Open(new_blob, "a"), "new");
  EXPECT_FALSE(ring.SetActive("nope").ok());
}

TEST(KeyRingTest, UnknownKeyIdIsNamed) {
  KeyRing writer;
  ASSERT_TRUE(writer.AddKey("retired-7", Key('f')).ok());
  const std::string blob = *writer.Seal("secret text", "a");
  KeyRing reader;
  ASSERT_TRUE(reader.AddKey("current", Key('g')).ok());
  auto r = reader.Open(blob, "a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(r.status().message()).find("'retired-7'"),
            std::string::npos);
  EXPECT_EQ(std::string(r.status().message()).find("secret"),
            std::string::npos);
  // Same id, different key bytes: authentication fails.
  KeyRing liar;
  ASSERT_TRUE(liar.AddKey("retired-7", Key('h')).ok());
  EXPECT_EQ(liar.Open(blob, "a").status().code(), absl::StatusCode::kDataLoss);
}

TEST(KeyRingTest, RejectsBadKeysAndIds) {
  KeyRing ring;
  EXPECT_FALSE(ring.AddKey("k", std::string(31, 'a')).ok());
  EXPECT_FALSE(ring.AddKey("", Key('a')).ok());
  EXPECT_FALSE(ring.AddKey("has space", Key('a')).ok());
  EXPECT_FALSE(ring.AddKey(std::string(33, 'k'), Key('a')).ok());
  ASSERT_TRUE(ring.AddKey("k", Key('a')).ok());
  EXPECT_FALSE(ring.AddKey("k", Key('b')).ok());
  KeyRing none;
  EXPECT_FALSE(none.Seal("x", "a").ok());
  // A protobuf message never looks sealed.
  EXPECT_FALSE(
      LooksSealed(std::string("\x0a\x03"
                              "abc",
                              5)));
}

TEST(KeyMaterialTest, HexBase64Raw) {
  const std::string raw = Key('\x11');
  EXPECT_EQ(*ParseKeyMaterial(raw, "f"), raw);
  EXPECT_EQ(*ParseKeyMaterial(std::string(64, '1') + "\n", "f"), raw);
  // base64 of 32 bytes of 0x11.
  EXPECT_EQ(
      *ParseKeyMaterial("ERERERERERERERERERERERERERERERERERERERERERE=\n", "f"),
      raw);
  auto bad = ParseKeyMaterial("too short", "KEY_VAR");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("KEY_VAR"),
            std::string::npos);
  EXPECT_EQ(std::string(bad.status().message()).find("too short"),
            std::string::npos);
  EXPECT_FALSE(ParseKeyMaterial(std::string(64, 'g'), "f").ok());
}

TEST(LoadKeyRingTest, DefaultKeyFileCreatedOnceWithMode0600) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("ehx-aead-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "ehx.db.data-key").string();
  std::filesystem::remove(path);
  ehx::config::v1::Encryption cfg;
  bool created = false;
  auto ring = LoadKeyRing(cfg, path, &created);
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_TRUE(created);
  struct stat sb;
  ASSERT_EQ(::stat(path.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600);
  const std::string blob = *(*ring)->Seal("x", "a");
  auto again = LoadKeyRing(cfg, path, &created);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(*(*again)->Open(blob, "a"), "x");
  EXPECT_EQ((*again)->active_key_id(), "local");

  // Configured ring: a file key and an env key, env key active.
  ::setenv("EHX_TEST_DATA_KEY", std::string(64, 'a').c_str(), 1);
  ehx::config::v1::Encryption two;
  auto* k1 = two.add_keys();
  k1->set_key_id("local");
  k1->set_key_file(path);
  auto* k2 = two.add_keys();
  k2->set_key_id("env-1");
  k2->set_key_env("EHX_TEST_DATA_KEY");
  two.set_active_key_id("env-1");
  auto rotated = LoadKeyRing(two, "", nullptr);
  ASSERT_TRUE(rotated.ok()) << rotated.status();
  EXPECT_EQ(*(*rotated)->Open(blob, "a"), "x");
  EXPECT_EQ(*BlobKeyId(*(*rotated)->Seal("y", "a")), "env-1");
  ::unsetenv("EHX_TEST_DATA_KEY");
  auto missing = LoadKeyRing(two, "", nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("EHX_TEST_DATA_KEY"),
            std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ehx::crypto
