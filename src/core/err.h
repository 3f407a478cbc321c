/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes shared by every layer. Functions return lvc_err_t: 0 is
 * success, every failure is negative. Human text is made only at the edges,
 * into a caller's errstr buffer; lvc_err2str() names the code itself.
 */
#ifndef LVC_CORE_ERR_H
#define LVC_CORE_ERR_H

typedef enum lvc_err_e {
	LVC_OK = 0,
	LVC_ERR_NOMEM = -1,     /* an allocation failed or a cap was reached */
	LVC_ERR_INVALID = -2,   /* an argument or a record value is not allowed */
	LVC_ERR_DECODE = -3,    /* bytes are not a valid encoding */
	LVC_ERR_RANGE = -4,     /* a value or size is outside what is supported */
	LVC_ERR_NOT_FOUND = -5, /* a key, file or record is not there */
	LVC_ERR_IO = -6,        /* reading or writing a file or socket failed */
	LVC_ERR_CONFIG = -7,    /* the configuration is invalid */
	LVC_ERR_KAFKA = -8,     /* the Kafka client reported an error */
	LVC_ERR_STATE = -9,     /* an operation is not allowed in this state */
	LVC_ERR_FATAL = -10,    /* unrecoverable: the process must exit non-zero */
} lvc_err_t;

/* Returns a static, human-readable name of err; never NULL. */
const char *lvc_err2str(lvc_err_t err);

#endif
