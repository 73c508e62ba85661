/* netdev.h - the node's interfaces: addresses, MTU (netdev.c). */
#ifndef NOSNAT_NETDEV_H
#define NOSNAT_NETDEV_H

#include <stddef.h>
#include <linux/types.h>

/* First IPv4 address of ifname. */
int iface_ipv4(const char *ifname, __be32 *addr);
/* First global IPv6 address of ifname (not link-local, loopback, multicast
 * or v4-mapped) into addr6 (16 bytes); -EADDRNOTAVAIL when it has none. */
int iface_ipv6(const char *ifname, __u8 *addr6);
/* The interface that holds addr. */
int iface_by_addr(__be32 addr, char *ifname, size_t len);
int iface_mtu(const char *ifname, unsigned int *mtu);
/* The interface's driver name ("veth", "mlx5_core", ...). */
int iface_driver(const char *ifname, char *drv, size_t len);

#endif
