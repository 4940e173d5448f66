# The school fuzz target also reads every input with the tree-based reader
# the streaming CTF reader replaced (tests only, never in the adapter) and
# aborts when the two disagree on anything (see ctf_ingest.cc).
target_sources(fuzz_school_ctf_ingest PRIVATE
    ${EHX_ROOT}/tests/adapters/school/ctf_reader_reference.cc)
target_include_directories(fuzz_school_ctf_ingest PRIVATE
    ${EHX_ROOT}/tests/adapters/school ${EHX_XXHASH_INCLUDE_DIR})
