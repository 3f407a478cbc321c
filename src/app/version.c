/* SPDX-License-Identifier: Apache-2.0 */
/* The version string, from the CMake project version. */
#include "app/version.h"

const char *lvc_version(void)
{
	return LVC_VERSION;
}
