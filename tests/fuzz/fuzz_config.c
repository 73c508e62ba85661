// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: the YAML configuration parser. Any input must give a
 * configuration or one FILE:LINE:COL error, never a crash, leak or UB. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config cfg;
	char err[512];

	err[0] = '\0';
	if (config_parse("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof(err))) {
		if (strncmp(err, "fuzz.yaml:", 10) || strchr(err, '\n'))
			abort();	/* every error names its place, on one line */
	} else if (cfg.n_vips > NOSNAT_MAX_VIPS || cfg.n_bes > NOSNAT_MAX_BACKENDS) {
		abort();
	}
	return 0;
}
