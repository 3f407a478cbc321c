/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LVC_ERRF(fmt, ...): formats a message into the calling function's error
 * buffer, which must be named errstr with its size in errstr_size (the
 * convention of every function that reports errors); nothing when
 * errstr_size is 0.
 */
#ifndef LVC_CORE_ERRFMT_H
#define LVC_CORE_ERRFMT_H
#include <stdio.h>

#define LVC_ERRF(...)                                               \
	do {                                                        \
		if (errstr_size > 0) {                              \
			snprintf(errstr, errstr_size, __VA_ARGS__); \
		}                                                   \
	} while (0)

#endif
