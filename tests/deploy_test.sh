#!/usr/bin/env bash
# The deployment files as the tools read them: docker-compose validates the compose file (no
# engine needed), and the Dockerfiles, Kubernetes manifests, Prometheus config and Grafana
# provisioning are parsed and cross-checked: referenced files exist, ports and names agree. The
# security configuration they ship is then run for real: deploy/pki/make-dev-pki.sh makes the
# files, a coordinator starts with the image's own arguments (paths moved to a temp dir, ports
# to loopback), polyctl gets in with the client token and not with the worker's, and a worker
# with the compose file's arguments connects over mutual TLS.
# Usage: deploy_test.sh REPO_ROOT BUILD_DIR
set -uo pipefail
root=$1
build=$(cd "$2" && pwd)
cd "$root" || exit 1
failures=0
docker-compose -f docker-compose.yml config -q || { echo "FAIL: docker-compose config"; failures=1; }
pki_dir=$(mktemp -d)
trap 'rm -rf "$pki_dir"' EXIT
deploy/pki/make-dev-pki.sh "$pki_dir/pki" 2>/dev/null || { echo "FAIL: make-dev-pki.sh"; failures=1; }
[[ "$(deploy/pki/make-dev-pki.sh --help)" == "usage: make-dev-pki.sh OUT_DIR"* ]] ||
  { echo "FAIL: make-dev-pki.sh --help"; failures=1; }
[[ ! -e --help ]] || { echo "FAIL: make-dev-pki.sh --help made a directory"; failures=1; }
PKI_DIR="$pki_dir" BUILD_DIR="$build" /usr/bin/python3 - <<'PY' || failures=$((failures + 1))
import json, os, re, subprocess, sys, time, urllib.request, yaml

problems = []
def expect(ok, what):
    if not ok:
        problems.append(what)

# Dockerfiles: Debian 12, COPY sources exist, EXPOSEd ports, binaries that CMake builds.
cmake = "".join(open(p).read() for p in ["server/CMakeLists.txt", "worker/CMakeLists.txt",
                                          "client/CMakeLists.txt"])
exposed = {}
image_args = {}
dockerfiles = {}
for name in ("coordinator", "worker", "worker-cuda"):
    text = open(f"deploy/docker/{name}.Dockerfile").read().replace("\\\n", " ")
    dockerfiles[name] = text
    expect(all(line.split()[1] == "debian:bookworm" or line.split()[1].startswith("debian:bookworm ")
               for line in text.splitlines() if line.startswith("FROM")), f"{name}: FROM debian:bookworm")
    for line in text.splitlines():
        if line.startswith("CMD"):
            image_args[name] = json.loads(line[len("CMD"):])
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
expect(exposed.get("worker-cuda") == {9465}, f"worker-cuda EXPOSE {exposed.get('worker-cuda')}")
expect("scripts/setup-torch-pip.sh" in dockerfiles["worker-cuda"],
       "worker-cuda: built against PyTorch's LibTorch by scripts/setup-torch-pip.sh")
expect("--device" in image_args["worker-cuda"] and "--slots" not in image_args["worker-cuda"],
       "worker-cuda image: --device cuda, one job per GPU")

# Each image's runtime packages provide every library its binary (as built here) needs, directly
# or through their dependencies; LibTorch in the CUDA image comes from the wheel, not a package.
def runtime_packages(text):
    last_stage = text[text.rindex("FROM"):]
    packages = set()
    for command in re.findall(r"apt-get install ([^&]*)", last_stage):
        packages |= {w for w in command.split() if not w.startswith("-")}
    listed = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                             "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"] +
                            sorted(packages), capture_output=True, text=True).stdout
    return packages | {line.strip().split(":")[0] for line in listed.splitlines()
                       if line and not line.startswith(" ")}
def needed_packages(binary, skip=()):
    dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout
    packages = {}
    for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[(.+)\]", dynamic):
        # LibTorch from PyTorch's wheel (unversioned sonames, a build against POLYTRAIN_TORCH=pip)
        # is no Debian package: the CUDA image carries it, the CPU image is built against Debian's.
        wheel_torch = soname.startswith(("libtorch", "libc10")) and soname.endswith(".so")
        if wheel_torch or any(soname.startswith(s) for s in skip):
            continue
        owner = subprocess.run(["dpkg", "-S", f"/usr/lib/x86_64-linux-gnu/{soname}"],
                               capture_output=True, text=True).stdout
        if not owner:
            owner = subprocess.run(["dpkg", "-S", f"/lib/x86_64-linux-gnu/{soname}"],
                                   capture_output=True, text=True).stdout
        packages[soname] = owner.split(":")[0] if owner else None
    return packages
build_dir = os.environ["BUILD_DIR"]
for name, binary, skip in [("coordinator", "server/polytrain-coordinator", ()),
                           ("worker", "worker/polytrain-worker", ()),
                           ("worker-cuda", "worker/polytrain-worker", ("libtorch", "libc10"))]:
    available = runtime_packages(dockerfiles[name])
    for soname, package in needed_packages(f"{build_dir}/{binary}", skip).items():
        expect(package is not None and package in available,
               f"{name}.Dockerfile: {soname} (package {package}) is not installed at run time")

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
expect(set(services) == {"pki", "coordinator", "worker", "worker-gpu", "prometheus", "grafana"}, f"compose services {set(services)}")
gpu_service = services["worker-gpu"]
expect(gpu_service.get("profiles") == ["gpu"], "compose worker-gpu: only in the gpu profile")
expect(gpu_service["build"]["dockerfile"] == "deploy/docker/worker-cuda.Dockerfile", "compose worker-gpu dockerfile")
expect(gpu_service["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia",
       "compose worker-gpu: GPU reservation")
expect("./pki:/etc/polytrain/pki:ro" in gpu_service["volumes"], "compose worker-gpu: pki mount")
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
            ("Secret", "polytrain-pki")]:
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
# Security: every pod's /etc/polytrain/pki paths come from its own items of the one Secret, and
# the flags ask for TLS, mutual TLS and tokens; make-dev-pki.sh writes every file named.
pki = os.environ["PKI_DIR"] + "/pki"
secret_keys = set(objects[("Secret", "polytrain-pki")]["stringData"])
def pki_paths(args):
    return {a[len("/etc/polytrain/pki/"):] for a in args if a.startswith("/etc/polytrain/pki/")}
for kind, name, flags in [("StatefulSet", "coordinator", ["--tls_cert", "--tls_key", "--tls_client_ca", "--tokens"]),
                          ("Deployment", "worker", ["--tls_ca", "--tls_cert", "--tls_key", "--token_file"]),
                          ("Deployment", "worker-gpu", ["--tls_ca", "--tls_cert", "--tls_key", "--token_file"])]:
    args = container(kind, name)["args"]
    expect(all(f in args for f in flags) and "--plaintext" not in args, f"k8s {name}: TLS and token flags")
    volumes = {v["name"]: v for v in objects[(kind, name)]["spec"]["template"]["spec"]["volumes"]}
    items = volumes["pki"]["secret"]["items"]
    expect(volumes["pki"]["secret"]["secretName"] == "polytrain-pki", f"k8s {name}: pki Secret")
    expect({i["key"] for i in items} <= secret_keys, f"k8s {name}: items not in the Secret")
    expect(pki_paths(args) == {i["path"] for i in items}, f"k8s {name}: mounted files {pki_paths(args)}")
    expect(all(os.path.exists(f"{pki}/{p}") for p in pki_paths(args)), f"k8s {name}: make-dev-pki.sh files")
for name, args in [("coordinator image", image_args["coordinator"]), ("worker image", image_args["worker"]),
                   ("worker-cuda image", image_args["worker-cuda"]),
                   ("compose worker", services["worker"]["command"]),
                   ("compose worker-gpu", services["worker-gpu"]["command"])]:
    expect(pki_paths(args) and all(os.path.exists(f"{pki}/{p}") for p in pki_paths(args)),
           f"{name}: {pki_paths(args)} not all made by make-dev-pki.sh")
    expect("--plaintext" not in args, f"{name}: plaintext")
# Whatever stops a worker waits for its drain (--drain_seconds, the default read from --help)
# and the 5 s a stuck job may take after it, before it kills the worker.
help_text = subprocess.run([f"{build_dir}/worker/polytrain-worker", "--help"],
                           capture_output=True, text=True).stdout
default_drain = re.search(r"--drain_seconds INT:INT in \[5, 3600\]=(\d+)", help_text)
expect(default_drain, "worker --help: no --drain_seconds default")
def drain(args):
    for i, arg in enumerate(args):
        if arg == "--drain_seconds":
            return int(args[i + 1])
        if arg.startswith("--drain_seconds="):
            return int(arg.split("=", 1)[1])
    return int(default_drain.group(1)) if default_drain else 20
for name in ("worker", "worker-gpu"):
    grace = re.fullmatch(r"(\d+)s", str(services[name].get("stop_grace_period", "10s")))
    expect(grace and int(grace.group(1)) >= drain(services[name]["command"]) + 5,
           f"compose {name}: stop_grace_period {services[name].get('stop_grace_period')} within the drain")
    pod = objects[("Deployment", name)]["spec"]["template"]["spec"]
    expect(pod.get("terminationGracePeriodSeconds", 30) >= drain(container("Deployment", name)["args"]) + 5,
           f"k8s {name}: terminationGracePeriodSeconds within the drain")
expect(services["pki"]["entrypoint"][0] == "make-dev-pki.sh", "compose pki service")
for name in ("coordinator", "worker"):
    expect("./pki:/etc/polytrain/pki:ro" in services[name]["volumes"], f"compose {name}: pki mount")

# The shipped arguments, run: image CMD for the coordinator, compose command for a worker.
build = os.environ["BUILD_DIR"]
run = os.environ["PKI_DIR"]
def local(args):
    out = []
    for a in args:
        a = a.replace("/etc/polytrain/pki", pki).replace("/var/lib/polytrain", run + "/data")
        out.append({"0.0.0.0:50051": "127.0.0.1:0", "0.0.0.0:9464": "127.0.0.1:0"}.get(a, a))
    return out
os.makedirs(run + "/data", exist_ok=True)
coordinator = subprocess.Popen([f"{build}/server/polytrain-coordinator"] + local(image_args["coordinator"]) +
                               ["--port_file", run + "/port", "--metrics_port_file", run + "/metrics_port"],
                               stdout=subprocess.DEVNULL, stderr=open(run + "/coordinator.log", "w"))
worker = None
def read_port(path):
    deadline = time.time() + 20
    while time.time() < deadline:
        if os.path.exists(path) and open(path).read().strip():
            return int(open(path).read())
        time.sleep(0.05)
    return 0
try:
    port, metrics_port = read_port(run + "/port"), read_port(run + "/metrics_port")
    expect(port > 0, "coordinator with the image's arguments did not start: " + open(run + "/coordinator.log").read())
    if port > 0:
        address = f"127.0.0.1:{port}"
        def polyctl(token):
            return subprocess.run([f"{build}/client/polyctl", "list", "--coordinator", address,
                                   "--tls_ca", f"{pki}/ca.pem", "--token_file", f"{pki}/{token}"],
                                  capture_output=True).returncode
        expect(polyctl("client.token") == 0, "polyctl with the client token")
        expect(polyctl("admin.token") == 0, "polyctl with the admin token")
        expect(polyctl("worker.token") == 8, "polyctl with the worker token must be refused")
        worker_args = local(services["worker"]["command"])
        worker_args[worker_args.index("--coordinator") + 1] = address
        worker = subprocess.Popen([f"{build}/worker/polytrain-worker", "--name", "deploy-test"] + worker_args +
                                  ["--tls_server_name", "coordinator"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        connected = False
        deadline = time.time() + 30
        while time.time() < deadline and not connected:
            body = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics").read().decode()
            connected = re.search(r"^polytrain_workers_connected 1(\.0+)?$", body, re.M) is not None
            time.sleep(0.05)
        expect(connected, "a worker with the compose arguments did not connect over mutual TLS")
    # A certificate made for the other end is refused at start-up, naming it: a worker's
    # (clientAuth only) as the coordinator's, the coordinator's (serverAuth only) as a worker's.
    try:  # bounded: a coordinator that takes the certificate serves until killed
        refused = subprocess.run([f"{build}/server/polytrain-coordinator", "--listen", "127.0.0.1:0",
                                  "--tls_cert", f"{pki}/worker.pem", "--tls_key", f"{pki}/worker.key",
                                  "--db", run + "/refused.db", "--artifacts", run + "/data",
                                  "--metrics_listen", ""], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired as served:
        refused = subprocess.CompletedProcess(served.cmd, 0, "", "served with it for 30 s")
    expect(refused.returncode != 0 and f"--tls_cert {pki}/worker.pem: the certificate is not for a "
           "TLS server (its extended key usage lacks serverAuth)" in refused.stderr,
           f"a worker's certificate served by the coordinator: exit {refused.returncode}: {refused.stderr}")
    # TLS on every interface without tokens serves, with a warning that anyone is an admin.
    open_log = open(run + "/open.log", "w")
    wide_open = subprocess.Popen([f"{build}/server/polytrain-coordinator", "--listen", "0.0.0.0:0",
                                  "--tls_cert", f"{pki}/coordinator.pem", "--tls_key",
                                  f"{pki}/coordinator.key", "--db", run + "/open.db", "--artifacts",
                                  run + "/data", "--metrics_listen", "", "--port_file", run + "/open_port"],
                                 stdout=subprocess.DEVNULL, stderr=open_log)
    warning = "serving 0.0.0.0:0 without --tokens: every caller may do everything an admin may"
    deadline = time.time() + 20  # the warning follows the port file
    while time.time() < deadline and warning not in open(run + "/open.log").read():
        time.sleep(0.05)
    wide_open.kill()
    wide_open.wait()
    expect(warning in open(run + "/open.log").read(),
           "no warning for TLS on every interface without tokens: " + open(run + "/open.log").read())
    refused = subprocess.run([f"{build}/client/polyctl", "list", "--coordinator", "127.0.0.1:1",
                              "--tls_ca", f"{pki}/ca.pem", "--tls_cert", f"{pki}/coordinator.pem",
                              "--tls_key", f"{pki}/coordinator.key"], capture_output=True, text=True)
    expect(refused.returncode == 1 and "the certificate is not for a TLS client" in refused.stderr,
           f"the coordinator's certificate presented by a client: exit {refused.returncode}: {refused.stderr}")
finally:
    for process in (worker, coordinator):
        if process is not None:
            process.kill()
            process.wait()

expect(objects[("Service", "worker")]["spec"].get("clusterIP") == "None", "k8s worker Service must be headless (DNS discovery)")
# Each Deployment's selector matches its own pods and no other Deployment's (controllers with
# overlapping selectors fight over pods); the headless Service finds every worker pod.
def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())
deployments = {key[1]: doc for key, doc in objects.items() if key[0] == "Deployment"}
for name, doc in deployments.items():
    for other, other_doc in deployments.items():
        labels = other_doc["spec"]["template"]["metadata"]["labels"]
        expect(selects(doc["spec"]["selector"]["matchLabels"], labels) == (name == other),
               f"k8s Deployment {name}'s selector and Deployment {other}'s pod labels")
    expect(selects(objects[("Service", "worker")]["spec"]["selector"], doc["spec"]["template"]["metadata"]["labels"]),
           f"k8s worker Service does not select Deployment {name}'s pods")
gpu = container("Deployment", "worker-gpu")
expect(gpu["resources"]["limits"].get("nvidia.com/gpu") == 1 and "cuda" in gpu["args"], "k8s GPU worker")
expect(gpu["image"] == "polytrain-worker-cuda:latest" and "--slots" not in gpu["args"],
       "k8s GPU worker: the CUDA image, one job per GPU")
# The GPU workers' shipped arguments parse: on a machine without a GPU the worker refuses them
# with the reason (exit 5), not a usage error.
if subprocess.run(["sh", "-c", "command -v nvidia-smi"], capture_output=True).returncode != 0:
    for label, args in [("compose worker-gpu", gpu_service["command"]),
                        ("worker-cuda image", image_args["worker-cuda"]), ("k8s worker-gpu", gpu["args"])]:
        result = subprocess.run([f"{build}/worker/polytrain-worker"] + local(args), capture_output=True, text=True)
        expect(result.returncode == 5 and "LibTorch sees no CUDA device" in result.stderr,
               f"{label} arguments: exit {result.returncode}: {result.stderr.strip()}")
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
