# SPDX-License-Identifier: Apache-2.0
#
# Fails the build when a file in src/core includes anything but a C11/POSIX
# standard header or another src/core header.
set(allowed assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h limits.h
    math.h setjmp.h stdalign.h stdarg.h stdbool.h stddef.h stdint.h stdio.h
    stdlib.h stdnoreturn.h string.h tgmath.h)
file(GLOB files ${DIR}/*.c ${DIR}/*.h)
set(bad "")
foreach(f ${files})
  file(STRINGS ${f} lines REGEX "^[ \t]*#[ \t]*include")
  foreach(l ${lines})
    if(l MATCHES "<([^>]+)>")
      list(FIND allowed "${CMAKE_MATCH_1}" idx)
      if(idx EQUAL -1)
        string(APPEND bad "\n  ${f}: ${l}")
      endif()
    elseif(l MATCHES "\"([^\"]+)\"")
      if(NOT CMAKE_MATCH_1 MATCHES "^core/[a-z0-9_]+\\.h$")
        string(APPEND bad "\n  ${f}: ${l}")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "src/core must include only standard C headers and core/*.h:${bad}")
endif()
file(WRITE ${STAMP} "ok\n")
