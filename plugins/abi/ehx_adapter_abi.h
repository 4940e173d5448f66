/*
 * ehx adapter ABI, major version 1: the pure-C contract between the ehx
 * gateway (the host) and a loadable adapter plugin (a shared object).
 *
 * Policy (docs/abi.md has the reasons):
 *  - A plugin exports exactly one symbol, EHX_ADAPTER_ENTRY_SYMBOL, whose
 *    name carries the major version. A new major is a new symbol.
 *  - Every function table starts with {abi_major, abi_minor, struct_size}.
 *    The host refuses a different major, refuses a minor NEWER than it
 *    knows, and accepts an older minor. Tables only grow at the end; a
 *    reader uses struct_size to know which trailing members exist
 *    (EHX_ABI_HAS_MEMBER).
 *  - Only C types, pointer+length buffers and serialized protobuf cross.
 *    Messages are ehx.exchange.v1.* (and, for ingest/render,
 *    ehx.adapter.v1.*) in protobuf binary encoding.
 *  - Whoever allocates frees: plugin-allocated strings are released with the
 *    plugin's free_string, plugin-allocated buffers with the plugin's
 *    free_buffer; host-allocated results with the host's
 *    free_publish_result. Borrowed ("view") arguments are valid only for the
 *    duration of the call.
 *  - No exception, longjmp or C++ type crosses this boundary.
 *  - Status codes are google.rpc.Code numbers (0 = OK, 3 = INVALID_ARGUMENT,
 *    13 = INTERNAL, 14 = UNAVAILABLE, ...).
 */
#ifndef EHX_ADAPTER_ABI_H_
#define EHX_ADAPTER_ABI_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EHX_ADAPTER_ABI_MAJOR 1
/* Minor history: 0 = first release; 1 = ehx_adapter_api_v1.check_health;
 * 2 = ehx_adapter_api_v1.ingest, render and free_buffer. */
#define EHX_ADAPTER_ABI_MINOR 2
#define EHX_ADAPTER_ENTRY_SYMBOL "ehx_adapter_v1_entry"

/* True when a table of `type` whose header is `*header_ptr` contains
 * `member`, e.g. EHX_ABI_HAS_MEMBER(&api->header, ehx_adapter_api_v1,
 * check_health). */
#define EHX_ABI_HAS_MEMBER(header_ptr, type, member) \
  ((header_ptr)->struct_size >=                      \
   offsetof(type, member) + sizeof(((type*)0)->member))

/* google.rpc.Code values used by the ABI. */
enum {
  EHX_CODE_OK = 0,
  EHX_CODE_CANCELLED = 1,
  EHX_CODE_UNKNOWN = 2,
  EHX_CODE_INVALID_ARGUMENT = 3,
  EHX_CODE_DEADLINE_EXCEEDED = 4,
  EHX_CODE_NOT_FOUND = 5,
  EHX_CODE_ALREADY_EXISTS = 6,
  EHX_CODE_PERMISSION_DENIED = 7,
  EHX_CODE_RESOURCE_EXHAUSTED = 8,
  EHX_CODE_FAILED_PRECONDITION = 9,
  EHX_CODE_ABORTED = 10,
  EHX_CODE_OUT_OF_RANGE = 11,
  EHX_CODE_UNIMPLEMENTED = 12,
  EHX_CODE_INTERNAL = 13,
  EHX_CODE_UNAVAILABLE = 14,
  EHX_CODE_DATA_LOSS = 15,
  EHX_CODE_UNAUTHENTICATED = 16
};

/* Log levels for ehx_host_api_v1.log. */
enum {
  EHX_LOG_DEBUG = 0,
  EHX_LOG_INFO = 1,
  EHX_LOG_WARN = 2,
  EHX_LOG_ERROR = 3
};

/* What a plugin answers for one delivery. */
enum {
  /* Handled; the gateway removes it from the mailbox. */
  EHX_DELIVERY_ACK = 0,
  /* Not handled now (e.g. a downstream system is down): redeliver later with
   * backoff. */
  EHX_DELIVERY_RETRY = 1,
  /* Never deliverable to this plugin (e.g. undecodable): goes to dead
   * letters and the sender gets a non-delivery notice. */
  EHX_DELIVERY_REJECT = 2
};

/* The common header of every table. Always the first member. */
typedef struct ehx_abi_header {
  uint32_t abi_major;   /* EHX_ADAPTER_ABI_MAJOR of the side that built it */
  uint32_t abi_minor;   /* EHX_ADAPTER_ABI_MINOR of the side that built it */
  uint32_t struct_size; /* sizeof the whole table as that side built it */
} ehx_abi_header;

/* Result of ehx_host_api_v1.publish. Filled by the host; ALL buffers are
 * host-allocated and released only by ehx_host_api_v1.free_publish_result
 * (which leaves the struct zeroed). Buffers are not NUL-terminated except
 * `message`, which is (and message_len excludes the NUL). */
typedef struct ehx_publish_result {
  int32_t code; /* google.rpc.Code; 0 = accepted */
  /* code == 0: serialized ehx.exchange.v1.PublishReceipt. */
  uint8_t* receipt;
  size_t receipt_len;
  /* code != 0: human-readable reason (no personal data). */
  char* message;
  size_t message_len;
  /* code != 0 and field violations exist: serialized google.rpc.BadRequest
   * (field_violations {field, description}). Else NULL/0. */
  uint8_t* bad_request;
  size_t bad_request_len;
} ehx_publish_result;

/* Callbacks the host gives a plugin instance. The table and host_ctx stay
 * valid until the instance's destroy() returns. Every function is
 * thread-safe: a plugin may call it from any thread, including several at
 * once, but NOT after its stop() has returned. */
typedef struct ehx_host_api_v1 {
  ehx_abi_header header;

  /* Publishes one serialized ehx.exchange.v1.Envelope (borrowed) as the
   * plugin's configured agency (sender_agency in the body is ignored).
   * Blocks until the gateway has durably accepted or refused the message
   * (bounded by a host timeout, then DEADLINE_EXCEEDED); may be called from
   * inside on_delivery(). Overwrites every member of *out and returns
   * out->code. The caller must call free_publish_result(host_ctx, out). */
  int32_t (*publish)(void* host_ctx, const uint8_t* envelope,
                     size_t envelope_len, ehx_publish_result* out);

  /* Releases what publish() put in *result. NULL-safe, idempotent. */
  void (*free_publish_result)(void* host_ctx, ehx_publish_result* result);

  /* Writes one log line (borrowed, not NUL-terminated, `len` bytes) under
   * the plugin's instance name. Never put personal data in it. */
  void (*log)(void* host_ctx, int32_t level, const char* message, size_t len);
} ehx_host_api_v1;

/* An opaque plugin instance, owned by the plugin; released by destroy(). */
typedef struct ehx_adapter_instance ehx_adapter_instance;

/* The plugin's table. Static storage in the plugin: valid until dlclose. */
typedef struct ehx_adapter_api_v1 {
  ehx_abi_header header;

  /* ---- minor 0 ---- */

  /* NUL-terminated, static, for logs: the adapter type ("folder") and its
   * own version ("1.2.0"). */
  const char* adapter_type;
  const char* adapter_version;

  /* The plugin's config schema: a serialized google.protobuf.FileDescriptorSet
   * (static, plugin-owned) holding the file that defines the config message
   * and all its dependencies, and the message's full name. The host turns
   * the YAML mapping into this message's binary encoding. A NULL
   * config_message_name means the plugin takes no config (the host then
   * refuses a non-empty mapping and passes 0 bytes). */
  const uint8_t* config_descriptor_set;
  size_t config_descriptor_set_len;
  const char* config_message_name;

  /* Creates an instance from the serialized config message (borrowed).
   * `host` and `host_ctx` (borrowed) stay valid until destroy(); the
   * instance must not call host->publish before start(). On success returns
   * 0 and sets *instance. On failure returns a google.rpc.Code != 0, leaves
   * *instance NULL, and may set *error to a plugin-allocated NUL-terminated
   * message (free with free_string). */
  int32_t (*create)(const uint8_t* config, size_t config_len,
                    const ehx_host_api_v1* host, void* host_ctx,
                    ehx_adapter_instance** instance, char** error);

  /* Starts the instance's own work (threads, watchers). Called once after
   * create(). Same error convention as create(). */
  int32_t (*start)(ehx_adapter_instance* instance, char** error);

  /* Handles one serialized ehx.exchange.v1.Delivery (borrowed) addressed to
   * the plugin's agency. Called from one host thread at a time per instance,
   * only between start() and stop(). Returns EHX_DELIVERY_*; for RETRY and
   * REJECT may set *reason (plugin-allocated, free with free_string; a
   * machine reason, no personal data). Malformed bytes must yield REJECT,
   * never a crash. */
  int32_t (*on_delivery)(ehx_adapter_instance* instance,
                         const uint8_t* delivery, size_t delivery_len,
                         char** reason);

  /* Stops the instance's work and joins its threads; after it returns the
   * plugin makes no more host calls. Called once, even if start() failed.
   * Must not fail. */
  void (*stop)(ehx_adapter_instance* instance);

  /* Frees the instance. Called once, after stop() (or after a failed
   * create(): never, since *instance is NULL then). */
  void (*destroy)(ehx_adapter_instance* instance);

  /* Frees a string the plugin allocated (error, reason). NULL-safe. */
  void (*free_string)(char* s);

  /* ---- minor 1 ---- */

  /* Optional (NULL: not reported). Returns 0 if the instance is healthy,
   * else a google.rpc.Code and optionally *detail (free with free_string).
   * Thread-safe; may be called at any time between start() and stop(). */
  int32_t (*check_health)(ehx_adapter_instance* instance, char** detail);

  /* ---- minor 2 ---- */

  /* Optional (NULL: the adapter does not ingest). Parses one native input
   * (a file, a message body: `data`, `len` bytes, borrowed) called `name`
   * (borrowed, `name_len` bytes, not NUL-terminated; for positions and
   * reports only) and publishes every good record through host->publish,
   * exactly as the adapter's own inbox loop would. Returns 0 and sets
   * *report / *report_len to a plugin-allocated serialized
   * ehx.adapter.v1.IngestReport (free with free_buffer) whenever the input
   * was examined, including when it was refused as a whole
   * (report.input_rejected). Returns a google.rpc.Code != 0 when the call
   * itself failed (INVALID_ARGUMENT: bad arguments; INTERNAL: the adapter
   * failed unexpectedly); *report may then still hold a report whose
   * input_error says why, else NULL/0. Malformed input must never crash.
   *
   * May be called on an instance any time between create() and destroy(),
   * started or not (a dry run such as `ehxctl adapter check` never calls
   * start()); host->publish may be called from inside it. The host never
   * calls ingest, render and on_delivery of one instance concurrently. */
  int32_t (*ingest)(ehx_adapter_instance* instance, const char* name,
                    size_t name_len, const uint8_t* data, size_t len,
                    uint8_t** report, size_t* report_len);

  /* Optional (NULL: the adapter does not render). Turns one serialized
   * ehx.exchange.v1.Delivery (borrowed) into the agency's native format
   * WITHOUT delivering it anywhere: returns 0 and sets *result /
   * *result_len to a plugin-allocated serialized ehx.adapter.v1.RenderResult
   * (free with free_buffer); else a google.rpc.Code != 0 (INVALID_ARGUMENT
   * for malformed bytes or an envelope the format cannot carry,
   * UNIMPLEMENTED for an event type it does not render) and optionally
   * *error (free with free_string; no personal data). Same calling rules
   * as ingest; never calls host->publish. */
  int32_t (*render)(ehx_adapter_instance* instance, const uint8_t* delivery,
                    size_t delivery_len, uint8_t** result, size_t* result_len,
                    char** error);

  /* Frees a buffer the plugin allocated (ingest report, render result).
   * NULL-safe. Required when ingest or render is set. */
  void (*free_buffer)(uint8_t* buffer);
} ehx_adapter_api_v1;

/* Size of the table as minor 0 defined it: the smallest struct_size a host
 * of this major accepts. */
#define EHX_ADAPTER_API_V1_MIN_SIZE \
  (offsetof(ehx_adapter_api_v1, free_string) + sizeof(void (*)(char*)))
#define EHX_HOST_API_V1_MIN_SIZE \
  (offsetof(ehx_host_api_v1, log) + sizeof(void*))

/* The entry point. `host` (borrowed) tells the plugin what the host speaks;
 * a plugin that needs a newer host may return NULL. Otherwise returns its
 * static table. Must be cheap and side-effect free (it may be called more
 * than once). */
typedef const ehx_adapter_api_v1* (*ehx_adapter_v1_entry_fn)(
    const ehx_abi_header* host);

#if defined(__GNUC__)
#define EHX_ADAPTER_EXPORT __attribute__((visibility("default")))
#else
#define EHX_ADAPTER_EXPORT
#endif

/* Declaration for plugins. */
EHX_ADAPTER_EXPORT const ehx_adapter_api_v1* ehx_adapter_v1_entry(
    const ehx_abi_header* host);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EHX_ADAPTER_ABI_H_ */
