# SPDX-License-Identifier: Apache-2.0
#
# Generates a C file holding each schemas/NAME.avsc as a string, so that the
# .avsc files stay the single source of the schemas the binary uses.
set(out "/* Generated from the .avsc files in schemas/ by embed_schemas.cmake; do not edit. */\n")
string(APPEND out "#include <stddef.h>\n\n#include \"io/schemas.h\"\n\n")
set(table "")
string(REPLACE "," ";" NAMES "${NAMES}")
foreach(n ${NAMES})
  file(READ ${DIR}/${n}.avsc text HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${text}")
  string(APPEND out "static const char lvc_schema_${n}[] = {${bytes}0x00};\n")
  string(APPEND table "\t{\"${n}\", lvc_schema_${n}},\n")
endforeach()
string(APPEND out "\nconst struct lvc_embedded_schema\n")
string(APPEND out "\tlvc_embedded_schemas[] = {\n${table}\t{NULL, NULL}\n};\n")
file(WRITE ${OUT}.tmp "${out}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
