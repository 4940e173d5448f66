/* Compiles the ABI header as strict C99 (see CMakeLists.txt). */
#include "ehx_adapter_abi.h"

/* Referenced so the object is not empty. */
size_t ehx_abi_c_check_min_size(void);
size_t ehx_abi_c_check_min_size(void) {
  ehx_abi_header h;
  h.abi_major = EHX_ADAPTER_ABI_MAJOR;
  h.abi_minor = EHX_ADAPTER_ABI_MINOR;
  h.struct_size = (uint32_t)sizeof(ehx_adapter_api_v1);
  return EHX_ABI_HAS_MEMBER(&h, ehx_adapter_api_v1, check_health)
             ? EHX_ADAPTER_API_V1_MIN_SIZE
             : 0;
}
