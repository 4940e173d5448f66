// The plugin entry point of the CSC adapter (the only TU not in
// ehx_adapter_csc_core).
#include "csc_adapter.h"

EHX_ADAPTER(ehx::adapters::csc::CscAdapter, ehxpb::adapters::csc::v1::CscConfig)
