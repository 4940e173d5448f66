# cmake -DNAME=<adapter> -DIN=<src .proto> -DOUT=<dst .proto> -P ehx_rewrite_proto.cmake
#
# Copies one .proto into an adapter's private schema copy, renaming the
# ehx.* packages to ehxa_<NAME>.* and the "ehx/..." imports to
# "ehxa_<NAME>/...", so that the adapter's generated code never collides
# with the gateway's (or another adapter's) in protobuf's generated pool.
# google/protobuf/* imports and well-known types are left alone. The wire
# format and the JSON mapping are unchanged (packages appear in neither).
if(NOT NAME OR NOT IN OR NOT OUT)
  message(FATAL_ERROR "ehx_rewrite_proto: NAME, IN and OUT are required")
endif()
file(READ "${IN}" text)
# import "ehx/..."  ->  import "ehxa_<NAME>/..."
string(REGEX REPLACE "\"ehx/" "\"ehxa_${NAME}/" text "${text}")
# package ehx.x.v1; and fully qualified refs (.)ehx.x.v1.Foo
string(REGEX REPLACE "([^A-Za-z0-9_/\"])ehx\\.([a-z][a-z0-9_]*\\.)"
       "\\1ehxa_${NAME}.\\2" text "${text}")
get_filename_component(dir "${OUT}" DIRECTORY)
file(MAKE_DIRECTORY "${dir}")
file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
