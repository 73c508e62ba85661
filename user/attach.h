/* attach.h - putting the dataplane on an interface and taking it off:
 * skeleton load with pinned maps, XDP through a pinned bpf_link, tc clsact. */
#ifndef NOSNAT_ATTACH_H
#define NOSNAT_ATTACH_H

#include <stdio.h>
#include <linux/types.h>

enum xdp_mode { XDP_MODE_NATIVE, XDP_MODE_GENERIC };

/* Where the dataplane runs (README: "Hooks"). tc ingress and egress are
 * always attached. xdp: XDP in front of them, or fail. tc: no XDP (an XDP
 * link of an earlier attach is removed); tc ingress does the whole job.
 * auto: XDP, else, when the driver refuses it, tc as with --hook tc. */
enum attach_hook { ATTACH_HOOK_AUTO, ATTACH_HOOK_XDP, ATTACH_HOOK_TC };

/* XDP's metadata hand-off to tc ingress. auto: used when the kernel lets
 * XDP programs call bpf_xdp_adjust_meta; off: XDP loaded without it (as a
 * kernel that refuses the helper gets), passing on what it cannot finish. */
enum xdp_meta_use { XDP_META_AUTO, XDP_META_OFF };

/* How encapsulated frames leave: XDP_TX/redirect, or through the tc twin
 * (kernel routing + neighbours). auto: tc on a veth uplink, whose peer
 * drops XDP_TX frames unless it runs an XDP program itself. */
enum encap_via { ENCAP_VIA_AUTO, ENCAP_VIA_XDP, ENCAP_VIA_TC };

#define NOSNAT_TC_HANDLE	0x6e73
#define NOSNAT_TC_PRIO		1

/* How flows are kept (README: "Connections that survive"). */
enum ct_use { CT_USE_AUTO, CT_USE_OFF };
struct flow_opts {
	__u32 new_flow_limit;	/* SYNs recorded per CPU and second towards other nodes */
	enum ct_use conntrack;	/* auto: the conntrack kfuncs when the kernel has them */
	__u32 ct_mark_mask;	/* conntrack mark bits nosnat may use */
	__u32 flow_entries;	/* established flows the flow table holds */
};
void flow_opts_default(struct flow_opts *f);
/* --new-flow-limit, --conntrack, --ct-mark-mask, --flow-table (getopt codes
 * 'L', 'C', 'M', 'F'): 0 when taken, -1 when not one of them; exits on a
 * bad value. */
int flow_opt(struct flow_opts *f, int opt, const char *arg);
#define FLOW_OPTS_LONG \
	{ "new-flow-limit", required_argument, NULL, 'L' }, \
	{ "conntrack", required_argument, NULL, 'C' }, \
	{ "ct-mark-mask", required_argument, NULL, 'M' }, \
	{ "flow-table", required_argument, NULL, 'F' }
#define FLOW_OPTS_USAGE "[--new-flow-limit N] [--conntrack auto|off] [--ct-mark-mask MASK]\n" \
	"       [--flow-table ENTRIES]"
#define FLOW_TABLE_MIN	16384
#define FLOW_TABLE_MAX	(1u << 24)
/* The memory the maps lock at these sizes, created unpinned and released:
 * one line on out (attach --dry-run). */
int dp_memlock(const struct flow_opts *f, FILE *out);

/* How VIP packets travel between nodes (README: "Encapsulation"): what this
 * node sends (IPIP or GUE, to which UDP port) and what it takes off from
 * known nodes. Taking both off (the default) lets a cluster change what it
 * sends one node at a time. */
struct tunnel_opts {
	__u8 encap;		/* enum nosnat_encap */
	__u8 decap;		/* NOSNAT_DECAP_* */
	__u16 gue_port;		/* host order */
	unsigned int given;	/* TUNNEL_GIVEN_*: on the command line, over the YAML's */
};
#define TUNNEL_GIVEN_ENCAP	0x1
#define TUNNEL_GIVEN_PORT	0x2
#define TUNNEL_GIVEN_DECAP	0x4
void tunnel_opts_default(struct tunnel_opts *t);
/* --encap, --gue-port, --decap (getopt codes TUNNEL_OPT_*): 0 when taken,
 * -1 when not one of them; exits on a bad value. */
int tunnel_opt(struct tunnel_opts *t, int opt, const char *arg);
#define TUNNEL_OPT_ENCAP	0x101
#define TUNNEL_OPT_GUE_PORT	0x102
#define TUNNEL_OPT_DECAP	0x103
#define TUNNEL_OPTS_LONG \
	{ "encap", required_argument, NULL, TUNNEL_OPT_ENCAP }, \
	{ "gue-port", required_argument, NULL, TUNNEL_OPT_GUE_PORT }, \
	{ "decap", required_argument, NULL, TUNNEL_OPT_DECAP }
#define TUNNEL_OPTS_USAGE "[--encap ipip|gue] [--gue-port PORT] [--decap ipip,gue|ipip|gue]"

/* How to attach: the hook, XDP mode and metadata, this node's address, the
 * encapsulation path, how flows are kept. */
struct attach_opts {
	enum attach_hook hook;
	enum xdp_mode mode;
	enum xdp_meta_use xdp_meta;
	__be32 node_ip;		/* 0: the interface's first address */
	__u8 node_ip6[16];	/* zero: the interface's first global IPv6
				 * address, or none */
	enum encap_via via;
	struct flow_opts flow;
	struct tunnel_opts tun;
};
struct state;
/* Attach to ifname with the pins under pin_dir (migrating or reusing them);
 * st: a state (with its scratch) to refresh the VIP tables through. */
int dp_attach(struct state *st, const char *pin_dir, const char *ifname,
	      const struct attach_opts *o);
/* Whether the kernel offers the conntrack kfuncs nosnat calls. */
int ct_kfuncs_available(void);
/* Option values, pure: 0 or -EINVAL. */
int parse_encap_via(const char *s, enum encap_via *via);
int parse_hook(const char *s, enum attach_hook *hook);		/* auto|xdp|tc */
int parse_xdp_meta(const char *s, enum xdp_meta_use *use);	/* auto|off */
int parse_xdp_mode(const char *s, enum xdp_mode *mode);		/* native|generic */
/* Whether this kernel lets an XDP program call bpf_xdp_adjust_meta: 1 yes,
 * 0 no, -errno when it cannot tell. */
int xdp_meta_probe(void);
int xdp_tail_call_probe(void);
int dp_detach(const char *pin_dir, const char *ifname);
int dp_health(const char *pin_dir, FILE *out);
/* 1 while the maps are pinned, the XDP link holds ifname (unless the
 * pinned cfg says --hook tc) and the tc programs are on it; else 0, and
 * *missing says which is gone. */
int dp_attached(const char *pin_dir, const char *ifname, const char **missing);

#endif
