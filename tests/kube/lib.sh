# shellcheck shell=bash
# Helpers for the Kubernetes tests: a CA and server certificate, the fake
# API server in the lab's router namespace (198.51.100.1:6443, reachable
# from every node), objects in the API's own JSON shapes.
KUBE_API=198.51.100.1
KUBE_PORT=6443
KUBE_CTL=18081

kube_up() {
	local d=$LAB_DIR/kube
	mkdir -p "$d/sa"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nosnat-test-ca" \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=kubernetes" -keyout "$d/api.key" \
		-out "$d/api.csr" 2>/dev/null || return 1
	printf 'subjectAltName=IP:%s\n' $KUBE_API >"$d/ext"
	openssl x509 -req -in "$d/api.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext" -out "$d/api.crt" 2>/dev/null || return 1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=nosnat-client" -keyout "$d/client.key" \
		-out "$d/client.csr" 2>/dev/null || return 1
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -out "$d/client.crt" 2>/dev/null || return 1
	cp "$d/ca.crt" "$d/sa/ca.crt"
	echo tok1 >"$d/sa/token"
	kube_serve "$d/api.crt" "$d/api.key"
}

# kube_serve CERT KEY: (re)start the fake API server with this certificate
kube_serve() {
	local d=$LAB_DIR/kube
	ip netns exec "$LAB-router" python3 "$ROOT/tests/kube/fake_apiserver.py" $KUBE_API $KUBE_PORT \
		$KUBE_CTL "$1" "$2" tok1 "$d/ca.crt" >"$d/server.log" 2>&1 &
	echo $! >"$d/server.pid"
	echo $! >>"$LAB_DIR/pids"
	for _ in $(seq 50); do
		kctl GET stats >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

kube_down() {
	local pid
	pid=$(cat "$LAB_DIR/kube/server.pid" 2>/dev/null) && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	return 0
}

# kctl METHOD PATH [JSON]
kctl() {
	if [ "$1" = GET ]; then
		nsx router curl -sf "http://127.0.0.1:$KUBE_CTL/$2"
	else
		nsx router curl -sf -X POST "http://127.0.0.1:$KUBE_CTL/$2" -d "${3:-{\}}"
	fi
}

kput() { kctl POST put "{\"kind\":\"$1\",\"object\":$2}" >/dev/null; }

knode() { # NAME IP
	kput nodes "{\"kind\":\"Node\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"kubernetes.io/hostname\":\"$1\"}},\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"$2\"},{\"type\":\"Hostname\",\"address\":\"$1\"}],\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}"
}

kservice() { kservice_in mailserver mailserver "$1"; } # LB-IP

kservice_in() { # NAMESPACE NAME LB-IP: the mail Service's shape under another name
	kput services "{\"kind\":\"Service\",\"apiVersion\":\"v1\",\"metadata\":{\"namespace\":\"$1\",\"name\":\"$2\",\"uid\":\"0b5e-$1-$2\"},\"spec\":{\"type\":\"LoadBalancer\",\"externalTrafficPolicy\":\"Cluster\",\"selector\":{\"app\":\"mailserver\"},\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":25,\"targetPort\":\"smtp\"},{\"name\":\"submission\",\"protocol\":\"TCP\",\"port\":587,\"targetPort\":587}]},\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$3\",\"ipMode\":\"VIP\"}]}}}"
}

# kendpoint ADDR NODE READY SERVING TERMINATING -> one endpoint's JSON
kendpoint() {
	printf '{"addresses":["%s"],"conditions":{"ready":%s,"serving":%s,"terminating":%s},"nodeName":"%s","targetRef":{"kind":"Pod","namespace":"mailserver","name":"mailserver-%s"}}' \
		"$1" "$3" "$4" "$5" "$2" "${1//./-}"
}

kslice() { kslice_in mailserver mailserver "$@"; } # NAME ENDPOINT-JSON...

kslice_in() { # NAMESPACE SERVICE NAME ENDPOINT-JSON...
	local ns=$1 svc=$2 name=$3 eps
	shift 3
	eps=$(IFS=,; echo "$*")
	kput endpointslices "{\"kind\":\"EndpointSlice\",\"apiVersion\":\"discovery.k8s.io/v1\",\"metadata\":{\"namespace\":\"$ns\",\"name\":\"$name\",\"labels\":{\"kubernetes.io/service-name\":\"$svc\",\"endpointslice.kubernetes.io/managed-by\":\"endpointslice-controller.k8s.io\"}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"smtp\",\"protocol\":\"TCP\",\"port\":2525},{\"name\":\"submission\",\"protocol\":\"TCP\",\"port\":2587}],\"endpoints\":[$eps]}"
}

kube_config() { # FILE
	printf 'nodes: kubernetes\nservices:\n  - service: mailserver/mailserver\n    ports: [25]\n' >"$1"
}

kube_daemon() { # NODE [BINARY]
	local n=$1 bin=${2:-$NOSNAT}
	mkdir -p "$LAB_DIR/tf-$n"
	ip netns exec "$LAB-$n" env KUBERNETES_SERVICE_HOST=$KUBE_API KUBERNETES_SERVICE_PORT=$KUBE_PORT \
		"$bin" --pin-dir "$LAB_DIR/bpffs/$n" run --config "$LAB_DIR/kcfg/nosnat.yaml" --iface auto \
		--node-ip "${NODE_IP[$n]}" --kube --kube-sa-dir "$LAB_DIR/kube/sa" --kube-stall-timeout 2 \
		--textfile "$LAB_DIR/tf-$n/nosnat.prom" --interval 1 "${ATTACH_ARGS[@]}" \
		2>>"$LAB_DIR/krun-$n.log" &
	echo $! >>"$LAB_DIR/pids"
	echo $! >"$LAB_DIR/krun-$n.pid"
}

# A kubeconfig with a client-certificate user, everything inline (*-data).
kube_kubeconfig() { # FILE
	local d=$LAB_DIR/kube
	cat >"$1" <<EOT
apiVersion: v1
kind: Config
current-context: lab
clusters:
  - name: lab-cluster
    cluster:
      server: https://$KUBE_API:$KUBE_PORT
      certificate-authority-data: $(base64 -w0 "$d/ca.crt")
users:
  - name: lab-user
    user:
      client-certificate-data: $(base64 -w0 "$d/client.crt")
      client-key-data: $(base64 -w0 "$d/client.key")
contexts:
  - name: lab
    context: {cluster: lab-cluster, user: lab-user}
EOT
}

kdelete() { # KIND NAMESPACE NAME
	kctl POST delete "{\"kind\":\"$1\",\"namespace\":\"$2\",\"name\":\"$3\"}" >/dev/null
}
