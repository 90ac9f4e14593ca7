#!/usr/bin/env python3
"""deploy_manifests.py — run by deploy_manifests.sh (not a test by itself).

Reads every manifest in deploy/k8s/ (python3-yaml), checks its structure, then runs the exact
command each container would run as a local process, with the environment the engine would set:
  - Kubernetes: JOB_COMPLETION_INDEX for Indexed Jobs, HOSTNAME = <statefulset>-<ordinal> for
    StatefulSet pods, POD_IP from the downward API (each pod its own loopback address
    127.42.0.x, so every pod keeps the manifest's ports), Service names resolving to the address
    of the pod they select, and each volumeMount's path mapped to a local directory (ConfigMap
    files written there) — the one rewrite of the command text;
  - Slurm: SLURM_ARRAY_TASK_ID / _MIN / _COUNT / SLURM_ARRAY_JOB_ID, and an `sbatch` on PATH that
    records the merge job it is asked to submit (which the test then runs).
A few env values are made small for CI (seeds, durations, device counts), as `kubectl set env`
would; each is named where it is set. Exit 0 when everything holds; prints "FAIL: ..." else.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("BIN", os.path.join(ROOT, "bin"))
T = sys.argv[1]
# The image's working directory as the Containerfile lays it out: the tree, with bin/ holding
# the binaries under test ($BIN: build/asan/bin in make test, where the tree has no bin/).
IMAGE = os.path.join(T, "image")
os.makedirs(IMAGE, exist_ok=True)
for name in os.listdir(ROOT):
    if name not in ("bin", "build", ".git"):
        os.symlink(os.path.join(ROOT, name), os.path.join(IMAGE, name))
os.symlink(BIN, os.path.join(IMAGE, "bin"))
failures = []
procs = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, flush=True)


def ok(msg):
    print("ok - " + msg, flush=True)


def check(cond, msg):
    if cond:
        ok(msg)
    else:
        fail(msg)
    return cond


# ---- structure -------------------------------------------------------------------------------

docs = {}
for f in sorted(os.listdir(os.path.join(ROOT, "deploy/k8s"))):
    if not f.endswith(".yaml"):
        continue
    with open(os.path.join(ROOT, "deploy/k8s", f)) as fh:
        for d in yaml.safe_load_all(fh):
            if d is None:
                continue
            for k in ("apiVersion", "kind", "metadata"):
                if k not in d:
                    fail("%s: a document without %s" % (f, k))
            docs[(d["kind"], d["metadata"]["name"])] = dict(d, _file=f)
check(len(docs) >= 10, "deploy/k8s: %d documents parsed" % len(docs))


def get(kind, name):
    d = docs.get((kind, name))
    if d is None:
        fail("deploy/k8s: no %s %s" % (kind, name))
        sys.exit(1)
    return d


def pod_spec(d):
    return d["spec"]["template"]["spec"]


def container(d):
    cs = pod_spec(d)["containers"]
    if len(cs) != 1:
        fail("%s: expected one container" % d["metadata"]["name"])
    return cs[0]


def env_of(c):
    return {e["name"]: e.get("value") for e in c.get("env", [])}


workloads = [d for d in docs.values() if d["kind"] in ("Job", "Deployment", "StatefulSet")]
images = {container(d)["image"] for d in workloads}
check(len(images) == 1, "one image for every workload: %s" % sorted(images))
for d in workloads:
    c = container(d)
    n = d["metadata"]["name"]
    if c.get("workingDir") != "/opt/flbench":
        fail("%s: workingDir must be /opt/flbench (the Containerfile's)" % n)
    if c["command"][:2] != ["sh", "-c"] or len(c["command"]) != 3:
        fail("%s: command must be sh -c SCRIPT" % n)
    r = subprocess.run(["sh", "-n", "-c", c["command"][2]], capture_output=True, text=True)
    if r.returncode:
        fail("%s: the command is not valid sh: %s" % (n, r.stderr.strip()))
    # every volume a container mounts is declared, and what it names exists
    vols = {v["name"]: v for v in pod_spec(d).get("volumes", [])}
    for t in d["spec"].get("volumeClaimTemplates", []):
        vols[t["metadata"]["name"]] = {"name": t["metadata"]["name"], "template": True}
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"])
        if v is None:
            fail("%s: mounts undeclared volume %s" % (n, m["name"]))
        elif "configMap" in v:
            get("ConfigMap", v["configMap"]["name"])
        elif "persistentVolumeClaim" in v:
            get("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"])
    labels = d["spec"]["template"]["metadata"]["labels"]
    sel = d["spec"].get("selector", {}).get("matchLabels")
    if sel and any(labels.get(k) != v for k, v in sel.items()):
        fail("%s: the selector does not match the pod labels" % n)
ok("every workload: workingDir, sh -c command that parses, volumes declared, selectors match")

# the sweep: an Indexed Job whose shard count is its completions, results on a shared volume
sweep = get("Job", "flbench-sweep")
merge_job = get("Job", "flbench-sweep-merge")
sc = container(sweep)
check(sweep["spec"]["completionMode"] == "Indexed", "sweep Job is Indexed")
comps = sweep["spec"]["completions"]
check(0 < sweep["spec"]["parallelism"] <= comps, "sweep parallelism %d <= completions %d"
      % (sweep["spec"]["parallelism"], comps))
check(env_of(sc)["SWEEP_SHARDS"] == str(comps) and env_of(container(merge_job))["SWEEP_SHARDS"] == str(comps),
      "SWEEP_SHARDS equals completions (%d) in the sweep and the merge Job" % comps)
check("--shard \"auto/$SWEEP_SHARDS\"" in sc["command"][2], "shard pods run --shard auto/$SWEEP_SHARDS")
check(pod_spec(sweep)["restartPolicy"] == "Never", "shard pods are not restarted in place")
pvc = get("PersistentVolumeClaim", "flbench-results")
check("ReadWriteMany" in pvc["spec"]["accessModes"], "the results volume is ReadWriteMany")
check("sweep-merge" in container(merge_job)["command"][2], "the merge Job runs sim sweep-merge")

# the cluster
sched = get("Deployment", "fl-scheduler")
ssvc = get("Service", "fl-scheduler")
srv = get("StatefulSet", "fl-server")
hsvc = get("Service", srv["spec"]["serviceName"])
fleet = get("Job", "fl-fleet")
check(sched["spec"]["replicas"] == 1 and sched["spec"]["strategy"]["type"] == "Recreate",
      "one scheduler, replaced not rolled (its volume is ReadWriteOnce)")
ports = {p["port"] for p in ssvc["spec"]["ports"]}
check(ports == {6667, 11202}, "scheduler Service: inter-node 6667 and manage 11202 (%s)" % sorted(ports))
check(all(sched["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in ssvc["spec"]["selector"].items()),
      "the scheduler Service selects the scheduler pod")
rp = container(sched)["readinessProbe"]["httpGet"]
check(rp["path"] == "/state" and rp["port"] == 11202, "scheduler readiness: GET /state on 11202")
check(hsvc["spec"].get("clusterIP") == "None", "the servers' Service is headless")
check(srv["spec"]["podManagementPolicy"] == "Parallel" and srv["spec"]["updateStrategy"]["type"] == "OnDelete",
      "servers start together; changing the template restarts nobody")
vct = [t["metadata"]["name"] for t in srv["spec"]["volumeClaimTemplates"]]
mounts = {m["name"]: m["mountPath"] for m in container(srv)["volumeMounts"]}
check("data" in vct and mounts.get("data") == "/data" and "--data_dir=/data" in container(srv)["command"][2],
      "each server has its own PersistentVolumeClaim for its recovery files (/data)")
check("MS_NODE_ID=${HOSTNAME##*-}" in container(srv)["command"][2], "node id = the StatefulSet ordinal")
check("/state" in " ".join(container(srv)["readinessProbe"]["exec"]["command"]), "server readiness from /state")
check(env_of(container(srv))["FL_SERVER_NUM"] == str(srv["spec"]["replicas"]) == env_of(container(sched))["FL_SERVER_NUM"],
      "server_num = the StatefulSet's replicas (%d), for the scheduler too" % srv["spec"]["replicas"])
check("fl-fleet" in container(fleet)["command"][2], "the fl-fleet Job runs bin/fl-fleet")
cfg = json.loads(get("ConfigMap", "fl-config")["data"]["config.json"])
check(cfg["recovery"]["storage_file_path"].startswith("/data/"), "the scheduler's recovery file is on its volume")

# Slurm and the Containerfile
sb = open(os.path.join(ROOT, "deploy/slurm/sweep.sbatch")).read()
check(subprocess.run(["sh", "-n", os.path.join(ROOT, "deploy/slurm/sweep.sbatch")]).returncode == 0,
      "sweep.sbatch is valid sh")
check("--shard auto" in sb and "afterany:${SLURM_ARRAY_JOB_ID}" in sb, "sweep.sbatch: shard auto, merge after the array")
cf = open(os.path.join(ROOT, "deploy/Containerfile")).read()
froms = re.findall(r"^FROM\s+(\S+)", cf, re.M)
check(froms and all(f.endswith("debian:12") for f in froms), "Containerfile: every stage FROM debian:12 (%s)" % froms)
check(not re.search(r"\b(curl|wget)\s+\S*https?://|^ADD\s+https?://|pip install|npm install", cf, re.M),
      "Containerfile: nothing fetched but Debian packages")
deps = open(os.path.join(ROOT, "scripts/deps.sh")).read()
devs = set(re.findall(r"\b([a-z0-9.+-]+-dev)\b", cf))
check(devs and all(p in deps for p in devs), "Containerfile build packages are scripts/deps.sh's (%s)" % sorted(devs))

# ---- running the containers' commands ------------------------------------------------------


def pod_env(c, extra, services):
    """The container's env as the engine sets it: values, downward API, plus extra."""
    env = {"PATH": BIN + ":" + os.environ["PATH"], "HOME": T, "TMPDIR": os.path.join(T, "tmp")}
    for e in c.get("env", []):
        if "value" in e:
            v = e["value"]
            env[e["name"]] = services.get(v, v)  # a Service name: cluster DNS answers its address
        elif e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP":
            env[e["name"]] = extra["POD_IP"]
    env.update(extra)
    return env


def mounted(d, c, pod):
    """The command with each volumeMount path mapped to a local directory (ConfigMaps written)."""
    script = c["command"][2]
    vols = {v["name"]: v for v in pod_spec(d).get("volumes", [])}
    mapping = {}
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"], {})
        if "persistentVolumeClaim" in v:  # a shared claim: one directory for every pod
            local = os.path.join(T, "pvc", v["persistentVolumeClaim"]["claimName"])
        else:
            local = os.path.join(T, "pods", pod, m["name"])
        os.makedirs(local, exist_ok=True)
        mapping[m["mountPath"]] = local
    for m in c.get("volumeMounts", []):
        v = vols.get(m["name"], {})
        if "configMap" in v:
            for k, text in get("ConfigMap", v["configMap"]["name"])["data"].items():
                for p, l in mapping.items():
                    text = text.replace(p + "/", l + "/")
                with open(os.path.join(mapping[m["mountPath"]], k), "w") as fh:
                    fh.write(text)
    for p in sorted(mapping, key=len, reverse=True):
        script = re.sub(re.escape(p) + r"(?=[/\s\"']|$)", mapping[p], script)
    return script, mapping


def run(script, env, timeout, what):
    r = subprocess.run(["sh", "-c", script], cwd=IMAGE, env=env, capture_output=True, text=True, timeout=timeout)
    if r.returncode:
        fail("%s: exit %d\n%s%s" % (what, r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r


def start(script, env, log):
    fh = open(log, "w")
    # timeout: a pod process outlives nothing, not even this script killed with SIGKILL
    p = subprocess.Popen(["timeout", "180", "sh", "-c", script], cwd=IMAGE, env=env, stdout=fh,
                         stderr=subprocess.STDOUT, start_new_session=True)
    procs.append(p)
    return p


def stop(p, sig=signal.SIGTERM):
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def on_signal(sig, frame):
    raise SystemExit("deploy_manifests.py: signal %d" % sig)  # runs the finally that stops the pods


for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(sig, on_signal)
os.makedirs(os.path.join(T, "tmp"), exist_ok=True)
small = {"SWEEP_SEEDS": "1..%d" % comps, "SWEEP_ARGS": "--invariants-only --duration 20s"}  # CI-sized

# Kubernetes: the sweep Job's pods, index by index, then the merge Job's pod
for i in range(comps):
    env = pod_env(sc, dict(small, POD_IP="127.42.0.%d" % (100 + i), JOB_COMPLETION_INDEX=str(i),
                           HOSTNAME="flbench-sweep-%d-x" % i), {})
    script, mp = mounted(sweep, sc, "sweep-%d" % i)
    run(script, env, 120, "sweep pod %d" % i)
results = mp["/results"]
shards = sorted(x for x in os.listdir(os.path.join(results, "sweep")) if x.startswith("shard-"))
check(len(shards) == comps, "%d shard pods wrote %d shard results" % (comps, len(shards)))
mc = container(merge_job)
script, _ = mounted(merge_job, mc, "merge")
run(script, pod_env(mc, {"POD_IP": "127.42.0.99", "HOSTNAME": "flbench-sweep-merge-x"}, {}), 60, "merge pod")
merged = os.path.join(results, "sweep", "merged")
if os.path.exists(os.path.join(merged, "summary.json")):
    s = json.load(open(os.path.join(merged, "summary.json")))
    check(s["runs"] == comps and s["failed"] == 0, "merged: %d runs, %d failed" % (s["runs"], s["failed"]))
    # the same sweep unsharded, as a person would run it: the merge is identical
    args = small["SWEEP_ARGS"].split()
    u = os.path.join(T, "unsharded")
    subprocess.run([os.path.join(BIN, "sim"), "sweep", env_of(sc)["SWEEP_SCENARIO"], "--seeds", small["SWEEP_SEEDS"],
                    "--quiet", "--jobs", "2"] + args + ["--out", u], cwd=ROOT, capture_output=True, timeout=120)
    for f in ("summary.json", "failing.txt", "junit.xml", "sweep.csv"):
        a, b = open(os.path.join(u, f), "rb").read(), open(os.path.join(merged, f), "rb").read()
        if a != b:
            fail("k8s merged %s differs from the unsharded sweep's" % f)
    ok("the Indexed Job's merged outputs equal the unsharded sweep's, byte for byte")
else:
    fail("the merge pod wrote no summary.json")

# Slurm: the array's tasks, then the merge job the first task submitted
fake = os.path.join(T, "fakebin")
os.makedirs(fake, exist_ok=True)
with open(os.path.join(fake, "sbatch"), "w") as fh:
    fh.write('#!/bin/sh\nfor a in "$@"; do printf "%%s\\n" "$a"; done >"%s/sbatch.args"\necho "Submitted batch job 4243"\n' % T)
os.chmod(os.path.join(fake, "sbatch"), 0o755)
ntask = 4
for i in range(ntask):
    env = {"PATH": fake + ":" + os.environ["PATH"], "HOME": T, "TMPDIR": os.path.join(T, "tmp"),
           "SLURM_ARRAY_JOB_ID": "4242", "SLURM_ARRAY_TASK_ID": str(i + 1), "SLURM_ARRAY_TASK_MIN": "1",
           "SLURM_ARRAY_TASK_MAX": str(ntask), "SLURM_ARRAY_TASK_COUNT": str(ntask), "SLURM_CPUS_PER_TASK": "1",
           "SLURM_JOB_ID": str(4300 + i),
           "SWEEP_SEEDS": "1..6", "SWEEP_ARGS": "--invariants-only --duration 20s",  # CI-sized
           "SWEEP_OUT": os.path.join(T, "slurm")}
    r = subprocess.run(["sh", os.path.join(ROOT, "deploy/slurm/sweep.sbatch")], cwd=IMAGE, env=env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        fail("slurm task %d: exit %d: %s%s" % (i + 1, r.returncode, r.stdout, r.stderr))
sargs = open(os.path.join(T, "sbatch.args")).read().split("\n") if os.path.exists(os.path.join(T, "sbatch.args")) else []
check("--dependency=afterany:4242" in sargs, "the first task submitted the merge after the whole array")
wrap = [a[len("--wrap="):] for a in sargs if a.startswith("--wrap=")]
if check(len(wrap) == 1, "the merge job is one --wrap command"):
    r = subprocess.run(["sh", "-c", wrap[0]], cwd=IMAGE, env={"PATH": os.environ["PATH"]}, capture_output=True,
                       text=True, timeout=60)
    s = json.load(open(os.path.join(T, "slurm", "merged", "summary.json"))) if r.returncode == 0 else {}
    check(s.get("runs") == 6, "slurm: the merge job merged %d shards into %s runs" % (ntask, s.get("runs")))

# Kubernetes: the cluster — scheduler, four servers, readiness, the fleet, scaling, a restart
SCHED_IP = "127.42.0.2"
services = {"fl-scheduler": SCHED_IP}


def api(path, body=None):
    req = urllib.request.Request("http://%s:11202%s" % (SCHED_IP, path), data=body.encode() if body else None,
                                 method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=3) as r:
        return r.status, json.loads(r.read().decode())


def state():
    try:
        return api("/state")[1].get("cluster_state")
    except Exception:
        return None


def servers_alive():
    try:
        nodes = api("/nodes")[1]["nodeIds"]
    except Exception:
        return []
    return sorted(n["nodeId"] for n in nodes if n.get("role") == "SERVER" and n.get("alive") == "true")


def wait(what, secs, cond):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.2)
    fail("timed out after %ds waiting for %s (state %s, servers %s)" % (secs, what, state(), servers_alive()))
    return False


def server_pod(i, server_num):
    c = container(srv)
    env = pod_env(c, {"POD_IP": "127.42.0.%d" % (10 + i), "HOSTNAME": "fl-server-%d" % i}, services)
    env["FL_SERVER_NUM"] = str(server_num)  # kubectl set env, as the scaling notes say
    script, mp = mounted(srv, c, "fl-server-%d" % i)
    return script, env, mp


def probe_ok(c, env):
    r = subprocess.run(c["readinessProbe"]["exec"]["command"], cwd=IMAGE, env=env, capture_output=True, timeout=10)
    return r.returncode == 0


try:
    c = container(sched)
    senv = pod_env(c, {"POD_IP": SCHED_IP, "HOSTNAME": "fl-scheduler-5d8f-x"}, services)
    sscript, _ = mounted(sched, c, "fl-scheduler")
    sp = start(sscript, senv, os.path.join(T, "scheduler.log"))
    wait("the scheduler's readiness (GET /state)", 10, lambda: state() is not None)
    n0 = srv["spec"]["replicas"]
    pods = {}
    for i in range(n0):
        script, env, mp = server_pod(i, n0)
        pods[i] = (start(script, env, os.path.join(T, "server-%d.log" % i)), env, mp)
    if wait("%d servers, CLUSTER_READY" % n0, 30,
            lambda: state() == "CLUSTER_READY" and servers_alive() == [str(i) for i in range(n0)]):
        ok("scheduler + %d StatefulSet pods: CLUSTER_READY, node ids = ordinals %s" % (n0, servers_alive()))
    check(wait("every server's readiness probe", 15, lambda: all(probe_ok(container(srv), pods[i][1]) for i in pods)),
          "every server pod's readiness probe passes")

    # the fleet Job's pod, CI-sized
    fc = container(fleet)
    fenv = pod_env(fc, {"POD_IP": "127.42.0.50", "JOB_COMPLETION_INDEX": "0", "HOSTNAME": "fl-fleet-0-x"}, services)
    fenv.update({"FL_DEVICES": "300", "FL_DURATION": "6s"})  # CI-sized
    fscript, _ = mounted(fleet, fc, "fl-fleet-0")
    r = run(fscript, fenv, 60, "fl-fleet pod")
    out = (r.stdout + r.stderr).strip().splitlines()
    it = re.search(r"\bit (\d+)", out[-1]) if out else None
    check(r.returncode == 0 and it and int(it.group(1)) >= 1,
          "fl-fleet pod trained against the cluster: %s" % (out[-1].strip() if out else "(no output)"))

    # scaling out by 2, as the notes in servers.yaml say: POST /scaleout, set env, scale
    st, body = api("/scaleout", '{"worker_num":0,"server_num":2}')
    check(st == 200 and state() == "CLUSTER_SCALE_OUT", "POST /scaleout: %s" % body.get("message"))
    for i in range(n0, n0 + 2):
        script, env, mp = server_pod(i, n0 + 2)
        pods[i] = (start(script, env, os.path.join(T, "server-%d.log" % i)), env, mp)
    if wait("6 servers after the scale-out", 40,
            lambda: state() == "CLUSTER_READY" and servers_alive() == [str(i) for i in range(n0 + 2)]):
        ok("kubectl scale --replicas=%d after POST /scaleout: %s" % (n0 + 2, servers_alive()))
    # and in again: POST /scalein of the highest ordinals, then the pods go
    st, body = api("/scalein", json.dumps({"node_ids": [str(n0 + 1), str(n0)]}))
    check(st == 200, "POST /scalein: %s" % body.get("message"))
    if wait("4 servers after the scale-in", 40,
            lambda: state() == "CLUSTER_READY" and servers_alive() == [str(i) for i in range(n0)]):
        ok("POST /scalein of %d,%d then kubectl scale --replicas=%d: %s" % (n0 + 1, n0, n0, servers_alive()))
    for i in (n0 + 1, n0):
        stop(pods.pop(i)[0])
    # a server pod killed and started again: same hostname, same node id, its recovery files
    p, env, mp = pods[2]
    stop(p, signal.SIGKILL)
    rec = os.path.join(mp["/data"], "server_2")
    check(os.path.isdir(rec) and os.listdir(rec), "fl-server-2 left recovery files on its volume (%s)"
          % (sorted(os.listdir(rec)) if os.path.isdir(rec) else "none"))
    script, env, mp = server_pod(2, n0)
    pods[2] = (start(script, env, os.path.join(T, "server-2b.log")), env, mp)
    if wait("fl-server-2 back as node 2", 30,
            lambda: state() == "CLUSTER_READY" and servers_alive() == [str(i) for i in range(n0)] and
            "recovery: reloaded" in open(os.path.join(T, "server-2b.log")).read()):
        ok("fl-server-2 restarted: registered as node 2 again, from its recovery files")
finally:
    for p in procs:
        if p.poll() is None:
            stop(p)

if failures:
    for l in sorted(os.listdir(T)):
        if l.endswith(".log") and failures:
            print("--- %s (last lines)" % l)
            print("".join(open(os.path.join(T, l)).readlines()[-15:]))
    sys.exit(1)
