#!/usr/bin/env bash
# The deployment files as the tools read them: docker-compose validates the compose file (no
# engine needed), and the Dockerfiles, Kubernetes manifests, Prometheus config and Grafana
# provisioning are parsed and cross-checked: referenced files exist, ports and names agree.
# Usage: deploy_test.sh REPO_ROOT
set -uo pipefail
root=$1
cd "$root" || exit 1
failures=0
docker-compose -f docker-compose.yml config -q || { echo "FAIL: docker-compose config"; failures=1; }
/usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import json, os, re, sys, yaml

problems = []
def expect(ok, what):
    if not ok:
        problems.append(what)

# Dockerfiles: Debian 12, COPY sources exist, EXPOSEd ports, binaries that CMake builds.
cmake = "".join(open(p).read() for p in ["server/CMakeLists.txt", "worker/CMakeLists.txt",
                                          "client/CMakeLists.txt"])
exposed = {}
for name in ("coordinator", "worker"):
    text = open(f"deploy/docker/{name}.Dockerfile").read().replace("\\\n", " ")
    expect(all(line.split()[1] == "debian:bookworm" or line.split()[1].startswith("debian:bookworm ")
               for line in text.splitlines() if line.startswith("FROM")), f"{name}: FROM debian:bookworm")
    for line in text.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                expect(os.path.exists(source), f"{name}.Dockerfile COPY {source}: missing")
        if line.startswith("EXPOSE"):
            exposed[name] = {int(p) for p in line.split()[1:]}
        if line.startswith("ENTRYPOINT"):
            binary = json.loads(line[len("ENTRYPOINT"):])[0]
            expect(f"add_executable({binary} " in cmake, f"{name}: {binary} is not a CMake target")
expect(exposed.get("coordinator") == {50051, 9464}, f"coordinator EXPOSE {exposed.get('coordinator')}")
expect(exposed.get("worker") == {9465}, f"worker EXPOSE {exposed.get('worker')}")

# Prometheus: scrapes the coordinator's and the workers' exposed metrics ports by service name.
prom = yaml.safe_load(open("deploy/prometheus/prometheus.yml"))
jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
expect(jobs["polytrain-coordinator"]["static_configs"][0]["targets"] == ["coordinator:9464"],
       "prometheus: coordinator target")
dns = jobs["polytrain-workers"]["dns_sd_configs"][0]
expect(dns["names"] == ["worker"] and dns["port"] == 9465, "prometheus: worker DNS discovery")
expect(prom["rule_files"] == ["rules.yml"], "prometheus: rules.yml")

# docker-compose: services, build files, mounted files, ports.
compose = yaml.safe_load(open("docker-compose.yml"))
services = compose["services"]
expect(set(services) == {"coordinator", "worker", "prometheus", "grafana"}, f"compose services {set(services)}")
for name in ("coordinator", "worker"):
    expect(os.path.exists(services[name]["build"]["dockerfile"]), f"compose {name} dockerfile")
expect("50051:50051" in services["coordinator"]["ports"], "compose: coordinator port 50051")
expect(services["worker"]["deploy"]["replicas"] == 2, "compose: two workers")
for name in ("prometheus", "grafana"):
    for volume in services[name]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            expect(os.path.exists(source), f"compose {name} mounts missing {source}")
grafana_mounts = {v.split(":")[1] for v in services["grafana"]["volumes"]}
provider = yaml.safe_load(open("deploy/grafana/provisioning/dashboards/polytrain.yml"))
expect(provider["providers"][0]["options"]["path"] in grafana_mounts, "grafana dashboards path not mounted")
datasource = yaml.safe_load(open("deploy/grafana/provisioning/datasources/prometheus.yml"))
expect(datasource["datasources"][0]["url"] == "http://prometheus:9090", "grafana datasource url")
for path in os.listdir("deploy/grafana/dashboards"):
    dashboard = json.load(open(f"deploy/grafana/dashboards/{path}"))
    for panel in dashboard["panels"]:
        expect(panel["datasource"]["uid"] == datasource["datasources"][0]["uid"],
               f"{path}: panel {panel['title']} data source")

# Kubernetes: the objects, their ports, the Secret they use, scrape annotations, GPU requests.
objects = {}
for path in sorted(os.listdir("deploy/k8s")):
    for doc in yaml.safe_load_all(open(f"deploy/k8s/{path}")):
        objects[(doc["kind"], doc["metadata"]["name"])] = doc
for key in [("Namespace", "polytrain"), ("StatefulSet", "coordinator"), ("Service", "coordinator"),
            ("Deployment", "worker"), ("Service", "worker"), ("Deployment", "worker-gpu"),
            ("Secret", "polytrain-tokens")]:
    expect(key in objects, f"k8s: missing {key}")
def container(kind, name):
    return objects[(kind, name)]["spec"]["template"]["spec"]["containers"][0]
def ports(c):
    return {p["containerPort"] for p in c.get("ports", [])}
expect(ports(container("StatefulSet", "coordinator")) == exposed["coordinator"], "k8s coordinator ports")
expect(ports(container("Deployment", "worker")) == exposed["worker"], "k8s worker ports")
for kind, name, port in [("StatefulSet", "coordinator", "9464"), ("Deployment", "worker", "9465"),
                         ("Deployment", "worker-gpu", "9465")]:
    annotations = objects[(kind, name)]["spec"]["template"]["metadata"]["annotations"]
    expect(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == port,
           f"k8s {name}: scrape annotations")
secret_refs = [e["secretRef"]["name"] for e in container("StatefulSet", "coordinator").get("envFrom", [])]
expect(secret_refs == ["polytrain-tokens"], "k8s coordinator: token Secret")
expect(objects[("Service", "worker")]["spec"].get("clusterIP") == "None", "k8s worker Service must be headless (DNS discovery)")
gpu = container("Deployment", "worker-gpu")
expect(gpu["resources"]["limits"].get("nvidia.com/gpu") == 1 and "cuda" in gpu["args"], "k8s GPU worker")
for kind, name in [("Deployment", "worker"), ("Deployment", "worker-gpu")]:
    args = container(kind, name)["args"]
    expect(args[args.index("--coordinator") + 1] == "coordinator:50051", f"k8s {name}: coordinator address")

for p in problems:
    print("FAIL:", p)
print(f"deploy checks: {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
PY
echo "deploy_test: $([[ $failures -eq 0 ]] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed")"
[[ $failures -eq 0 ]]
