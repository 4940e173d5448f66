// The plugin entry point of the health adapter (the only TU not in
// ehx_adapter_health_core).
#include "health_adapter.h"

EHX_ADAPTER(ehx::adapters::health::HealthAdapter,
            ehxpb::adapters::health::v1::HealthConfig)
