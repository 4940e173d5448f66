#include "common/ids.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdint>
#include <memory>

namespace ehx {

std::string NewMessageId() {
  static constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  uint8_t bytes[16];
  const uint64_t ms = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int i = 0; i < 6; ++i)
    bytes[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  if (RAND_bytes(bytes + 6, 10) != 1) {
    // OpenSSL's DRBG failing is not recoverable; fall back to the clock
    // mixed with an address so ids stay unique within the process.
    uint64_t x = ms ^ reinterpret_cast<uintptr_t>(&bytes);
    for (int i = 6; i < 16; ++i) bytes[i] = static_cast<uint8_t>(x >> (i % 8));
  }
  // 128 bits -> 26 base32 characters (the first carries 3 bits).
  std::string out(26, '0');
  unsigned __int128 v = 0;
  for (uint8_t b : bytes) v = (v << 8) | b;
  for (int i = 25; i >= 0; --i) {
    out[i] = kAlphabet[static_cast<int>(v & 31)];
    v >>= 5;
  }
  return out;
}

std::string Sha256(std::string_view data) {
  // OpenSSL 3 looks an implicitly fetched algorithm up (and locks) on every
  // EVP_Digest call; fetch it once and keep one context per thread.
  static EVP_MD* const kSha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(
      EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (kSha256 != nullptr && ctx != nullptr &&
      EVP_DigestInit_ex2(ctx.get(), kSha256, nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), md, &len) == 1) {
    return std::string(reinterpret_cast<char*>(md), len);
  }
  len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(md), len);
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string Pseudonym(std::string_view value) {
  std::string in = "ehx-log|";
  in.append(value);
  return ToHex(Sha256(in)).substr(0, 12);
}

}  // namespace ehx
