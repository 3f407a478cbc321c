/* SPDX-License-Identifier: Apache-2.0 */
#ifndef LVC_APP_VERSION_H
#define LVC_APP_VERSION_H

/* levcal's version, "MAJOR.MINOR.PATCH" (static storage). */
const char *lvc_version(void);

#endif
