// The plugin's entry symbol (the only TU the core library leaves out).
#include "ehx_sdk/adapter.h"
#include "school_adapter.h"

EHX_ADAPTER(ehx::adapters::school::SchoolAdapter,
            ehxpb::adapters::school::v1::SchoolConfig)
