/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A strict parser of the Prometheus text exposition format 0.0.4, for the
 * tests of io/metrics and io/http: what they render must pass it, and
 * tests read values back through it rather than grepping. Written from the
 * format's description (prometheus/docs exposition_formats.md), independently
 * of src/io/metrics.c. It refuses:
 *   - a text that does not end in a newline, a line with a NUL or CR;
 *   - metric and label names outside [a-zA-Z_:][a-zA-Z0-9_:]* and
 *     [a-zA-Z_][a-zA-Z0-9_]*;
 *   - escapes other than \\ and \n in HELP, \\ \" \n in label values;
 *   - values that are not Go floats (digits with optional fraction and
 *     exponent, NaN, +Inf, -Inf, Inf); timestamps that are not integers;
 *   - HELP or TYPE given twice for a name, TYPE after a sample of its
 *     family, unknown types;
 *   - samples of one family not contiguous, the same series twice;
 *   - counters below 0;
 *   - histograms whose le bounds are not increasing, whose bucket counts are
 *     not cumulative, without an le="+Inf" bucket, without _sum or _count,
 *     or whose _count differs from the +Inf bucket.
 * Every rule has a test in test_metrics.c that feeds it a broken text.
 */
#ifndef LVC_TEST_METRICS_PARSER_H
#define LVC_TEST_METRICS_PARSER_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_MAX_LABELS 8
#define PROM_MAX_NAME   128
#define PROM_MAX_VALUE  512

typedef struct prom_sample_s {
	char name[PROM_MAX_NAME];
	char family[PROM_MAX_NAME];
	int nlabels;
	char lname[PROM_MAX_LABELS][PROM_MAX_NAME];
	char lvalue[PROM_MAX_LABELS][PROM_MAX_VALUE];
	double value;
} prom_sample_t;

typedef struct prom_family_s {
	char name[PROM_MAX_NAME];
	char type[16]; /* "" when no TYPE line */
	char help[PROM_MAX_VALUE];
	int has_help;
	int seen_samples;
	int closed; /* another family's samples came after this one's */
} prom_family_t;

typedef struct prom_doc_s {
	prom_sample_t *samples;
	size_t n, cap;
	prom_family_t fams[256];
	size_t nfams;
	char err[512];
} prom_doc_t;

__attribute__((unused)) static void prom_free(prom_doc_t *d)
{
	free(d->samples);
	memset(d, 0, sizeof(*d));
}

__attribute__((unused)) static int prom_fail(prom_doc_t *d, int line, const char *what)
{
	snprintf(d->err, sizeof(d->err), "line %d: %s", line, what);
	return -1;
}

static int prom_is_name_start(char c, int colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int prom_is_name_char(char c, int colon)
{
	return prom_is_name_start(c, colon) || (c >= '0' && c <= '9');
}

/* Reads a name at *p into out; returns its length or 0. */
static size_t prom_name(const char **p, char *out, int colon)
{
	size_t n = 0;

	if (!prom_is_name_start(**p, colon)) {
		return 0;
	}
	while (prom_is_name_char(**p, colon) && n + 1 < PROM_MAX_NAME) {
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
	return prom_is_name_char(**p, colon) ? 0 : n;
}

/* A Go ParseFloat-style number as Prometheus writes it; 0 or -1. */
static int prom_float(const char *s, size_t len, double *out)
{
	char buf[64];
	size_t i = 0;
	int digits = 0;

	if (len == 0 || len >= sizeof(buf)) {
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strcmp(buf, "NaN") == 0) {
		*out = NAN;
		return 0;
	}
	if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "Inf") == 0) {
		*out = INFINITY;
		return 0;
	}
	if (strcmp(buf, "-Inf") == 0) {
		*out = -INFINITY;
		return 0;
	}
	if (buf[i] == '+' || buf[i] == '-') {
		i++;
	}
	while (buf[i] >= '0' && buf[i] <= '9') {
		i++;
		digits++;
	}
	if (buf[i] == '.') {
		i++;
		while (buf[i] >= '0' && buf[i] <= '9') {
			i++;
			digits++;
		}
	}
	if (digits == 0) {
		return -1;
	}
	if (buf[i] == 'e' || buf[i] == 'E') {
		int ed = 0;

		i++;
		if (buf[i] == '+' || buf[i] == '-') {
			i++;
		}
		while (buf[i] >= '0' && buf[i] <= '9') {
			i++;
			ed++;
		}
		if (ed == 0) {
			return -1;
		}
	}
	if (buf[i] != '\0') {
		return -1;
	}
	*out = strtod(buf, NULL);
	return 0;
}

static prom_family_t *prom_family(prom_doc_t *d, const char *name, int create)
{
	for (size_t i = 0; i < d->nfams; i++) {
		if (strcmp(d->fams[i].name, name) == 0) {
			return &d->fams[i];
		}
	}
	if (!create || d->nfams == sizeof(d->fams) / sizeof(d->fams[0])) {
		return NULL;
	}
	memset(&d->fams[d->nfams], 0, sizeof(d->fams[0]));
	snprintf(d->fams[d->nfams].name, PROM_MAX_NAME, "%s", name);
	return &d->fams[d->nfams++];
}

static int prom_ends(const char *s, const char *suf, size_t *stem)
{
	size_t n = strlen(s), m = strlen(suf);

	if (n > m && strcmp(s + n - m, suf) == 0) {
		*stem = n - m;
		return 1;
	}
	return 0;
}

/* The family a sample name belongs to: a histogram or summary that was
 * TYPEd owns NAME_bucket/_sum/_count; otherwise the name itself. */
static void prom_family_of(prom_doc_t *d, const char *name, char *fam)
{
	static const char *const sufs[] = { "_bucket", "_sum", "_count" };

	for (size_t i = 0; i < 3; i++) {
		size_t stem;

		if (prom_ends(name, sufs[i], &stem)) {
			char base[PROM_MAX_NAME];
			prom_family_t *f;

			memcpy(base, name, stem);
			base[stem] = '\0';
			f = prom_family(d, base, 0);
			if (f != NULL && (strcmp(f->type, "histogram") == 0 ||
			                  strcmp(f->type, "summary") == 0)) {
				strcpy(fam, base);
				return;
			}
		}
	}
	strcpy(fam, name);
}

/* Unescapes a HELP text (\\ and \n); 0 or -1. */
static int prom_help(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\') {
			if (i + 1 >= len || (s[i + 1] != '\\' && s[i + 1] != 'n')) {
				return -1;
			}
			c = s[++i] == 'n' ? '\n' : '\\';
		}
		if (o + 1 < size) {
			out[o++] = c;
		}
	}
	out[o] = '\0';
	return 0;
}

static int prom_same_labels(const prom_sample_t *a, const prom_sample_t *b, const char *skip)
{
	int na = 0, nb = 0;

	for (int i = 0; i < a->nlabels; i++) {
		if (skip == NULL || strcmp(a->lname[i], skip) != 0) {
			int found = 0;

			na++;
			for (int j = 0; j < b->nlabels; j++) {
				if (strcmp(a->lname[i], b->lname[j]) == 0 &&
				    strcmp(a->lvalue[i], b->lvalue[j]) == 0) {
					found = 1;
				}
			}
			if (!found) {
				return 0;
			}
		}
	}
	for (int j = 0; j < b->nlabels; j++) {
		if (skip == NULL || strcmp(b->lname[j], skip) != 0) {
			nb++;
		}
	}
	return na == nb;
}

__attribute__((unused)) static const char *prom_label(const prom_sample_t *s, const char *name)
{
	for (int i = 0; i < s->nlabels; i++) {
		if (strcmp(s->lname[i], name) == 0) {
			return s->lvalue[i];
		}
	}
	return NULL;
}

/* Parses one sample line; 0 or -1 with d->err. */
static int prom_sample_line(prom_doc_t *d, int ln, const char *p, const char *end)
{
	prom_sample_t s;
	prom_family_t *f;
	const char *v;

	memset(&s, 0, sizeof(s));
	if (prom_name(&p, s.name, 1) == 0) {
		return prom_fail(d, ln, "bad metric name");
	}
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t o = 0;

			if (s.nlabels == PROM_MAX_LABELS) {
				return prom_fail(d, ln, "too many labels");
			}
			if (prom_name(&p, s.lname[s.nlabels], 0) == 0) {
				return prom_fail(d, ln, "bad label name");
			}
			for (int i = 0; i < s.nlabels; i++) {
				if (strcmp(s.lname[i], s.lname[s.nlabels]) == 0) {
					return prom_fail(d, ln, "label name repeated");
				}
			}
			if (*p++ != '=' || *p++ != '"') {
				return prom_fail(d, ln, "expected =\" after a label name");
			}
			while (*p != '"') {
				char c = *p;

				if (p >= end || c == '\n') {
					return prom_fail(d, ln, "unterminated label value");
				}
				if (c == '\\') {
					p++;
					if (*p == '\\' || *p == '"') {
						c = *p;
					} else if (*p == 'n') {
						c = '\n';
					} else {
						return prom_fail(d, ln,
						                 "bad escape in a label value");
					}
				}
				if (o + 1 >= PROM_MAX_VALUE) {
					return prom_fail(
					    d, ln, "label value too long for the test parser");
				}
				s.lvalue[s.nlabels][o++] = c;
				p++;
			}
			p++;
			s.nlabels++;
			if (*p == ',') {
				p++;
			} else if (*p != '}') {
				return prom_fail(d, ln, "expected , or } after a label value");
			}
		}
		p++;
	}
	if (*p != ' ' && *p != '\t') {
		return prom_fail(d, ln, "expected a blank before the value");
	}
	while (*p == ' ' || *p == '\t') {
		p++;
	}
	v = p;
	while (p < end && *p != ' ' && *p != '\t') {
		p++;
	}
	if (prom_float(v, (size_t)(p - v), &s.value) != 0) {
		return prom_fail(d, ln, "value is not a float");
	}
	while (*p == ' ' || *p == '\t') {
		p++;
	}
	if (p < end) {
		const char *t = p;

		if (*p == '-') {
			p++;
		}
		while (p < end && *p >= '0' && *p <= '9') {
			p++;
		}
		if (p != end || p == t) {
			return prom_fail(d, ln, "timestamp is not an integer");
		}
	}
	prom_family_of(d, s.name, s.family);
	if ((f = prom_family(d, s.family, 1)) == NULL) {
		return prom_fail(d, ln, "too many families for the test parser");
	}
	if (f->closed) {
		return prom_fail(d, ln, "samples of a family are not contiguous");
	}
	for (size_t i = 0; i < d->nfams; i++) {
		if (&d->fams[i] != f && d->fams[i].seen_samples) {
			d->fams[i].closed = 1;
		}
	}
	f->seen_samples = 1;
	if (strcmp(f->type, "counter") == 0 && !(s.value >= 0)) {
		return prom_fail(d, ln, "counter below 0 or NaN");
	}
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->samples[i].name, s.name) == 0 &&
		    prom_same_labels(&d->samples[i], &s, NULL)) {
			return prom_fail(d, ln, "series given twice");
		}
	}
	if (d->n == d->cap) {
		size_t cap = d->cap == 0 ? 64 : d->cap * 2;
		prom_sample_t *ns = realloc(d->samples, cap * sizeof(*ns));

		if (ns == NULL) {
			return prom_fail(d, ln, "out of memory");
		}
		d->samples = ns;
		d->cap = cap;
	}
	d->samples[d->n++] = s;
	return 0;
}

/* The histogram rules, checked once the whole text is read. */
static int prom_check_histograms(prom_doc_t *d)
{
	for (size_t fi = 0; fi < d->nfams; fi++) {
		const prom_family_t *f = &d->fams[fi];
		char bname[PROM_MAX_NAME + 8], sname[PROM_MAX_NAME + 8], cname[PROM_MAX_NAME + 8];

		if (strcmp(f->type, "histogram") != 0) {
			continue;
		}
		snprintf(bname, sizeof(bname), "%s_bucket", f->name);
		snprintf(sname, sizeof(sname), "%s_sum", f->name);
		snprintf(cname, sizeof(cname), "%s_count", f->name);
		for (size_t i = 0; i < d->n; i++) {
			const prom_sample_t *c = &d->samples[i];
			double prev_le = -INFINITY, prev_count = 0, inf_count = -1;
			int has_sum = 0;

			if (strcmp(c->name, cname) != 0) {
				continue;
			}
			for (size_t j = 0; j < d->n; j++) {
				const prom_sample_t *b = &d->samples[j];
				const char *les;
				double le;

				if (strcmp(b->name, sname) == 0 && prom_same_labels(b, c, NULL)) {
					has_sum = 1;
				}
				if (strcmp(b->name, bname) != 0 || !prom_same_labels(b, c, "le")) {
					continue;
				}
				if ((les = prom_label(b, "le")) == NULL ||
				    prom_float(les, strlen(les), &le) != 0) {
					snprintf(d->err, sizeof(d->err),
					         "%s: bucket without a float le", f->name);
					return -1;
				}
				if (!(le > prev_le)) {
					snprintf(d->err, sizeof(d->err), "%s: le %s not increasing",
					         f->name, les);
					return -1;
				}
				if (b->value < prev_count) {
					snprintf(d->err, sizeof(d->err),
					         "%s: bucket le=%s not cumulative", f->name, les);
					return -1;
				}
				prev_le = le;
				prev_count = b->value;
				if (isinf(le) && le > 0) {
					inf_count = b->value;
				}
			}
			if (inf_count < 0) {
				snprintf(d->err, sizeof(d->err), "%s: no le=\"+Inf\" bucket",
				         f->name);
				return -1;
			}
			if (inf_count != c->value) {
				snprintf(d->err, sizeof(d->err), "%s: _count %g != +Inf bucket %g",
				         f->name, c->value, inf_count);
				return -1;
			}
			if (!has_sum) {
				snprintf(d->err, sizeof(d->err), "%s: no _sum", f->name);
				return -1;
			}
		}
		/* Every bucket series needs its _count. */
		for (size_t j = 0; j < d->n; j++) {
			int found = 0;

			if (strcmp(d->samples[j].name, bname) != 0) {
				continue;
			}
			for (size_t i = 0; i < d->n; i++) {
				if (strcmp(d->samples[i].name, cname) == 0 &&
				    prom_same_labels(&d->samples[j], &d->samples[i], "le")) {
					found = 1;
				}
			}
			if (!found) {
				snprintf(d->err, sizeof(d->err), "%s: buckets without _count",
				         f->name);
				return -1;
			}
		}
	}
	return 0;
}

/* Parses text; 0, or -1 with the reason in d->err. d is zeroed first; free
 * it with prom_free() in both cases. */
__attribute__((unused)) static int prom_parse(const char *text, prom_doc_t *d)
{
	const char *p = text;
	int ln = 0;

	memset(d, 0, sizeof(*d));
	if (*text != '\0' && text[strlen(text) - 1] != '\n') {
		return prom_fail(d, 0, "text does not end in a newline");
	}
	while (*p != '\0') {
		const char *end = strchr(p, '\n');

		ln++;
		for (const char *q = p; q < end; q++) {
			if (*q == '\r') {
				return prom_fail(d, ln, "carriage return");
			}
		}
		if (end == p) {
			/* Empty lines are allowed. */
		} else if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
			int help = p[2] == 'H';
			const char *q = p + 7;
			char name[PROM_MAX_NAME];
			prom_family_t *f;

			if (prom_name(&q, name, 1) == 0 || (*q != ' ' && q != end)) {
				return prom_fail(d, ln, "bad name in HELP/TYPE");
			}
			if ((f = prom_family(d, name, 1)) == NULL) {
				return prom_fail(d, ln, "too many families for the test parser");
			}
			if (q < end) {
				q++;
			}
			if (help) {
				if (f->has_help) {
					return prom_fail(d, ln, "HELP given twice");
				}
				if (prom_help(q, (size_t)(end - q), f->help, sizeof(f->help)) !=
				    0) {
					return prom_fail(d, ln, "bad escape in HELP");
				}
				f->has_help = 1;
			} else {
				size_t tn = (size_t)(end - q);

				if (f->type[0] != '\0') {
					return prom_fail(d, ln, "TYPE given twice");
				}
				if (f->seen_samples) {
					return prom_fail(d, ln, "TYPE after samples");
				}
				if (!((tn == 7 && strncmp(q, "counter", 7) == 0) ||
				      (tn == 5 && strncmp(q, "gauge", 5) == 0) ||
				      (tn == 9 && strncmp(q, "histogram", 9) == 0) ||
				      (tn == 7 && strncmp(q, "summary", 7) == 0) ||
				      (tn == 7 && strncmp(q, "untyped", 7) == 0))) {
					return prom_fail(d, ln, "unknown TYPE");
				}
				memcpy(f->type, q, tn);
				f->type[tn] = '\0';
			}
		} else if (*p == '#') {
			/* A comment. */
		} else if (prom_sample_line(d, ln, p, end) != 0) {
			return -1;
		}
		p = end + 1;
	}
	return prom_check_histograms(d);
}

/* The value of series name{labels}, labels given as "a=x,b=y" ("" for
 * none; values without commas or '='). Returns 1 and *v when found. */
__attribute__((unused)) static int prom_find(const prom_doc_t *d, const char *name,
                                             const char *labels, double *v)
{
	prom_sample_t want;

	memset(&want, 0, sizeof(want));
	if (labels != NULL && *labels != '\0') {
		char buf[1024], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", labels);
		for (char *kv = strtok_r(buf, ",", &save); kv != NULL;
		     kv = strtok_r(NULL, ",", &save)) {
			char *eq = strchr(kv, '=');

			if (eq == NULL || want.nlabels == PROM_MAX_LABELS) {
				return 0;
			}
			*eq = '\0';
			snprintf(want.lname[want.nlabels], PROM_MAX_NAME, "%s", kv);
			snprintf(want.lvalue[want.nlabels], PROM_MAX_VALUE, "%s", eq + 1);
			want.nlabels++;
		}
	}
	for (size_t i = 0; i < d->n; i++) {
		if (strcmp(d->samples[i].name, name) == 0 &&
		    prom_same_labels(&d->samples[i], &want, NULL)) {
			*v = d->samples[i].value;
			return 1;
		}
	}
	return 0;
}

/* The TYPE of family name, or NULL. */
__attribute__((unused)) static const char *prom_type(const prom_doc_t *d, const char *name)
{
	for (size_t i = 0; i < d->nfams; i++) {
		if (strcmp(d->fams[i].name, name) == 0) {
			return d->fams[i].type;
		}
	}
	return NULL;
}

#endif
