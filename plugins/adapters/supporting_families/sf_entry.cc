// The Supporting Families adapter's plugin entry point.
#include "sf_adapter.h"

EHX_ADAPTER(ehx::adapters::supporting_families::SupportingFamiliesAdapter,
            ehxpb::adapters::supporting_families::v1::SupportingFamiliesConfig)
