/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Schema Registry client over libcurl (Confluent REST API v1 media type).
 * One easy handle per client, reused, so that keep-alive connections are
 * reused across requests; every request sets its own method, URL and body.
 * Response bodies are capped (LVC__REG_MAX_BODY): a schema is a few KiB, and
 * a registry answering megabytes is broken or hostile. The password and the
 * key password are copied once, handed to libcurl, wiped at destroy and
 * never formatted into a message; error texts carry the URL path, the HTTP
 * status and the registry's own "message".
 *
 * Load: a handful of requests at start (registrations) and one per new
 * writer schema id; nothing per record.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "io/registry.h"

#define LVC__REG_MAX_BODY ((size_t)4 * 1024 * 1024)
#define LVC__REG_CT       "application/vnd.schemaregistry.v1+json"

struct lvc_registry_s {
	char *url;
	char *user;
	char *password;
	char *ca_file;
	char *cert_file;
	char *key_file;
	char *key_password;
	int verify;
	int64_t timeout_us;
	CURL *curl;
	struct curl_slist *headers;
	char *body; /* response of the last request */
	size_t body_n, body_cap;
	int body_over;
};

static char *lvc__dup(const char *s)
{
	size_t n;
	char *d;

	if (s == NULL || s[0] == '\0') {
		return NULL;
	}
	n = strlen(s) + 1;
	if ((d = malloc(n)) != NULL) {
		memcpy(d, s, n);
	}
	return d;
}

/* Overwrites a secret in a way the compiler keeps. */
static void lvc__wipe(char *s)
{
	if (s != NULL) {
		volatile char *p = s;

		while (*p != '\0') {
			*p++ = '\0';
		}
	}
}

static size_t lvc__on_body(char *ptr, size_t size, size_t nmemb, void *opaque)
{
	lvc_registry_t *reg = opaque;
	size_t n = size * nmemb;

	if (reg->body_n + n + 1 > LVC__REG_MAX_BODY) {
		reg->body_over = 1;
		return 0; /* makes libcurl fail the transfer */
	}
	if (reg->body_n + n + 1 > reg->body_cap) {
		size_t cap = reg->body_cap ? reg->body_cap : 4096;
		char *p;

		while (cap < reg->body_n + n + 1) {
			cap *= 2;
		}
		if ((p = realloc(reg->body, cap)) == NULL) {
			return 0;
		}
		reg->body = p;
		reg->body_cap = cap;
	}
	memcpy(reg->body + reg->body_n, ptr, n);
	reg->body_n += n;
	reg->body[reg->body_n] = '\0';
	return n;
}

lvc_registry_t *lvc_registry_new(const lvc_registry_conf_t *conf, char *errstr, size_t errstr_size)
{
	lvc_registry_t *reg;
	size_t n;

	if (conf == NULL || conf->url == NULL || conf->url[0] == '\0') {
		snprintf(errstr, errstr_size, "schema registry: no URL");
		return NULL;
	}
	if ((reg = calloc(1, sizeof(*reg))) == NULL) {
		goto nomem;
	}
	if ((reg->url = lvc__dup(conf->url)) == NULL) {
		goto nomem;
	}
	/* Paths are appended to the base URL: one trailing slash is dropped. */
	n = strlen(reg->url);
	if (n > 0 && reg->url[n - 1] == '/') {
		reg->url[n - 1] = '\0';
	}
	reg->user = lvc__dup(conf->user);
	reg->password = lvc__dup(conf->password);
	reg->ca_file = lvc__dup(conf->ca_file);
	reg->cert_file = lvc__dup(conf->cert_file);
	reg->key_file = lvc__dup(conf->key_file);
	reg->key_password = lvc__dup(conf->key_password);
	reg->verify = conf->verify;
	reg->timeout_us = conf->timeout_us > 0 ? conf->timeout_us : INT64_C(5000000);
	if ((reg->curl = curl_easy_init()) == NULL) {
		goto nomem;
	}
	reg->headers = curl_slist_append(NULL, "Accept: " LVC__REG_CT ", application/json");
	if (reg->headers == NULL) {
		goto nomem;
	}
	reg->headers = curl_slist_append(reg->headers, "Content-Type: " LVC__REG_CT);
	if (reg->headers == NULL) {
		goto nomem;
	}
	return reg;
nomem:
	snprintf(errstr, errstr_size, "schema registry: out of memory");
	lvc_registry_destroy(reg);
	return NULL;
}

void lvc_registry_destroy(lvc_registry_t *reg)
{
	if (reg == NULL) {
		return;
	}
	if (reg->curl != NULL) {
		curl_easy_cleanup(reg->curl);
	}
	curl_slist_free_all(reg->headers);
	lvc__wipe(reg->password);
	lvc__wipe(reg->key_password);
	free(reg->url);
	free(reg->user);
	free(reg->password);
	free(reg->ca_file);
	free(reg->cert_file);
	free(reg->key_file);
	free(reg->key_password);
	free(reg->body);
	free(reg);
}

const char *lvc_registry_url(const lvc_registry_t *reg)
{
	return reg->url;
}

/* The registry's "message" from an error body, or "". */
static void lvc__reg_message(const lvc_registry_t *reg, char *out, size_t size)
{
	json_t *root = reg->body_n > 0 ? json_loadb(reg->body, reg->body_n, 0, NULL) : NULL;
	json_t *m = root != NULL ? json_object_get(root, "message") : NULL;

	out[0] = '\0';
	if (json_is_string(m)) {
		snprintf(out, size, ": %.300s", json_string_value(m));
	}
	json_decref(root);
}

/* One request: method "GET" or "POST" (body NUL-terminated JSON) to
 * url + path. *status gets the HTTP status; the body is in reg->body.
 * Returns LVC_OK for any HTTP answer, LVC_ERR_IO when there was none. */
static lvc_err_t lvc__request(lvc_registry_t *reg, const char *method, const char *path,
                              const char *body, long *status, char *errstr, size_t errstr_size)
{
	char url[2048];
	char cerr[CURL_ERROR_SIZE];
	CURLcode rc;
	CURL *c = reg->curl;
	int n;

	n = snprintf(url, sizeof(url), "%s%s", reg->url, path);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		snprintf(errstr, errstr_size, "schema registry: URL too long");
		return LVC_ERR_INVALID;
	}
	reg->body_n = 0;
	reg->body_over = 0;
	if (reg->body != NULL) {
		reg->body[0] = '\0';
	}
	cerr[0] = '\0';
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, reg->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, lvc__on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, reg);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(reg->timeout_us / 1000));
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(reg->timeout_us / 1000));
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "levcal");
	if (reg->user != NULL) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, reg->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, reg->password != NULL ? reg->password : "");
	}
	if (reg->ca_file != NULL) {
		curl_easy_setopt(c, CURLOPT_CAINFO, reg->ca_file);
	}
	if (reg->cert_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, reg->cert_file);
	}
	if (reg->key_file != NULL) {
		curl_easy_setopt(c, CURLOPT_SSLKEY, reg->key_file);
	}
	if (reg->key_password != NULL) {
		curl_easy_setopt(c, CURLOPT_KEYPASSWD, reg->key_password);
	}
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, reg->verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, reg->verify ? 2L : 0L);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(errstr, errstr_size, "schema registry %s%s: %s %s", reg->url, path,
		         reg->body_over ? "answer larger than 4 MiB" : curl_easy_strerror(rc),
		         reg->body_over ? "" : cerr);
		return reg->body_over ? LVC_ERR_DECODE : LVC_ERR_IO;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	return LVC_OK;
}

/* Maps a non-2xx status to our classes, with the message. */
static lvc_err_t lvc__status_err(lvc_registry_t *reg, const char *path, long status, char *errstr,
                                 size_t errstr_size)
{
	char msg[400];

	lvc__reg_message(reg, msg, sizeof(msg));
	snprintf(errstr, errstr_size, "schema registry %s%s answered %ld%s", reg->url, path, status,
	         msg);
	if (status == 404) {
		return LVC_ERR_NOT_FOUND;
	}
	if (status >= 500 || status == 408 || status == 429) {
		return LVC_ERR_IO;
	}
	return LVC_ERR_INVALID;
}

lvc_err_t lvc_registry_get_schema(lvc_registry_t *reg, int32_t id, char **schema_json, char *type,
                                  size_t type_size, char *errstr, size_t errstr_size)
{
	char path[64];
	long status = 0;
	json_t *root = NULL, *s, *t;
	lvc_err_t err;

	*schema_json = NULL;
	snprintf(path, sizeof(path), "/schemas/ids/%" PRId32, id);
	if ((err = lvc__request(reg, "GET", path, NULL, &status, errstr, errstr_size)) != LVC_OK) {
		return err;
	}
	if (status != 200) {
		return lvc__status_err(reg, path, status, errstr, errstr_size);
	}
	root = json_loadb(reg->body, reg->body_n, 0, NULL);
	s = root != NULL ? json_object_get(root, "schema") : NULL;
	t = root != NULL ? json_object_get(root, "schemaType") : NULL;
	if (!json_is_string(s)) {
		snprintf(errstr, errstr_size,
		         "schema registry %s%s: the answer has no \"schema\" string", reg->url,
		         path);
		err = LVC_ERR_DECODE;
		goto exit;
	}
	if (type != NULL && type_size > 0) {
		snprintf(type, type_size, "%s", json_is_string(t) ? json_string_value(t) : "AVRO");
	}
	if ((*schema_json = lvc__dup(json_string_value(s))) == NULL) {
		snprintf(errstr, errstr_size, "schema registry: out of memory");
		err = LVC_ERR_NOMEM;
	}
exit:
	json_decref(root);
	return err;
}

/* POST {"schema": schema_json} to /subjects/{subject}{suffix}; *id from
 * the answer's "id". */
static lvc_err_t lvc__post_schema(lvc_registry_t *reg, const char *subject, const char *suffix,
                                  const char *schema_json, int32_t *id, char *errstr,
                                  size_t errstr_size)
{
	char path[1024];
	char *esc = NULL, *body = NULL;
	json_t *req = NULL, *root = NULL, *jid;
	long status = 0;
	lvc_err_t err = LVC_OK;

	esc = curl_easy_escape(reg->curl, subject, 0);
	req = json_pack("{s:s}", "schema", schema_json);
	body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
	if (esc == NULL || body == NULL) {
		snprintf(errstr, errstr_size, "schema registry: out of memory");
		err = LVC_ERR_NOMEM;
		goto exit;
	}
	snprintf(path, sizeof(path), "/subjects/%s%s", esc, suffix);
	if ((err = lvc__request(reg, "POST", path, body, &status, errstr, errstr_size)) != LVC_OK) {
		goto exit;
	}
	if (status != 200) {
		err = lvc__status_err(reg, path, status, errstr, errstr_size);
		goto exit;
	}
	root = json_loadb(reg->body, reg->body_n, 0, NULL);
	jid = root != NULL ? json_object_get(root, "id") : NULL;
	if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
	    json_integer_value(jid) > INT32_MAX) {
		snprintf(errstr, errstr_size,
		         "schema registry %s%s: the answer has no valid \"id\"", reg->url, path);
		err = LVC_ERR_DECODE;
		goto exit;
	}
	*id = (int32_t)json_integer_value(jid);
exit:
	json_decref(root);
	free(body);
	json_decref(req);
	curl_free(esc);
	return err;
}

lvc_err_t lvc_registry_register(lvc_registry_t *reg, const char *subject, const char *schema_json,
                                int32_t *id, char *errstr, size_t errstr_size)
{
	return lvc__post_schema(reg, subject, "/versions", schema_json, id, errstr, errstr_size);
}

lvc_err_t lvc_registry_lookup(lvc_registry_t *reg, const char *subject, const char *schema_json,
                              int32_t *id, char *errstr, size_t errstr_size)
{
	return lvc__post_schema(reg, subject, "", schema_json, id, errstr, errstr_size);
}
