#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Static checks of deploy/ (CTest label `deploy`): no Docker engine, no
Kubernetes cluster and no broker are needed, so the checks read the files and
run what can run locally (the config loader, systemd-analyze, the build-stage
CMake configure, javac, levcal gen against librdkafka's in-process mock).

    check_deploy.py CHECK --root REPO --levcal BINARY

CHECK is one of the names in CHECKS below; each is one CTest. Exit 0 pass,
1 fail (every problem listed), 77 skipped (a tool is missing, said why).
"""

import argparse
import base64
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77

try:
    import yaml
except ImportError:  # pragma: no cover - depends on the machine
    yaml = None


class Problems:
    def __init__(self):
        self.items = []

    def check(self, cond, msg):
        if not cond:
            self.items.append(msg)
        return cond

    def add(self, msg):
        self.items.append(msg)

    def finish(self, what):
        if self.items:
            print(f"deploy check {what}: {len(self.items)} problem(s):")
            for p in self.items:
                print(f"  - {p}")
            return 1
        print(f"deploy check {what}: ok")
        return 0


def skip(msg):
    print(f"SKIP: {msg}")
    return SKIP


# ---- YAML, strictly ---------------------------------------------------------

def strict_loader():
    """A SafeLoader that refuses duplicate keys (PyYAML keeps the last)."""

    class Strict(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return Strict


def load_yaml_all(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.load_all(f, Loader=strict_loader()) if d is not None]


def need_yaml():
    if yaml is None:
        print(f"FAIL: {sys.executable} has no PyYAML: install python3-yaml (Debian) or "
              "`pip install PyYAML`, or configure with -DLVC_DEPLOY_PYTHON=a python that has it")
        sys.exit(1)


def yaml_files(root):
    out = []
    for base, _, files in os.walk(os.path.join(root, "deploy")):
        for f in files:
            if f.endswith((".yaml", ".yml")):
                out.append(os.path.join(base, f))
    return sorted(out)


def check_yaml(a):
    need_yaml()
    p = Problems()
    files = yaml_files(a.root)
    p.check(len(files) >= 8, f"expected the compose file, its config and the k8s manifests, found {files}")
    for f in files:
        try:
            docs = load_yaml_all(f)
            p.check(len(docs) > 0, f"{f}: no YAML document")
        except yaml.YAMLError as e:
            p.add(f"{f}: {e}")
    return p.finish("yaml")


# ---- levcal's own loader on the shipped configs ------------------------------

def check_config_text(a, p, text, name, env, secret_dir=None):
    """Runs `levcal check-config` on text; secret file paths are redirected
    to files made here (the real ones exist only in the pod or host)."""
    with tempfile.TemporaryDirectory() as tmp:
        if secret_dir is not None:
            for key in ("username", "password", "kafka-password"):
                with open(os.path.join(tmp, key), "w") as f:
                    f.write("test-value\n")
            text = text.replace(secret_dir, tmp)
        cfg = os.path.join(tmp, "levcal.yaml")
        with open(cfg, "w") as f:
            f.write(text)
        full_env = dict(os.environ)
        full_env.update(env)
        r = subprocess.run([a.levcal, "check-config", "-c", cfg], capture_output=True, text=True,
                           env=full_env, timeout=60)
        if not p.check(r.returncode == 0, f"{name}: levcal check-config failed: {r.stderr.strip()}"):
            return None
        return r.stdout


# ---- Dockerfile ----------------------------------------------------------------

def dockerfile_instructions(path):
    """(instruction, arguments, line) with continuations joined and comments
    dropped."""
    out, buf, start = [], "", 0
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not buf and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if buf and line.lstrip().startswith("#"):
                continue
            if not buf:
                start = n
            if line.endswith("\\"):
                buf += line[:-1] + " "
                continue
            buf += line
            ins, _, rest = buf.strip().partition(" ")
            out.append((ins.upper(), rest.strip(), start))
            buf = ""
    return out


def apt_packages(run_args):
    """The packages of `apt-get install` in a RUN line."""
    m = re.search(r"apt-get install\s+(.*?)(?:&&|$)", run_args)
    if not m:
        return []
    return [w for w in m.group(1).split() if not w.startswith("-")]


def dockerignore_allows(patterns, rel):
    """Docker's rules, enough for ours: last matching pattern wins, ! negates."""
    import fnmatch
    allowed = True
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat[1:] if neg else pat
        pat = pat.rstrip("/")
        parts = rel.split("/")
        # A pattern matches the path or any of its parent directories.
        if any(fnmatch.fnmatch("/".join(parts[:i]), pat) for i in range(1, len(parts) + 1)):
            allowed = neg
    return allowed


def parse_dockerfile(a):
    path = os.path.join(a.root, "deploy", "Dockerfile")
    ins = dockerfile_instructions(path)
    args = {}
    stages = []  # dicts: name, base, instructions
    for i, rest, line in ins:
        if i == "ARG" and not stages:
            k, _, v = rest.partition("=")
            args[k] = v
        elif i == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"name": name, "base": base, "ins": []})
        elif stages:
            stages[-1]["ins"].append((i, rest, line))
    return path, stages


def check_dockerfile(a):
    p = Problems()
    path, stages = parse_dockerfile(a)
    ignore_path = path + ".dockerignore"
    patterns = []
    if p.check(os.path.exists(ignore_path), f"{ignore_path} missing"):
        with open(ignore_path) as f:
            patterns = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    p.check(len(stages) >= 2, "expected a multi-stage build (build and runtime stages)")
    for s in stages:
        p.check(re.fullmatch(r"debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?", s["base"]) is not None,
                f"stage {s['name']}: base {s['base']} is not Debian bookworm")
    names = [s["name"] for s in stages]
    for idx, s in enumerate(stages):
        for i, rest, line in s["ins"]:
            if i not in ("COPY", "ADD"):
                continue
            words = shlex.split(rest)
            frm = [w for w in words if w.startswith("--from=")]
            srcs = [w for w in words if not w.startswith("--")][:-1]
            if frm:
                ref = frm[0].split("=", 1)[1]
                p.check(ref in names[:idx], f"line {line}: COPY --from={ref}: no earlier stage of that name")
                continue
            for src in srcs:
                full = os.path.join(a.root, src)
                p.check(os.path.exists(full), f"line {line}: COPY {src}: {full} does not exist")
                rel = os.path.normpath(src).rstrip("/")
                p.check(dockerignore_allows(patterns, rel),
                        f"line {line}: COPY {src}: excluded by {os.path.basename(ignore_path)}")
    final = stages[-1] if stages else {"ins": []}
    users = [rest for i, rest, _ in final["ins"] if i == "USER"]
    if p.check(users, "final stage: no USER (the image would run as root)"):
        user = users[-1].split(":")[0]
        p.check(user.isdigit() and int(user) != 0,
                f"final stage: USER {users[-1]}: use a numeric non-root uid (runAsNonRoot checks it)")
    ep = [rest for i, rest, _ in final["ins"] if i == "ENTRYPOINT"]
    p.check(ep and "levcal" in ep[-1], "final stage: ENTRYPOINT is not levcal")
    cmd = [rest for i, rest, _ in final["ins"] if i == "CMD"]
    p.check(cmd and "/etc/levcal/levcal.yaml" in cmd[-1], "final stage: CMD does not read /etc/levcal/levcal.yaml")
    runtime_pkgs = [pkg for i, rest, _ in final["ins"] if i == "RUN" for pkg in apt_packages(rest)]
    build_pkgs = [pkg for s in stages[:-1] for i, rest, _ in s["ins"] if i == "RUN" for pkg in apt_packages(rest)]
    for pkg in runtime_pkgs:
        p.check(not pkg.endswith("-dev") and pkg not in ("build-essential", "gcc", "cmake", "ninja-build",
                                                          "pkg-config", "clang"),
                f"runtime stage installs build tooling: {pkg}")
    for lib in ("librdkafka1", "libavro23", "libyaml-0-2", "libjansson4", "libmicrohttpd12", "libcurl4", "libjemalloc2"):
        p.check(lib in runtime_pkgs, f"runtime stage lacks {lib}")
    import glob
    if shutil.which("apt-cache") and glob.glob("/var/lib/apt/lists/*_Packages*"):
        # One query for all: the names apt knows come back as Package: lines.
        pkgs = sorted(set(runtime_pkgs + build_pkgs))
        r = subprocess.run(["apt-cache", "show", "--no-all-versions"] + pkgs, capture_output=True, text=True)
        known = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
        for pkg in pkgs:
            p.check(pkg in known, f"apt-cache knows no package {pkg} (a Debian bookworm name?)")
    else:
        print("note: no apt-cache or no package lists (apt-get update); package names not checked")
    return p.finish("dockerfile")


def check_runtime_libs(a):
    """Every shared library the built binary needs comes from a package the
    runtime stage installs (or from libc6, in every Debian image)."""
    p = Problems()
    for tool in ("readelf", "dpkg"):
        if not shutil.which(tool):
            return skip(f"{tool} not found: cannot map libraries to Debian packages")
    _, stages = parse_dockerfile(a)
    runtime = {pkg.split(":")[0] for i, rest, _ in stages[-1]["ins"] if i == "RUN" for pkg in apt_packages(rest)}
    out = subprocess.run(["readelf", "-d", a.levcal], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    p.check(needed, f"readelf found no NEEDED entries in {a.levcal}")
    base = {"libc6", "libgcc-s1", "libstdc++6"}
    for lib in needed:
        if lib.startswith(("libasan", "libubsan", "libtsan", "liblsan")):
            continue  # sanitizer runtimes of a test build, not in the image's build
        r = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True, text=True)
        pkgs = {line.split(":")[0] for line in r.stdout.splitlines() if line}
        if not p.check(pkgs, f"{lib}: no installed Debian package provides it"):
            continue
        p.check(pkgs & (runtime | base), f"{lib} comes from {sorted(pkgs)}, not installed by the runtime stage")
    print(f"NEEDED: {', '.join(needed)}")
    return p.finish("runtime_libs")


def check_build_context(a):
    """The build stage's CMake configure, build and install on exactly the
    paths the Dockerfile copies (a configure alone misses files that only
    the build reads, such as schemas/). LVC_DEPLOY_QUICK=1: configure only."""
    p = Problems()
    if not shutil.which("cmake"):
        return skip("cmake not found")
    _, stages = parse_dockerfile(a)
    build = stages[0]
    with tempfile.TemporaryDirectory() as ctx:
        for i, rest, line in build["ins"]:
            if i != "COPY":
                continue
            words = shlex.split(rest)
            srcs, dst = words[:-1], words[-1]
            for src in srcs:
                s = os.path.join(a.root, src)
                base = os.path.join(ctx, dst)
                # Docker: a directory's contents go into dst; a file goes
                # into dst/ when dst ends in a slash, else becomes dst.
                if os.path.isdir(s):
                    shutil.copytree(s, base, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("build*", "__pycache__"))
                else:
                    target = os.path.join(base, os.path.basename(s)) if dst.endswith("/") else base
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    shutil.copy2(s, target)
        cmake_run = [rest for i, rest, _ in build["ins"] if i == "RUN" and "cmake -S" in rest]
        if not p.check(cmake_run, "build stage: no `cmake -S` RUN line"):
            return p.finish("build_context")
        flags = re.findall(r"-D\w+=\S+|-G \w+", cmake_run[0])
        bdir = os.path.join(ctx, "_build")
        cmd = ["cmake", "-S", ctx, "-B", bdir]
        for f in flags:
            cmd += f.split(" ", 1)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        p.check(r.returncode == 0, f"cmake configure of the copied context failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        if r.returncode == 0 and os.environ.get("LVC_DEPLOY_QUICK") != "1":
            r = subprocess.run(["cmake", "--build", bdir], capture_output=True, text=True, timeout=1800)
            p.check(r.returncode == 0, f"build of the copied context failed:\n{r.stdout[-3000:]}")
            if r.returncode == 0:
                inst = os.path.join(ctx, "_install")
                r = subprocess.run(["cmake", "--install", bdir, "--prefix", inst, "--strip"],
                                   capture_output=True, text=True, timeout=300)
                p.check(r.returncode == 0, f"cmake --install failed: {r.stderr[-2000:]}")
                r = subprocess.run([os.path.join(inst, "bin", "levcal"), "version"], capture_output=True, text=True)
                p.check(r.returncode == 0 and r.stdout.startswith("levcal "), "the installed levcal does not run")
                # The image's build links jemalloc (CMake option LVC_JEMALLOC).
                p.check("allocator: jemalloc" in r.stdout, f"the installed levcal does not use jemalloc: {r.stdout!r}")
                # What the runtime stage copies out of the build stage.
                for i, rest, line in parse_dockerfile(a)[1][-1]["ins"]:
                    words = shlex.split(rest) if i == "COPY" else []
                    if any(w.startswith("--from=") for w in words):
                        src = [w for w in words if not w.startswith("--")][0]
                        if src.startswith("/opt/levcal"):
                            p.check(os.path.exists(inst + src[len("/opt/levcal"):]),
                                    f"line {line}: COPY --from: {src} is not in the install tree")
    return p.finish("build_context")


# ---- compose -------------------------------------------------------------------------

def check_compose(a):
    need_yaml()
    p = Problems()
    deploy = os.path.join(a.root, "deploy")
    path = os.path.join(deploy, "compose.yaml")
    (doc,) = load_yaml_all(path)
    svcs = doc.get("services", {})
    for s in ("kafka", "create-topics", "levcal"):
        p.check(s in svcs, f"no service {s}")
    if p.items:
        return p.finish("compose")
    k = svcs["kafka"]
    p.check(re.fullmatch(r"apache/kafka:3\.9\.\d+", k.get("image", "")) is not None,
            f"kafka image {k.get('image')} is not apache/kafka pinned to 3.9.x")
    env = k.get("environment", {})
    p.check("broker" in env.get("KAFKA_PROCESS_ROLES", "") and "controller" in env.get("KAFKA_PROCESS_ROLES", ""),
            "kafka is not a combined KRaft broker+controller (KAFKA_PROCESS_ROLES)")
    p.check(not any("ZOOKEEPER" in key for key in env), "kafka uses ZooKeeper settings")
    try:
        cid = env.get("CLUSTER_ID", "")
        p.check(len(base64.urlsafe_b64decode(cid + "==")) == 16, f"CLUSTER_ID {cid} is not a base64 UUID")
    except ValueError:
        p.add("CLUSTER_ID is not base64")
    p.check(str(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE")).lower() == "false",
            "kafka auto-creates topics: a typo in a topic name would silently make a new topic")
    p.check("healthcheck" in k, "kafka has no healthcheck (create-topics waits for it)")
    ct = svcs["create-topics"]
    p.check(ct.get("depends_on", {}).get("kafka", {}).get("condition") == "service_healthy",
            "create-topics does not wait for a healthy broker")
    p.check(any("create-topics.sh" in str(x) for x in (ct.get("entrypoint") or []) + (ct.get("command") or [])),
            "create-topics does not run create-topics.sh")
    cmdline = [str(x) for x in ct.get("command") or []]
    p.check("-p" in cmdline, "create-topics does not give a partition count (-p)")
    lv = svcs["levcal"]
    p.check(lv.get("depends_on", {}).get("create-topics", {}).get("condition") == "service_completed_successfully",
            "levcal does not wait for the topics")
    b = lv.get("build", {})
    ctx = os.path.normpath(os.path.join(deploy, b.get("context", ".")))
    p.check(os.path.exists(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))),
            f"levcal build: {b.get('dockerfile')} not found in context {ctx}")
    config_mount = None
    for name, svc in svcs.items():
        for v in svc.get("volumes", []) or []:
            if isinstance(v, str) and (v.startswith("./") or v.startswith("../")):
                src, dst = v.split(":")[:2]
                if p.check(os.path.exists(os.path.join(deploy, src)), f"{name}: mounted {src} does not exist"):
                    if name == "levcal" and dst == "/etc/levcal/levcal.yaml":
                        config_mount = os.path.join(deploy, src)
            elif isinstance(v, str):
                vol = v.split(":")[0]
                p.check(vol in (doc.get("volumes") or {}), f"{name}: named volume {vol} is not declared")
    if p.check(config_mount, "levcal has no config mounted at /etc/levcal/levcal.yaml"):
        with open(config_mount) as f:
            text = f.read()
        out = check_config_text(a, p, text, config_mount, {k2: str(v) for k2, v in (lv.get("environment") or {}).items()})
        if out is not None:
            p.check('listen: "0.0.0.0:9464"' in out, "the compose config's metrics.listen is not 0.0.0.0:9464 "
                    "(127.0.0.1 is not reachable through the published port)")
    p.check("healthcheck" in lv, "levcal has no healthcheck")
    p.check(lv.get("read_only") is True and "ALL" in (lv.get("cap_drop") or []), "levcal is not read-only with ALL capabilities dropped")
    return p.finish("compose")


# ---- Kubernetes -----------------------------------------------------------------------

def k8s_objects(a):
    objs = []
    d = os.path.join(a.root, "deploy", "k8s")
    for f in sorted(os.listdir(d)):
        if f.endswith(".yaml"):
            for doc in load_yaml_all(os.path.join(d, f)):
                objs.append((f, doc))
    return d, objs


def check_k8s(a):
    need_yaml()
    p = Problems()
    d, objs = k8s_objects(a)
    by_kind = {}
    for f, o in objs:
        p.check("kind" in o and ("apiVersion" in o), f"{f}: an object without kind/apiVersion")
        by_kind.setdefault(o.get("kind"), []).append(o)
    kust = by_kind.get("Kustomization", [])
    if p.check(kust, "no kustomization.yaml"):
        for r in kust[0].get("resources", []):
            p.check(os.path.exists(os.path.join(d, r)), f"kustomization: resource {r} does not exist")
    for kind in ("StatefulSet", "ConfigMap", "Secret", "Service"):
        p.check(kind in by_kind, f"no {kind}")
    if p.items:
        return p.finish("k8s")
    sts = by_kind["StatefulSet"][0]
    spec = sts["spec"]
    tpl = spec["template"]
    pod = tpl["spec"]
    sel = spec["selector"]["matchLabels"]
    p.check(all(tpl["metadata"]["labels"].get(k) == v for k, v in sel.items()), "selector does not match the pod labels")
    svc = [s for s in by_kind["Service"] if s["metadata"]["name"] == spec.get("serviceName")]
    if p.check(svc, f"serviceName {spec.get('serviceName')} names no Service"):
        p.check(svc[0]["spec"].get("clusterIP") == "None", "the StatefulSet's Service is not headless (clusterIP: None)")
        p.check(all(svc[0]["spec"]["selector"].get(k) == v for k, v in sel.items()), "the Service selects other pods")
    psc = pod.get("securityContext", {})
    p.check(psc.get("runAsNonRoot") is True, "pod securityContext.runAsNonRoot is not true")
    p.check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "pod seccompProfile is not RuntimeDefault")
    p.check(pod.get("automountServiceAccountToken") is False, "the pod mounts a service-account token it does not use")
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    cms = {c["metadata"]["name"]: c for c in by_kind["ConfigMap"]}
    secrets = {s["metadata"]["name"]: s for s in by_kind["Secret"]}
    for v in volumes.values():
        if "configMap" in v:
            p.check(v["configMap"]["name"] in cms, f"volume {v['name']}: no ConfigMap {v['configMap']['name']}")
        if "secret" in v:
            p.check(v["secret"]["secretName"] in secrets, f"volume {v['name']}: no Secret {v['secret']['secretName']}")
    (c,) = [c for c in pod["containers"] if c["name"] == "levcal"]
    csc = c.get("securityContext", {})
    p.check(csc.get("readOnlyRootFilesystem") is True, "container readOnlyRootFilesystem is not true")
    p.check(csc.get("allowPrivilegeEscalation") is False, "container allowPrivilegeEscalation is not false")
    p.check("ALL" in csc.get("capabilities", {}).get("drop", []), "container does not drop ALL capabilities")
    p.check(csc.get("seccompProfile", {}).get("type", "RuntimeDefault") == "RuntimeDefault", "container seccomp is not RuntimeDefault")
    ports = {pt["name"]: pt["containerPort"] for pt in c.get("ports", [])}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        pr = c.get(probe)
        if p.check(pr, f"no {probe}"):
            hg = pr.get("httpGet", {})
            p.check(hg.get("path") == path, f"{probe} path is {hg.get('path')}, expected {path}")
            p.check(hg.get("port") in ports or hg.get("port") in ports.values(), f"{probe} port {hg.get('port')} is not a container port")
    res = c.get("resources", {})
    for k in ("requests", "limits"):
        p.check("cpu" in res.get(k, {}) and "memory" in res.get(k, {}), f"resources.{k} lacks cpu or memory")
    env = {e["name"]: e for e in c.get("env", [])}
    inst = env.get("LVC_INSTANCE", {})
    p.check(inst.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
            "LVC_INSTANCE is not the pod name (valueFrom.fieldRef metadata.name)")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    for m in mounts.values():
        p.check(m["name"] in volumes, f"volumeMount {m['mountPath']}: no volume {m['name']}")
    cfg_mount = mounts.get("/etc/levcal")
    if p.check(cfg_mount and "configMap" in volumes.get(cfg_mount["name"], {}), "no ConfigMap mounted at /etc/levcal"):
        cm = cms[volumes[cfg_mount["name"]]["configMap"]["name"]]
        text = cm["data"].get("levcal.yaml")
        if p.check(text, "the ConfigMap has no levcal.yaml"):
            p.check(re.search(r"^instance: \$\{LVC_INSTANCE\}\s*$", text, re.M) is not None,
                    "the config does not set instance: ${LVC_INSTANCE}")
            # Every *_file the config reads must be a key of a mounted Secret.
            for key, fpath in re.findall(r"^\s*([\w.]+)_file:\s*(\S+)", text, re.M):
                mdir, fname = os.path.split(fpath)
                m = mounts.get(mdir)
                vol = volumes.get(m["name"]) if m else None
                if p.check(vol and "secret" in vol, f"{key}_file {fpath}: no Secret mounted at {mdir}"):
                    s = secrets.get(vol["secret"]["secretName"], {})
                    keys = set((s.get("stringData") or {}).keys()) | set((s.get("data") or {}).keys())
                    p.check(fname in keys, f"{key}_file {fpath}: Secret {vol['secret']['secretName']} has no key {fname}")
                    mode = vol["secret"].get("defaultMode", 0o644)
                    p.check(mode & 0o040 or psc.get("runAsUser") == 0,
                            f"Secret volume mode {oct(mode)} is not group-readable: uid {psc.get('runAsUser')} cannot read it")
            envs = {"LVC_INSTANCE": "levcal-0", "LVC_BOOTSTRAP": env.get("LVC_BOOTSTRAP", {}).get("value", "k:9092")}
            mdirs = sorted({os.path.dirname(f) for _, f in re.findall(r"^\s*([\w.]+)_file:\s*(\S+)", text, re.M)})
            out = check_config_text(a, p, text, "ConfigMap levcal.yaml", envs, mdirs[0] if mdirs else None)
            if out is not None:
                p.check('listen: "0.0.0.0:9464"' in out, "the ConfigMap's metrics.listen is not 0.0.0.0:9464: the probes could not reach it")
                p.check("<redacted>" in out, "the SASL secrets are not read as secrets")
    return p.finish("k8s")


# ---- systemd -------------------------------------------------------------------------

def check_systemd(a):
    p = Problems()
    path = os.path.join(a.root, "deploy", "levcal.service")
    with open(path) as f:
        text = f.read()
    keys = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)=(.*)$", line)
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    want = {"ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
            "MemoryDenyWriteExecute": "yes", "Restart": "on-failure"}
    for k, v in want.items():
        p.check(v in keys.get(k, []), f"{k}={v} missing")
    p.check("yes" in keys.get("DynamicUser", []) or keys.get("User"), "neither DynamicUser=yes nor User=")
    p.check(keys.get("RestrictAddressFamilies"), "RestrictAddressFamilies= missing")
    p.check("@system-service" in keys.get("SystemCallFilter", []), "SystemCallFilter=@system-service missing")
    p.check(any("-c /etc/levcal/levcal.yaml" in e for e in keys.get("ExecStart", [])), "ExecStart does not read /etc/levcal/levcal.yaml")
    if p.items:
        return p.finish("systemd")
    sa = shutil.which("systemd-analyze")
    if not sa:
        return skip("systemd-analyze not found (apt-get install systemd to run it); the directives above were checked")
    with tempfile.TemporaryDirectory() as tmp:
        unit = os.path.join(tmp, "levcal.service")
        # verify insists that ExecStart's binary exists: point it at ours.
        with open(unit, "w") as f:
            f.write(text.replace("/usr/local/bin/levcal", os.path.abspath(a.levcal)))
        r = subprocess.run([sa, "verify", unit], capture_output=True, text=True, timeout=120)
        # Unknown keys and bad values are only warnings (exit 0): any output fails.
        out = (r.stdout + r.stderr).strip()
        p.check(r.returncode == 0 and not out, f"systemd-analyze verify: rc {r.returncode}: {out}")
        r = subprocess.run([sa, "security", "--offline=yes", unit], capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
        if m:
            print(f"systemd-analyze security: exposure {m.group(1)}")
            p.check(float(m.group(1)) <= 2.0, f"exposure {m.group(1)} is above 2.0")
    return p.finish("systemd")


# ---- create-topics.sh ---------------------------------------------------------------

def check_create_topics(a):
    p = Problems()
    script = os.path.join(a.root, "deploy", "create-topics.sh")
    p.check(os.access(script, os.X_OK), "create-topics.sh is not executable")
    r = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    p.check(r.returncode == 0, f"bash -n: {r.stderr}")
    if shutil.which("shellcheck"):
        r = subprocess.run(["shellcheck", script], capture_output=True, text=True)
        p.check(r.returncode == 0, f"shellcheck:\n{r.stdout}")
    else:
        print("note: shellcheck not found; not run")
    r = subprocess.run(["bash", script, "-n", "-p", "4", "-r", "1", "-t", "2"], capture_output=True, text=True)
    if p.check(r.returncode == 0, f"dry run failed: {r.stderr}"):
        got = {}
        for line in r.stdout.splitlines():
            name, *kv = line.split()
            got[name] = dict(x.split("=") for x in kv)
        want = {"market.trades": ("4", "delete"), "market.prices": ("4", "delete"),
                "risk.positions": ("2", "compact"), "risk.balances": ("2", "compact"),
                "risk.leverage-limits": ("4", "delete"), "risk.liquidation-warnings": ("4", "delete"),
                "levcal.deadletter": ("4", "delete"), "levcal.state": ("4", "compact")}
        p.check(set(got) == set(want), f"topics {sorted(got)}, expected {sorted(want)}")
        for t, (parts, pol) in want.items():
            g = got.get(t, {})
            p.check(g.get("partitions") == parts and g.get("cleanup.policy") == pol and g.get("replication") == "1",
                    f"{t}: {g}, expected partitions={parts} cleanup.policy={pol} replication=1")
    env = dict(os.environ, LVC_TOPIC_STATE="x.state")
    r = subprocess.run(["bash", script, "-n"], capture_output=True, text=True, env=env)
    p.check("x.state partitions=6 replication=3 cleanup.policy=compact" in r.stdout,
            f"LVC_TOPIC_STATE not honoured or wrong defaults: {r.stdout}")
    for bad, msg in ((["-p", "0"], "-p 0: allowed: a positive integer"), (["-r", "x"], "-r x: allowed: a positive integer"),
                     (["extra"], "Usage")):
        r = subprocess.run(["bash", script] + bad, capture_output=True, text=True)
        p.check(r.returncode != 0 and msg in r.stderr, f"{bad}: rc {r.returncode}, stderr {r.stderr!r}")
    # The Admin-client fallback compiles against the jars kafka-local.sh fetches.
    with open(script) as f:
        m = re.search(r"<<'EOF'\n(.*?)\nEOF\n", f.read(), re.S)
    p.check(m and "class CreateTopics" in m.group(1), "no embedded CreateTopics.java")
    cache = os.environ.get("LVC_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "levcal"))
    libs = sorted(d for d in (os.listdir(cache) if os.path.isdir(cache) else [])
                  if re.fullmatch(r"kafka-\d+\.\d+\.\d+", d) and os.path.exists(os.path.join(cache, d, "libs", ".complete")))
    if m and libs and shutil.which("javac"):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "CreateTopics.java")
            with open(src, "w") as f:
                f.write(m.group(1))
            for v in libs:
                r = subprocess.run(["javac", "-d", tmp, "-cp", os.path.join(cache, v, "libs", "*"), src],
                                   capture_output=True, text=True, timeout=300)
                p.check(r.returncode == 0, f"CreateTopics.java does not compile against {v}: {r.stderr}")
                print(f"CreateTopics.java compiles against {v}")
    else:
        print("note: no javac or no fetched Kafka jars; the Admin-client fallback was not compiled")
    return p.finish("create_topics")


# ---- levcal gen against librdkafka's mock cluster ----------------------------------------

GEN_CONFIG = "kafka:\n  test.mock.num.brokers: \"1\"\nlog:\n  level: info\n"


def gen_report(text):
    m = re.search(r"gen: done in ([0-9.]+) s: trades=(\d+) \(([0-9.]+)/s, asked ([0-9.]+)/s\) marks=(\d+) "
                  r"\(([0-9.]+)/s\) positions=(\d+) balances=(\d+) delivered=(\d+) failed=(\d+)", text)
    if not m:
        return None
    keys = ("seconds", "trades", "rate", "asked", "marks", "mark_rate", "positions", "balances", "delivered", "failed")
    return dict(zip(keys, (float(x) for x in m.groups())))


def check_gen(a):
    p = Problems()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "gen.yaml")
        with open(cfg, "w") as f:
            f.write(GEN_CONFIG)
        r = subprocess.run([a.levcal, "gen", "-c", cfg, "--rate", "400", "--instruments", "5", "--seconds", "2",
                            "--positions", "60", "--seed", "3", "--mark-interval", "200ms"],
                           capture_output=True, text=True, timeout=120)
        rep = gen_report(r.stderr)
        if p.check(r.returncode == 0 and rep, f"gen rc {r.returncode}, no report:\n{r.stderr[-2000:]}"):
            p.check(rep["failed"] == 0, f"failed deliveries: {rep}")
            total = rep["trades"] + rep["marks"] + rep["positions"] + rep["balances"]
            p.check(rep["delivered"] == total, f"delivered {rep['delivered']} != produced {total}")
            p.check(rep["positions"] == 60, f"positions {rep['positions']}")
            p.check(0 < rep["balances"] <= 20, f"balances {rep['balances']}: 20 accounts, about 30% cross")
            p.check(abs(rep["trades"] - 800) <= 80, f"{rep['trades']} trades in 2 s at 400/s")
            # 5 instruments, one MARK each per 200 ms: 25/s.
            p.check(abs(rep["marks"] - 50) <= 6, f"{rep['marks']} marks in 2 s, expected about 50")
        r = subprocess.run([a.levcal, "gen", "-c", cfg, "--rate", "-3"], capture_output=True, text=True, timeout=30)
        p.check(r.returncode == 2 and "--rate -3: allowed" in r.stderr, f"--rate -3: rc {r.returncode} {r.stderr!r}")
        r = subprocess.run([a.levcal, "gen", "-c", cfg], capture_output=True, text=True, timeout=30)
        p.check(r.returncode == 2 and "--rate N is required" in r.stderr, f"no --rate: rc {r.returncode} {r.stderr!r}")
        # Without --seconds it runs until SIGINT, then flushes and exits 0.
        proc = subprocess.Popen([a.levcal, "gen", "-c", cfg, "--rate", "200"], stderr=subprocess.PIPE, text=True)
        seen, deadline = "", time.monotonic() + 60
        while "gen: 4 instrument(s)" not in seen and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        proc.send_signal(signal.SIGINT)
        try:
            rest = proc.communicate(timeout=60)[1]
        except subprocess.TimeoutExpired:
            proc.kill()
            rest = proc.communicate()[1]
            p.add("gen did not stop within 60 s of SIGINT")
        rep = gen_report(seen + rest)
        p.check(proc.returncode == 0 and rep and rep["failed"] == 0 and rep["delivered"] == rep["trades"] + rep["marks"],
                f"after SIGINT: rc {proc.returncode}, report {rep}")
    return p.finish("gen")


CHECKS = {
    "yaml": check_yaml,
    "dockerfile": check_dockerfile,
    "runtime_libs": check_runtime_libs,
    "build_context": check_build_context,
    "compose": check_compose,
    "k8s": check_k8s,
    "systemd": check_systemd,
    "create_topics": check_create_topics,
    "gen": check_gen,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("check", choices=sorted(CHECKS))
    ap.add_argument("--root", required=True)
    ap.add_argument("--levcal", required=True)
    a = ap.parse_args()
    a.root = os.path.abspath(a.root)
    return CHECKS[a.check](a)


if __name__ == "__main__":
    sys.exit(main())
