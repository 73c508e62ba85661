// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* libFuzzer harness: Kubernetes JSON from the network, through json-c and
 * nosnat's Service, EndpointSlice and Node parsers, then a resolution. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct config base, out;
	json_tokener *tok = json_tokener_new();
	json_object *o;
	struct kube_service svc;
	struct kube_slice sl;
	struct kube_node node;
	char err[256];

	if (!tok)
		return 0;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)size);
	json_tokener_free(tok);
	if (!o)
		return 0;
	{
		int ok_svc = !kube_parse_service(o, &svc, err, sizeof(err));
		int ok_sl = !kube_parse_slice(o, &sl, err, sizeof(err));
		int ok_node = !kube_parse_node(o, &node, err, sizeof(err));
		struct kube_snapshot snap = {
			.svcs = &svc, .n_svcs = ok_svc, .slices = &sl, .n_slices = ok_sl,
			.nodes = &node, .n_nodes = ok_node,
		};

		if (ok_svc && svc.n_ports > KUBE_MAX_PORTS)
			abort();
		memset(&base, 0, offsetof(struct config, vips));
		base.nodes_from_kube = 1;
		base.n_ksvcs = 1;
		strcpy(base.ksvcs[0].ns, ok_svc ? svc.ns : "ns");
		strcpy(base.ksvcs[0].name, ok_svc ? svc.name : "n");
		strcpy(base.ksvcs[0].label, "fuzz");
		base.n_vips = base.n_bes = 0;
		{
			struct kube_resolve r = { .base = &base, .snap = &snap,
						  .node_ip = htonl(0xc633640b) };	/* 198.51.100.11 */

			kube_resolve(&r, &out, err, sizeof(err));
		}
		if (ok_sl)
			kube_slice_free(&sl);
	}
	json_object_put(o);
	return 0;
}
