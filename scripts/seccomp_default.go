// seccomp_default prints containerd's default seccomp profile (what a node
// with containerd gives a container whose seccompProfile is RuntimeDefault)
// for a container whose capability bounding set is exactly CAPS, as JSON.
//
// It calls containerd's own code, contrib/seccomp.DefaultProfile, from the
// source Debian ships in golang-github-containerd-containerd-dev, so the
// conditions (capabilities, kernel version, architecture) are resolved the way
// containerd resolves them, not by a reimplementation. The architecture is the
// one this runs on; the kernel condition is the running kernel's.
// scripts/seccomp_profile.py runs it; by hand:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go run scripts/seccomp_default.go CAP_BPF ...
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/containerd/containerd/contrib/seccomp"
	"github.com/opencontainers/runtime-spec/specs-go"
)

func main() {
	caps := os.Args[1:]
	sp := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(seccomp.DefaultProfile(sp)); err != nil {
		fmt.Fprintf(os.Stderr, "seccomp_default: %v\n", err)
		os.Exit(1)
	}
}
