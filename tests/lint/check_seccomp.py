#!/usr/bin/env python3
"""Compare nosnat's seccomp profile with the default it is made from, call by
call: for every system call either names, the rules that decide it (action,
errno, argument filters) must be the same in both, except that bpf and
perf_event_open are allowed outright. So nothing is allowed that the default
refuses a container with nosnat's capabilities, every argument filter is the
default's, and nothing the default allows is missing.

BASE is containerd's default for the DaemonSet's capabilities
(scripts/seccomp_profile.py --base). Prints a FAIL line per call that differs,
saying which way, and 'lint-seccomp: N passed, N failed'.
Usage: check_seccomp.py PROFILE BASE"""
import json
import sys

from report import Report

NEEDED = {"bpf", "perf_event_open"}
ALLOW = "SCMP_ACT_ALLOW"
REPORT = Report("lint-seccomp")
check = REPORT.check


def errno_of(action, errno):
    """The errno an ERRNO action returns: errnoRet, else EPERM (runc's)."""
    return (errno if errno is not None else 1) if action == "SCMP_ACT_ERRNO" else None


def rules_for(profile):
    """name -> the set of (action, errno, args) rules that decide it. A rule
    without arguments that does what the default action does is left out:
    naming a call to refuse it as the default would is no difference."""
    default = (profile["defaultAction"], errno_of(profile["defaultAction"], profile.get("defaultErrnoRet")))
    out = {}
    for r in profile["syscalls"]:
        args = tuple((a["index"], a["value"], a.get("valueTwo", 0), a["op"]) for a in r.get("args") or [])
        outcome = (r["action"], errno_of(r["action"], r.get("errnoRet")))
        for n in r["names"]:
            rules = out.setdefault(n, set())
            if args or outcome != default:
                rules.add(outcome + (args,))
    return default, out


def show(rules):
    if not rules:
        return "the default action"
    parts = []
    for action, errno, args in sorted(rules, key=repr):
        s = action.replace("SCMP_ACT_", "").lower() + (f" {errno}" if errno is not None else "")
        if args:
            s += " if " + " and ".join(f"arg{i} {op.replace('SCMP_CMP_', '')} {v:#x}"
                                       + (f"/{v2:#x}" if v2 else "") for i, v, v2, op in args)
        parts.append(s)
    return "; ".join(parts)


def allows(rules):
    return any(action == ALLOW for action, _, _ in rules)


profile_path, base_path = sys.argv[1:3]
profile, base = json.load(open(profile_path)), json.load(open(base_path))
check(not any(k in r for r in profile["syscalls"] for k in ("includes", "excludes", "comment")),
      f"{profile_path} is flat: no includes/excludes a Localhost profile would leave unevaluated")
check(profile["defaultAction"] == base["defaultAction"]
      and errno_of(base["defaultAction"], profile.get("defaultErrnoRet"))
      == errno_of(base["defaultAction"], base.get("defaultErrnoRet")),
      f"default action {profile['defaultAction']} errno {profile.get('defaultErrnoRet', 'EPERM')}, "
      f"the default's: {base['defaultAction']} errno {base.get('defaultErrnoRet', 'EPERM')}")
check(profile.get("architectures") == base.get("architectures"),
      f"architectures {profile.get('architectures')}, the default's: {base.get('architectures')}")

(my_default, mine), (their_default, theirs) = rules_for(profile), rules_for(base)
calls = sorted(set(mine) | set(theirs))
differ = 0
for n in calls:
    # a call that no rule decides gets the default action: written out, so
    # that two profiles with different defaults compare by outcome
    want = {(ALLOW, None, ())} if n in NEEDED else theirs.get(n) or {their_default + ((),)}
    got = mine.get(n) or {my_default + ((),)}
    if got == want:
        continue
    differ += 1
    if allows(got) and not allows(want):
        how = "LOOSER"
    elif any(a == ALLOW and not args for a, _, args in got) and not any(
            a == ALLOW and not args for a, _, args in want):
        how = "LOOSER (filter dropped)"
    elif allows(want) and not allows(got):
        how = "STRICTER"
    else:
        how = "differs"
    check(False, f"{n}: {how}: {show(got)}; the default: {show(want)}"
          + (" (nosnat needs it allowed)" if n in NEEDED else ""))
if not differ:
    check(True, f"{len(calls)} system calls decided as by the default, bpf and perf_event_open allowed")
REPORT.close()
