#!/usr/bin/env python3
# csum_probe - send a packet whose complete TCP/UDP checksum equals its
# pseudo-header sum: the value a partial (offloaded) checksum holds, which
# XDP cannot tell from this one. It leaves through a raw socket, so the
# kernel sends it as written (a complete checksum, as from a real wire).
#   csum_probe.py udp SRC DST DPORT SPORT     one datagram, payload "nosnat-probe"
#   csum_probe.py syn SRC DST DPORT SPORT     a SYN with data; prints the SYN-ACK
import socket
import struct
import sys
import time

PAYLOAD = b"nosnat-probe"


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words(b):
    if len(b) % 2:
        b += b"\0"
    return sum(struct.unpack("!%dH" % (len(b) // 2), b))


def l4(proto, src, dst, sport, dport, x, check):
    payload = struct.pack("!H", x) + PAYLOAD
    if proto == socket.IPPROTO_UDP:
        return struct.pack("!HHHH", sport, dport, 8 + len(payload), check) + payload
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02, 64240, check, 0) + payload


def crafted(proto, src, dst, sport, dport):
    """The L4 segment with payload bytes 0-1 chosen so that its checksum,
    computed in full, equals the pseudo-header sum."""
    n = len(l4(proto, src, dst, sport, dport, 0, 0))
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, n)
    p = fold(words(pseudo))
    for x in range(0x10000):
        seg = l4(proto, src, dst, sport, dport, x, 0)
        c = ~fold(words(pseudo) + words(seg)) & 0xFFFF
        if c == p and c != 0:
            return l4(proto, src, dst, sport, dport, x, c)
    raise SystemExit("csum_probe: no payload gives such a checksum")


def ip_packet(proto, src, dst, seg):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0x1234, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr + seg	# the kernel fills in the header sum (IP_HDRINCL)


def main():
    if len(sys.argv) != 6 or sys.argv[1] not in ("udp", "syn"):
        raise SystemExit("usage: csum_probe.py udp|syn SRC DST DPORT SPORT")
    mode, src, dst = sys.argv[1], sys.argv[2], sys.argv[3]
    dport, sport = int(sys.argv[4]), int(sys.argv[5])
    proto = socket.IPPROTO_UDP if mode == "udp" else socket.IPPROTO_TCP
    listen = None
    if mode == "syn":
        listen = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        listen.settimeout(0.5)
    out = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    out.sendto(ip_packet(proto, src, dst, crafted(proto, src, dst, sport, dport)), (dst, 0))
    if not listen:
        return
    end = time.time() + 5
    while time.time() < end:
        try:
            pkt = listen.recv(2048)
        except socket.timeout:
            continue
        ihl = (pkt[0] & 15) * 4
        s, d = socket.inet_ntoa(pkt[12:16]), socket.inet_ntoa(pkt[16:20])
        ps, pd, seq, ack, _, flags = struct.unpack("!HHIIBB", pkt[ihl:ihl + 14])
        if s == dst and d == src and ps == dport and pd == sport and flags & 0x12 == 0x12:
            print("SYN-ACK from %s:%d ack %d" % (s, ps, ack))
            return
    raise SystemExit("csum_probe: no SYN-ACK from %s:%d" % (dst, dport))


main()
