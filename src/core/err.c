/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Names of lvc_err_t codes. A table indexed by -code keeps it in one place.
 */
#include "core/err.h"

const char *lvc_err2str(lvc_err_t err)
{
	switch (err) {
	case LVC_OK:
		return "success";
	case LVC_ERR_NOMEM:
		return "out of memory";
	case LVC_ERR_INVALID:
		return "invalid value";
	case LVC_ERR_DECODE:
		return "malformed encoding";
	case LVC_ERR_RANGE:
		return "value out of range";
	case LVC_ERR_NOT_FOUND:
		return "not found";
	case LVC_ERR_IO:
		return "input/output error";
	case LVC_ERR_CONFIG:
		return "invalid configuration";
	case LVC_ERR_KAFKA:
		return "kafka error";
	case LVC_ERR_STATE:
		return "operation not allowed in this state";
	case LVC_ERR_FATAL:
		return "fatal error";
	}
	return "unknown error";
}
