#!/bin/bash
# Write BENCHMARKS.md from the last measurements (build/bench.tsv from
# test_bpf --bench, build/bench_e2e.tsv from bench_e2e.sh): the plots in
# doc/bench, the tables below, and the prose of doc/bench/BENCHMARKS.md.in,
# whose @NAME@ lines and words are filled in here. Measuring is bench.sh's.
# Usage: bench_render.sh REPEAT
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPEAT=${1:?usage: bench_render.sh REPEAT}
OUT=$ROOT/build/bench.tsv
E2E=$ROOT/build/bench_e2e.tsv
T=$(mktemp -d /tmp/nosnat-render.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$ROOT/doc/bench"
HEAD_MOVE=$(awk -F'\t' '$1 == "head_move" { printf "%s%s", sep, $2; sep = ", " }' "$OUT")
awk -F'\t' '$1 == "path" { gsub(/"/, "", $2); printf "\"%s\"\t%s\n", $2, $3 }' "$OUT" >"$ROOT/build/paths.dat"
awk -F'\t' '$1 == "e2e" { printf "\"%s\"\t%.3f\t%.3f\n", $2, $3 / 1e9, $4 / 1e9 }' "$E2E" >"$ROOT/build/e2e.dat"
# per packet class, the median load by ratio: nosnat, the minimal balancer,
# the ratio (the plot and the table below)
awk -F'\t' '$1 == "versus" { k = $2; n[k]++; a[k, n[k]] = $3; b[k, n[k]] = $4; r[k, n[k]] = $5
		if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
	END {
		for (i = 1; i <= m; i++) {
			k = order[i]; c = n[k]
			for (x = 1; x <= c; x++) idx[x] = x
			for (x = 1; x <= c; x++) for (y = x + 1; y <= c; y++)
				if (r[k, idx[y]] < r[k, idx[x]]) { t = idx[x]; idx[x] = idx[y]; idx[y] = t }
			md = idx[int((c + 1) / 2)]
			printf "\"%s\"\t%s\t%s\t%s\n", k, a[k, md], b[k, md], r[k, md]
		}
	}' "$OUT" >"$ROOT/build/versus.dat"
gnuplot <<GP
set terminal pngcairo size 1000,560 font "sans,10" noenhanced
set style data histograms
set style fill solid 0.8 border -1
set grid ytics
set yrange [0:*]
set key top right
set xtics rotate by -25 left
set bmargin 14
set rmargin 38
set terminal pngcairo size 1400,700 font "sans,10" noenhanced
set output "$ROOT/doc/bench/per-packet.png"
set title "nosnat: per-packet cost by path (BPF_PROG_TEST_RUN, harness subtracted)"
set ylabel "ns per packet"
plot "$ROOT/build/paths.dat" using 2:xtic(1) title "ns/packet"
set terminal pngcairo size 1000,560 font "sans,10" noenhanced
set output "$ROOT/doc/bench/versus.png"
set title "nosnat against a minimal Katran-style IPIP balancer, in turns (log scale)"
set ylabel "ns per packet"
set logscale y
set yrange [10:*]
set rmargin 4
set xtics rotate by 0 center
set bmargin 4
plot "$ROOT/build/versus.dat" using 2:xtic(1) title "nosnat", "" using 3 title "minimal balancer"
unset logscale y
set yrange [0:*]
set xtics rotate by -25 left
set bmargin 9
set output "$ROOT/doc/bench/throughput.png"
set title "TCP throughput through the namespace lab (iperf3)"
set ylabel "Gbit/s"
plot "$ROOT/build/e2e.dat" using 2:xtic(1) title "1 stream", "" using 3 title "8 streams"
GP

# the tables, one file each, named as the template's @name@ lines
{
	awk -F'\t' '$1 == "path" { printf "| %s | %s | %s | %s | %s |\n", $2, $3, $6, $4, $5 }' "$OUT"
} >"$T/paths"
{
	awk -F'\t' '$1 == "prog" { printf "| %s | %s | %s | %s |\n", $2, $3, $4, $5 }' "$OUT"
} >"$T/progs"
{
	awk -F'\t' 'BEGIN {
			kat["non-VIP packet"] = 25; kat["established flow, IPIP"] = 70
			kat["SYN, one 5-tuple again, IPIP"] = 160; kat["new flow (SYN), IPIP"] = 750
		}
		{
			k = $1; gsub(/"/, "", k)
			q = kat[k] == 750 ? "500-1000" : kat[k]
			printf "| %s | %.0f | %.0f | **%.2f** | %s | %.1f |\n", k, $2, $3, $4, q, $3 / kat[k]
		}' "$ROOT/build/versus.dat"
} >"$T/versus"
# Katran (where scripts/katran_build.sh built it from its sources): per row,
# the median load by the ratio nosnat / Katran; else why it was not measured
awk -F'\t' -v repeat="$REPEAT" '
	$1 == "katran_info" { info[$2] = $3 }
	$1 == "cpu" { cpu = $2 }
	$1 == "katran" { k = $2; n[k]++; line[k, n[k]] = $0; r[k, n[k]] = $5
		if (k ~ /one packet per test run/) cold = 1
		if (!(k in seen)) { seen[k] = 1; order[++m] = k } }
	END {
		if (!m) {
			why = ("absent" in info) ? info["absent"] : "no Katran rows in this run"
			printf "Katran itself was not measured in this run: %s. The minimal balancer above\n", why
			printf "stands in for it. To measure it, have a clone of its repository on the machine\n"
			printf "(`git clone https://github.com/facebookincubator/katran`, beforehand: the bench\n"
			printf "uses no network) and point `KATRAN_SRC` (the tree) or `KATRAN_GIT` (its git\n"
			printf "directory) at it for `make bench`.\n"
			exit
		}
		printf "| packet | Katran LRU per CPU | nosnat, ns | Katran, ns | **nosnat / Katran** | minimal, ns | minimal / Katran | nosnat measured as |\n"
		printf "|---|---:|---:|---:|---:|---:|---:|---|\n"
		loads = 0
		for (i = 1; i <= m; i++) {
			k = order[i]; c = n[k]
			if (c > loads) loads = c
			for (x = 1; x <= c; x++) idx[x] = x
			for (x = 1; x <= c; x++) for (y = x + 1; y <= c; y++)
				if (r[k, idx[y]] < r[k, idx[x]]) { t = idx[x]; idx[x] = idx[y]; idx[y] = t }
			split(line[k, idx[int((c + 1) / 2)]], f, "\t")
			name = f[2]; sub(/, Katran LRU [0-9]+\/CPU$/, "", name); sub(/, tc$/, "", name)
			how = f[9] == "xdp+tc" ? "XDP pass + tc walk" : f[9] == "tc" ? "tc (`--hook tc`)" : "XDP"
			if (f[6] == "-")	# no minimal balancer (IPv6)
				printf "| %s | %d | %.0f | %.0f | **%.2f** | - | - | %s |\n", name, f[8], f[3], f[4], f[5], how
			else
				printf "| %s | %d | %.0f | %.0f | **%.2f** | %.0f | %.2f | %s |\n", name, f[8], f[3], f[4], f[5], f[6], f[7], how
			if (name ~ /^v6: /) v6 = 1
		}
		printf "\nConditions: Katran commit `%s` (from %s), built by `scripts/katran_build.sh`\n", info["commit"], info["source"]
		printf "with %s and `%s`: its default features (IPIP encapsulation, per-CPU LRUs in\n", info["clang"], info["defines"]
		printf "`lru_mapping`, Maglev rings of %s, %s VIPs), `MAX_CONN_RATE` raised from 125000 to %s\n", info["ring_size"], info["max_vips"], info["max_conn_rate"]
		printf "new flows per second and CPU so that its flood guard (which still runs) never stops an\n"
		printf "LRU insert. Its maps as its loader fills them for one TCP VIP: `vip_map`, 10 reals on\n"
		printf "the backend node in `reals`, the VIP'"'"'s ring in `ch_rings`, the gateway'"'"'s MAC in\n"
		printf "`ctl_array`, one LRU per CPU (%s CPUs; no map flags, as `KatranLb::createLruMap`)\n", info["cpus"]
		printf "in `lru_mapping`, at 65536 entries for the first three rows. %s rounds per run, 31\n", repeat
		printf "rounds in turns (harness alone, nosnat, minimal, Katran; the order changes each\n"
		printf "round), %d fresh load(s) of all programs, the whole run pinned to CPU %s. Before timing,\n", loads, cpu
		printf "Katran'"'"'s frames are checked (IPIP to the backend'"'"'s node with the inner packet as it\n"
		printf "came; a non-VIP frame passed untouched), its output after every timed run, and its\n"
		printf "counters after every row (every round reached it with the row'"'"'s verdict; no LRU miss\n"
		printf "on the established row, one per SYN on the others; no fallback LRU, no drop; after\n"
		printf "new flows its LRU holds them): a row that took another path fails the bench.\n"
		if (v6) {
			printf "\nThe rows \"v6: ...\" are the same packets in IPv6: a v6 VIP whose backends are on a\n"
			printf "node known by its v6 address, so both send ip6ip6 (Katran'"'"'s reals flagged `F_IPV6`,\n"
			printf "its output checked as ip6ip6 to that address with the inner packet as it came;\n"
			printf "nosnat'"'"'s frames checked before timing). The minimal balancer has no IPv6 (\"-\").\n"
			printf "Katran'"'"'s LRU holds both families'"'"' flows; nosnat'"'"'s v6 flows have tables of their own.\n"
		}
		if (cold) {
			printf "\nThe rows \"one packet per test run\" run every program once per `BPF_PROG_TEST_RUN`,\n"
			printf "a fresh frame (for tc a fresh skb) each time, a syscall apart, so each starts with\n"
			printf "cold caches: 4000 runs per program per round, in turns (the XDP harness alone, nosnat'"'"'s\n"
			printf "XDP, the minimal balancer, Katran, the tc harness alone, nosnat'"'"'s tc walk), every\n"
			printf "table full and evicting before the first, Katran'"'"'s output frame checked after each\n"
			printf "timed run. Like every row, each shows its own median load, so their Katran figures\n"
			printf "can differ.\n"
		}
	}' "$OUT" >"$T/katran"
# the CPU columns only when bench_e2e.sh measured them (BENCH_E2E_CPU=1)
{
	awk -F'\t' '$1 == "e2e" { n++; p[n] = $2; t1[n] = $3; t8[n] = $4; c[n] = $5; seen[n] = $6; cpu[n] = $7; st[n] = $8
			if ($7 != "-") withcpu = 1 }
		END {
			if (withcpu) {
				print "| path | 1 stream Gbit/s | 8 streams Gbit/s | new conn/s | CPU % at 500 Mbit/s | /proc/stat'"'"'s % (same window) | client address at the pod |"
				print "|---|---:|---:|---:|---:|---:|---|"
			} else {
				print "| path | 1 stream Gbit/s | 8 streams Gbit/s | new conn/s | client address at the pod |"
				print "|---|---:|---:|---:|---|"
			}
			for (i = 1; i <= n; i++)
				if (withcpu)
					printf "| %s | %.2f | %.2f | %s | %s | %s | %s |\n", p[i], t1[i] / 1e9, t8[i] / 1e9, c[i], cpu[i], st[i], seen[i]
				else
					printf "| %s | %.2f | %.2f | %s | %s |\n", p[i], t1[i] / 1e9, t8[i] / 1e9, c[i], seen[i]
		}' "$E2E"
} >"$T/e2e"
# how each hook ran (attach's words), and how the lab's uplinks behaved
{
	awk -F'\t' '$1 == "e2e" && $11 != "-" && !($11 in seen) { seen[$11] = 1
			printf "- `--hook %s`: %s\n", $11, $12 }
		$1 == "e2e" && $13 != "" { lab = $13 }
		$1 == "e2e_rounds" { rounds = $2 + 0 }
		END {
			if (rounds > 1)
				printf "- every row run %d times, in turns; each column is the median\n", rounds
			else if (rounds == 1)
				print "- every row run once"
			if (lab == "wire")
				print "- uplinks like a NIC'"'"'s (`BENCH_E2E_WIRE=1`): every node receives MTU-sized frames and coalesces them (GRO), whatever runs on it"
			else
				print "- uplinks as veth makes them: a node without XDP on eth0 receives the senders'"'"' 64 KiB TSO super-packets whole; XDP on eth0 makes the bridge cut them to MTU"
		}' "$E2E"
} >"$T/e2e_modes"
# nosnat over each baseline, per hook and pod placement: same-hop routing
# (goal >= 1.0) and kube-proxy's way (goal >= 1.3); a ratio under its goal
# is marked
{
	awk -F'\t' '$1 == "e2e" { k = $9 SUBSEP $10 SUBSEP $11; t1[k] = $3; t8[k] = $4; c[k] = $5
			if ($9 == "nosnat" && !($11 in seen)) { seen[$11] = 1; hooks[++nh] = $11 } }
		function cell(a, b, goal,   r) {
			if (b == "" || b + 0 == 0 || a == "") return "n/a"
			r = a / b
			return sprintf(r < goal ? "%.2f ✗" : "%.2f", r)
		}
		function line(h, pod, base, what, goal,   n, d) {
			n = "nosnat" SUBSEP pod SUBSEP h; d = base SUBSEP (pod == "remote-gue" ? "remote" : pod) SUBSEP "-"
			if (!(d in t1) || !(n in t1)) return
			printf "| %s | %s | %s | ≥ %.1f | %s | %s | %s |\n", h,
				pod == "local" ? "on the ingress node" : pod == "remote" ? "on another node (IPIP)" : "on another node (GUE)",
				what, goal, cell(t1[n], t1[d], goal), cell(t8[n], t8[d], goal), cell(c[n], c[d], goal)
		}
		END {
			printf "| hook | pod | nosnat over | goal | 1 stream | 8 streams | new conn/s |\n|---|---|---|---:|---:|---:|---:|\n"
			for (i = 1; i <= nh; i++) {
				h = hooks[i]
				line(h, "local", "route", "kernel routing, same hops", 1.0)
				line(h, "local", "kube", "kube-proxy way", 1.3)
				line(h, "remote", "route", "kernel routing, same hops", 1.0)
				line(h, "remote", "vxlan", "kernel routing, same hops, over vxlan", 1.0)
				line(h, "remote", "kube", "kube-proxy way", 1.3)
				line(h, "remote-gue", "route", "kernel routing, same hops", 1.0)
				line(h, "remote-gue", "vxlan", "kernel routing, same hops, over vxlan", 1.0)
				line(h, "remote-gue", "kube", "kube-proxy way", 1.3)
			}
		}' "$E2E"
} >"$T/e2e_ratios"
{
	awk -F'\t' '
		$1 == "memlock" && $2 == "flows" { printf "| memlock, flow table of 1,048,576 entries | %.1f MiB |\n", $3 / 1048576 }
		$1 == "memlock" && $2 == "all" { printf "| memlock, all maps at default sizes, no VIP | %.1f MiB |\n", $3 / 1048576 }
		$1 == "memlock" && $2 == "percpu" { printf "| of which per-CPU arrays (%d CPUs) | %.2f MiB |\n", cpus, $3 / 1048576 }
		$1 == "control" && $2 == "maglev_1000" { printf "| Maglev table build, 1,000 backends, M=65537 | %.2f ms |\n", $3 * 1000 }
		$1 == "control" && $2 == "apply_1000x10" { printf "| apply 1,000 VIPs x 10 backends from empty | %.2f s |\n", $3 }
		$1 == "control" && $2 == "change_one" { printf "| change one backend among them | %.1f ms |\n", $3 * 1000 }
		$1 == "kubemem" { printf "| daemon RSS (peak) with --kube, %d Nodes and %d EndpointSlices (%d MiB of JSON), lists in pages of 500 | %.0f MiB (%.0f MiB) |\n", $4, $5, $6, $2 / 1024, $3 / 1024 }
		$1 == "kubemem_onepage" { printf "| the same, each list in one page (as before pages) | %.0f MiB (%.0f MiB) |\n", $2 / 1024, $3 / 1024 }' cpus="$(nproc)" "$OUT"
} >"$T/scale"
# and the words
printf '%s' "$REPEAT" >"$T/REPEAT"
date -u +%Y-%m-%d | tr -d '\n' >"$T/DATE"
grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //' | tr -d '\n' >"$T/CPU"
nproc | tr -d '\n' >"$T/CORES"
uname -r | tr -d '\n' >"$T/KERNEL"
clang --version | head -1 | tr -d '\n' >"$T/CLANG"
printf '%s' "$HEAD_MOVE" >"$T/HEAD_MOVE"
printf '%s' "${BENCH_SECS:-4}" >"$T/BENCH_SECS"
python3 - "$ROOT/doc/bench/BENCHMARKS.md.in" "$T" "$ROOT/BENCHMARKS.md" <<'PY'
import os, re, sys
tpl, d, out = sys.argv[1:4]
def part(name):
    return open(os.path.join(d, name)).read()
text = []
for line in open(tpl).read().split('\n'):
    m = re.fullmatch(r'@([a-z0-9_]+)@', line)
    if m:
        text.append(part(m.group(1)).rstrip('\n'))
    else:
        text.append(re.sub(r'@([A-Z_]+)@', lambda w: part(w.group(1)), line))
open(out, 'w').write('\n'.join(text))
PY
echo "wrote $ROOT/BENCHMARKS.md"
