/* A pure-C test plugin (no protobuf) for the handshake cases. Compiled
 * several times with EHX_TEST_MODE selecting what its entry reports:
 *   1 ok (current minor)        2 exports ehx_adapter_v2_entry only
 *   3 table says major 2        4 newer minor than the host knows
 *   5 older minor (1.0 table)   6 struct_size too small
 *   7 refuses the host (NULL)   8 a 1.1 table (no ingest/render)
 * It takes no config and acks every delivery. Also proves the ABI header
 * is plain C. */
#include <stdlib.h>
#include <string.h>

#include "ehx_adapter_abi.h"

#ifndef EHX_TEST_MODE
#define EHX_TEST_MODE 1
#endif

struct ehx_adapter_instance {
  const ehx_host_api_v1* host;
  void* host_ctx;
};

static int32_t Create(const uint8_t* config, size_t config_len,
                      const ehx_host_api_v1* host, void* host_ctx,
                      ehx_adapter_instance** instance, char** error) {
  (void)config;
  (void)error;
  if (config_len != 0) return EHX_CODE_INVALID_ARGUMENT;
  ehx_adapter_instance* i = (ehx_adapter_instance*)calloc(1, sizeof(*i));
  if (i == NULL) return EHX_CODE_RESOURCE_EXHAUSTED;
  i->host = host;
  i->host_ctx = host_ctx;
  *instance = i;
  return EHX_CODE_OK;
}

static int32_t Start(ehx_adapter_instance* instance, char** error) {
  static const char kMsg[] = "c test plugin started";
  (void)error;
  instance->host->log(instance->host_ctx, EHX_LOG_INFO, kMsg,
                      sizeof(kMsg) - 1);
  return EHX_CODE_OK;
}

static int32_t OnDelivery(ehx_adapter_instance* instance,
                          const uint8_t* delivery, size_t len, char** reason) {
  (void)instance;
  (void)delivery;
  (void)len;
  (void)reason;
  return EHX_DELIVERY_ACK;
}

static void Stop(ehx_adapter_instance* instance) { (void)instance; }
static void Destroy(ehx_adapter_instance* instance) { free(instance); }
static void FreeString(char* s) { free(s); }

static ehx_adapter_api_v1 table = {
    {EHX_ADAPTER_ABI_MAJOR, EHX_ADAPTER_ABI_MINOR, sizeof(ehx_adapter_api_v1)},
    "c-test",
    "0",
    NULL,
    0,
    NULL,
    Create,
    Start,
    OnDelivery,
    Stop,
    Destroy,
    FreeString,
    NULL,
    NULL,
    NULL,
    NULL};

static const ehx_adapter_api_v1* Entry(const ehx_abi_header* host) {
  if (host == NULL || host->abi_major != EHX_ADAPTER_ABI_MAJOR) return NULL;
#if EHX_TEST_MODE == 3
  table.header.abi_major = 2;
#elif EHX_TEST_MODE == 4
  table.header.abi_minor = EHX_ADAPTER_ABI_MINOR + 1;
#elif EHX_TEST_MODE == 5
  table.header.abi_minor = 0;
  table.header.struct_size = (uint32_t)EHX_ADAPTER_API_V1_MIN_SIZE;
#elif EHX_TEST_MODE == 6
  table.header.abi_minor = 0;
  table.header.struct_size = (uint32_t)offsetof(ehx_adapter_api_v1, destroy);
#elif EHX_TEST_MODE == 7
  return NULL;
#elif EHX_TEST_MODE == 8
  table.header.abi_minor = 1;
  table.header.struct_size =
      (uint32_t)(offsetof(ehx_adapter_api_v1, check_health) + sizeof(void*));
#endif
  return &table;
}

#if EHX_TEST_MODE == 2
EHX_ADAPTER_EXPORT const ehx_adapter_api_v1* ehx_adapter_v2_entry(
    const ehx_abi_header* host);
const ehx_adapter_api_v1* ehx_adapter_v2_entry(const ehx_abi_header* host) {
  (void)host;
  return &table;
}
#else
const ehx_adapter_api_v1* ehx_adapter_v1_entry(const ehx_abi_header* host) {
  return Entry(host);
}
#endif
