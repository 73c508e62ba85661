/* attach.h - putting the dataplane on an interface and taking it off:
 * skeleton load with pinned maps, XDP through a pinned bpf_link, tc clsact. */
#ifndef NOSNAT_ATTACH_H
#define NOSNAT_ATTACH_H

#include <linux/types.h>

enum xdp_mode { XDP_MODE_NATIVE, XDP_MODE_GENERIC };

/* How encapsulated frames leave: XDP_TX/redirect, or through the tc twin
 * (kernel routing + neighbours). auto: tc on a veth uplink, whose peer
 * drops XDP_TX frames unless it runs an XDP program itself. */
enum encap_via { ENCAP_VIA_AUTO, ENCAP_VIA_XDP, ENCAP_VIA_TC };

#define NOSNAT_TC_HANDLE	0x6e73
#define NOSNAT_TC_PRIO		1

int dp_attach(const char *pin_dir, const char *ifname, enum xdp_mode mode, __be32 node_ip,
	      enum encap_via via);
int parse_encap_via(const char *s, enum encap_via *via);
int dp_detach(const char *pin_dir, const char *ifname);
/* First IPv4 address of ifname, and its MTU. */
int iface_ipv4(const char *ifname, __be32 *addr);
int iface_mtu(const char *ifname, unsigned int *mtu);

#endif
