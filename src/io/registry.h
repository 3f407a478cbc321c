/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Schema Registry client (the Confluent REST API, which Confluent Schema
 * Registry, Karapace, Apicurio's /apis/ccompat/v7 and others serve), over
 * libcurl: fetch a schema by id, register a schema under a subject, look up
 * the id of an existing version. Basic auth and TLS options (CA file,
 * client certificate and key, peer verification) come from the config; the
 * password is handed to libcurl and never written to an error or a log.
 *
 * Errors are classified for the caller's retry rule: LVC_ERR_NOT_FOUND (the
 * registry answered 404: the id or subject does not exist, permanent),
 * LVC_ERR_INVALID (another 4xx, e.g. 401, 409 incompatible, 422: permanent),
 * LVC_ERR_IO (the registry could not be reached, timed out or answered 5xx:
 * transient, try again later), LVC_ERR_DECODE (a 200 whose body is not what
 * the API returns).
 *
 * Thread rules: a client is used by one thread at a time (one curl easy
 * handle, reused so that connections are kept alive).
 */
#ifndef LVC_IO_REGISTRY_H
#define LVC_IO_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct lvc_registry_conf_s {
	const char *url;          /* base URL, e.g. "http://127.0.0.1:8081" (no trailing /) */
	const char *user;         /* basic auth user, NULL or "" for none */
	const char *password;     /* basic auth password (secret) */
	const char *ca_file;      /* PEM CA bundle, NULL: the system's */
	const char *cert_file;    /* PEM client certificate (mutual TLS), NULL: none */
	const char *key_file;     /* PEM key of cert_file */
	const char *key_password; /* password of key_file (secret), NULL: none */
	int verify;               /* 1: verify the server's certificate and host name */
	int64_t timeout_us;       /* whole-request timeout */
} lvc_registry_conf_t;

typedef struct lvc_registry_s lvc_registry_t;

/* Creates a client; copies what conf points to. NULL with errstr. */
lvc_registry_t *lvc_registry_new(const lvc_registry_conf_t *conf, char *errstr, size_t errstr_size);

/* Frees reg (wiping the copied secrets); accepts NULL. */
void lvc_registry_destroy(lvc_registry_t *reg);

/* The base URL (for messages). */
const char *lvc_registry_url(const lvc_registry_t *reg);

/* GET /schemas/ids/{id}: the schema text into *schema_json (caller frees)
 * and its type ("AVRO" when the registry omits it) into type (NUL-ended,
 * type_size bytes). */
lvc_err_t lvc_registry_get_schema(lvc_registry_t *reg, int32_t id, char **schema_json, char *type,
                                  size_t type_size, char *errstr, size_t errstr_size);

/* POST /subjects/{subject}/versions: registers schema_json (Avro) under
 * subject, or finds the version that has it; *id is its id. */
lvc_err_t lvc_registry_register(lvc_registry_t *reg, const char *subject, const char *schema_json,
                                int32_t *id, char *errstr, size_t errstr_size);

/* POST /subjects/{subject}: the id of the version of subject that has
 * schema_json; LVC_ERR_NOT_FOUND when no version has it. */
lvc_err_t lvc_registry_lookup(lvc_registry_t *reg, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t errstr_size);

#endif
