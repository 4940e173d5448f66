// The folder adapter's plugin entry point (the one EHX_ADAPTER use).
#include "folder_adapter.h"

EHX_ADAPTER(ehx::adapters::folder::FolderAdapter,
            ehxpb::adapters::folder::v1::FolderConfig)
