/* SPDX-License-Identifier: Apache-2.0 */
/* levcal entry point (placeholder until the subcommands land). */
#include <stdio.h>

int main(void)
{
	fputs("levcal: not built yet\n", stderr);
	return 1;
}
