// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The node's interfaces: one walk of getifaddrs for both questions (the
 * address of an interface, the interface of an address), and the MTU. */
#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include "netdev.h"

/* The first IPv4 address entry whose interface is ifname (when given) and
 * whose address is addr (when not 0); its name and address out. */
static int ipv4_find(const char *ifname, __be32 addr, char *name, size_t len, __be32 *out)
{
	struct ifaddrs *ifa, *i;
	int rc = -EADDRNOTAVAIL;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		__be32 a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		if ((ifname && strcmp(i->ifa_name, ifname)) || (addr && a != addr))
			continue;
		if (name)
			snprintf(name, len, "%s", i->ifa_name);
		if (out)
			*out = a;
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	return rc;
}

int iface_ipv4(const char *ifname, __be32 *addr)
{
	return ipv4_find(ifname, 0, NULL, 0, addr);
}

int iface_ipv6(const char *ifname, __u8 *addr6)
{
	struct ifaddrs *ifa, *i;
	int rc = -EADDRNOTAVAIL;

	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		const struct in6_addr *a;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET6 || strcmp(i->ifa_name, ifname))
			continue;
		a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		/* a global address: getifaddrs does not say deprecated or tentative */
		if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_LOOPBACK(a) || IN6_IS_ADDR_LINKLOCAL(a) ||
		    IN6_IS_ADDR_SITELOCAL(a) || IN6_IS_ADDR_MULTICAST(a) || IN6_IS_ADDR_V4MAPPED(a))
			continue;
		memcpy(addr6, a, sizeof(*a));
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	return rc;
}

int iface_by_addr(__be32 addr, char *ifname, size_t len)
{
	return addr ? ipv4_find(NULL, addr, ifname, len, NULL) : -EADDRNOTAVAIL;
}

int iface_mtu(const char *ifname, unsigned int *mtu)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFMTU, &ifr))
		rc = -errno;
	else
		*mtu = ifr.ifr_mtu;
	close(fd);
	return rc;
}

/* The interface's driver name ("veth", "mlx5_core", ...). */
int iface_driver(const char *ifname, char *drv, size_t len)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr))
		rc = -errno;
	else
		snprintf(drv, len, "%s", info.driver);
	close(fd);
	return rc;
}
