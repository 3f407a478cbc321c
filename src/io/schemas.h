/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The schemas of the .avsc files in schemas/, embedded at build time (embed_schemas.cmake
 * generates the table into the binary dir). Terminated by {NULL, NULL}.
 */
#ifndef LVC_IO_SCHEMAS_H
#define LVC_IO_SCHEMAS_H

struct lvc_embedded_schema {
	const char *name; /* file stem: "Trade", "PriceTick", ... */
	const char *json; /* the file's text */
};

extern const struct lvc_embedded_schema lvc_embedded_schemas[];

#endif
