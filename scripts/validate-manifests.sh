#!/usr/bin/env bash
# Validate what deploy/ ships for distributed runs (docs/distributed.md), offline:
#  - every manifest of deploy/kubernetes/ against the schemas of Kubernetes $K8S_VERSION, strictly
#    (unknown fields refused), with kubernetes-validate, whose schemas ship in its package;
#  - what the schemas cannot see: the kustomization lists every manifest, $(VAR) references only
#    variables defined before them, referenced ConfigMaps, keys and claims exist, Job rules the API
#    server enforces, and the shard count N agrees everywhere (completions, parallelism,
#    SURGE_SHARD's "/N", merge-job.yaml's shard directories);
#  - `kubectl kustomize` of the directory, when kubectl is installed, validated the same way;
#  - the Grafana dashboard: JSON, its template variables, and the metrics its queries use (PromQL
#    syntax too when promtool is installed).
# Usage: scripts/validate-manifests.sh [MANIFEST_DIR [DASHBOARD]]
#   (default deploy/kubernetes and deploy/grafana/surge-dashboard.json; installs kubernetes-validate
#   with pip if missing). Exits 0 when all is valid, 1 when anything is not, 2 when it cannot check.
set -uo pipefail
K8S_VERSION=1.30.0
VALIDATOR=kubernetes-validate==1.37.0

cd "$(dirname "$0")/.."
dir=${1:-deploy/kubernetes}
dashboard=${2:-deploy/grafana/surge-dashboard.json}
[ -d "$dir" ] || { echo "no directory $dir" >&2; exit 2; }
[ -f "$dashboard" ] || { echo "no file $dashboard" >&2; exit 2; }

if ! python3 -c 'import kubernetes_validate, yaml' 2>/dev/null; then
  python3 -m pip install --quiet "$VALIDATOR" >&2 || { echo "cannot install $VALIDATOR" >&2; exit 2; }
fi
echo "kubernetes-validate $(python3 -m kubernetes_validate --version), schemas of Kubernetes $K8S_VERSION"

failed=0
fail() { echo "FAIL $*"; failed=1; }

# kubernetes-validate exits 0 on a kind it has no schema for (a misspelt kind or apiVersion) and
# only warns: any WARN, ERROR or FATAL line is a failure here.
validate() { # FILE [NAME]
  local out rc
  out=$(python3 -m kubernetes_validate --strict --quiet -k "$K8S_VERSION" "$1" 2>&1)
  rc=$?
  if [ "$rc" -ne 0 ] || grep -qE '^(WARN|ERROR|FATAL)|Couldn.t' <<<"$out"; then
    fail "${2:-$1}: $out"
  else
    echo "ok   ${2:-$1}: valid for Kubernetes $K8S_VERSION"
  fi
}

shopt -s nullglob
manifests=()
for f in "$dir"/*.yaml "$dir"/*.yml; do
  case "$(basename "$f")" in kustomization.yaml | kustomization.yml | Kustomization) ;; *) manifests+=("$f") ;; esac
done
[ "${#manifests[@]}" -gt 0 ] || fail "$dir: no manifests"
for f in "${manifests[@]}"; do validate "$f"; done

if command -v kubectl >/dev/null 2>&1; then
  built=$(mktemp)
  if kubectl kustomize "$dir" >"$built" 2>"$built.err"; then
    validate "$built" "kubectl kustomize $dir"
  else
    fail "kubectl kustomize $dir: $(cat "$built.err")"
  fi
  rm -f "$built" "$built.err"
else
  echo "skip kubectl kustomize (no kubectl)"
fi

# What a schema cannot see.
python3 - "$dir" "$dashboard" <<'PY' || failed=1
import json, os, re, shutil, subprocess, sys, tempfile, tomllib
import yaml

manifest_dir, dashboard = sys.argv[1], sys.argv[2]
failures = []
def fail(msg): failures.append(msg); print("FAIL " + msg)
def ok(msg): print("ok   " + msg)

docs = {}  # file name -> documents
for name in sorted(os.listdir(manifest_dir)):
    if not name.endswith((".yaml", ".yml")):
        continue
    with open(os.path.join(manifest_dir, name)) as f:
        try:
            docs[name] = [d for d in yaml.safe_load_all(f) if d]
        except yaml.YAMLError as e:
            fail(f"{name}: not YAML: {e}")
            continue
    if not docs[name]:
        fail(f"{name}: no document")

# The kustomization lists every manifest, and nothing that is not there.
kfile = next((n for n in ("kustomization.yaml", "kustomization.yml") if n in docs), None)
if kfile is None:
    fail(f"{manifest_dir}: no kustomization.yaml")
else:
    k = docs[kfile][0]
    if k.get("kind") != "Kustomization":
        fail(f"{kfile}: kind is {k.get('kind')!r}, not Kustomization")
    listed = k.get("resources") or []
    for r in listed:
        if r not in docs:
            fail(f"{kfile}: lists {r}, which is not in {manifest_dir}")
    for n in docs:
        if n != kfile and n not in listed:
            fail(f"{kfile}: does not list {n}")
    if not any(f.startswith(f"{kfile}:") for f in failures):
        ok(f"{kfile}: lists every manifest")

objects = [(n, d) for n, ds in docs.items() if n != kfile for d in ds if isinstance(d, dict)]
configmaps = {d["metadata"]["name"]: d.get("data") or {} for _, d in objects
              if d.get("kind") == "ConfigMap" and d.get("metadata", {}).get("name")}
claims = {d["metadata"]["name"] for _, d in objects
          if d.get("kind") == "PersistentVolumeClaim" and d.get("metadata", {}).get("name")}
for name, d in objects:
    if not (d.get("metadata") or {}).get("name"):
        fail(f"{name}: a {d.get('kind')} without metadata.name")

def pod_spec(d):
    if d.get("kind") == "Pod":
        return d.get("spec") or {}
    if d.get("kind") in ("Job", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"):
        return ((d.get("spec") or {}).get("template") or {}).get("spec") or {}
    if d.get("kind") == "CronJob":
        return (((d.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template", {}).get("spec") or {}
    return None

VAR = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
for name, d in objects:
    spec = pod_spec(d)
    if spec is None:
        continue
    where = f"{name}: {d['kind']} {d['metadata'].get('name')}"
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    for v in volumes.values():
        cm = (v.get("configMap") or {}).get("name")
        if cm and cm not in configmaps and not (v.get("configMap") or {}).get("optional"):
            fail(f"{where}: volume {v.get('name')} needs ConfigMap {cm}, which no manifest defines")
        pvc = (v.get("persistentVolumeClaim") or {}).get("claimName")
        if pvc and pvc not in claims:
            fail(f"{where}: volume {v.get('name')} needs claim {pvc}, which no manifest defines")
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        cw = f"{where}, container {c.get('name')}"
        defined = set()
        for ef in c.get("envFrom") or []:
            ref = (ef.get("configMapRef") or {}).get("name")
            if ref in configmaps:
                defined |= {(ef.get("prefix") or "") + k for k in configmaps[ref]}
        for e in c.get("env") or []:
            for ref in VAR.findall(e.get("value") or ""):
                if ref not in defined:
                    fail(f"{cw}: env {e['name']} uses $({ref}), which is not defined above it "
                         "(Kubernetes expands only variables defined earlier in the list)")
            key_ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
            if key_ref and not key_ref.get("optional"):
                data = configmaps.get(key_ref.get("name"))
                if data is None or key_ref.get("key") not in data:
                    fail(f"{cw}: env {e['name']} needs key {key_ref.get('key')} of ConfigMap "
                         f"{key_ref.get('name')}, which no manifest defines")
            defined.add(e["name"])
        words = (c.get("command") or []) + (c.get("args") or [])
        for w in words:
            for ref in VAR.findall(w):
                if ref not in defined:
                    fail(f"{cw}: command or args use $({ref}), which the container's env does not define")
        # A file named under a ConfigMap's mount path must be one of its keys.
        text = "\n".join(words)
        for m in c.get("volumeMounts") or []:
            cm = (volumes.get(m.get("name")) or {}).get("configMap")
            if not cm or cm.get("name") not in configmaps or m.get("subPath"):
                continue
            root = m["mountPath"].rstrip("/") + "/"
            for path in re.findall(re.escape(root) + r"([\w.-]+)", text):
                if path not in configmaps[cm["name"]]:
                    fail(f"{cw}: runs {root}{path}, but ConfigMap {cm['name']} has no key {path}")
        ports = {str(p.get("containerPort")) for p in c.get("ports") or []}
        annotations = ((d.get("spec") or {}).get("template") or {}).get("metadata", {}).get("annotations") or {}
        if d.get("kind") == "Pod":
            annotations = d["metadata"].get("annotations") or {}
        port = annotations.get("prometheus.io/port")
        if port and port not in ports and len(spec.get("containers") or []) == 1:
            fail(f"{cw}: prometheus.io/port {port} is not a containerPort")
    if d.get("kind") == "Job":
        js = d.get("spec") or {}
        if spec.get("restartPolicy") not in ("Never", "OnFailure"):
            fail(f"{where}: a Job's restartPolicy must be Never or OnFailure")
        if js.get("completionMode") == "Indexed" and js.get("completions") is None:
            fail(f"{where}: an Indexed Job needs completions")
        if "backoffLimitPerIndex" in js and js.get("completionMode") != "Indexed":
            fail(f"{where}: backoffLimitPerIndex requires completionMode Indexed")
        if "backoffLimitPerIndex" in js and spec.get("restartPolicy") != "Never":
            fail(f"{where}: backoffLimitPerIndex requires restartPolicy Never")
        if "podFailurePolicy" in js and spec.get("restartPolicy") != "Never":
            fail(f"{where}: podFailurePolicy requires restartPolicy Never")

# The shard count agrees everywhere, and every scenario's journey file is beside it.
shards = [d for _, d in objects if d.get("kind") == "Job" and any(
    e.get("name") == "SURGE_SHARD" for c in pod_spec(d).get("containers") or [] for e in c.get("env") or [])]
merges = [d for _, d in objects if d.get("kind") == "Job" and any(
    (c.get("args") or [None])[0] == "merge" for c in pod_spec(d).get("containers") or [])]
if len(shards) != 1:
    fail(f"{manifest_dir}: {len(shards)} Jobs set SURGE_SHARD, expected 1")
else:
    job = shards[0]
    js, c = job["spec"], pod_spec(job)["containers"][0]
    env = {e["name"]: e for e in c.get("env") or []}
    m = re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", env["SURGE_SHARD"].get("value") or "")
    index_ref = ((env.get("JOB_COMPLETION_INDEX") or {}).get("valueFrom") or {}).get("fieldRef", {}).get("fieldPath")
    n = int(m.group(1)) if m else None
    if not m:
        fail(f"Job {job['metadata']['name']}: SURGE_SHARD is not \"$(JOB_COMPLETION_INDEX)/N\"")
    elif index_ref not in ("metadata.annotations['batch.kubernetes.io/job-completion-index']",
                           "metadata.labels['batch.kubernetes.io/job-completion-index']"):
        fail(f"Job {job['metadata']['name']}: JOB_COMPLETION_INDEX is not from the job-completion-index annotation")
    elif js.get("completionMode") != "Indexed" or js.get("completions") != n or js.get("parallelism") != n:
        fail(f"Job {job['metadata']['name']}: SURGE_SHARD says N = {n}, but completionMode is "
             f"{js.get('completionMode')}, completions {js.get('completions')}, parallelism {js.get('parallelism')}")
    else:
        ok(f"Job {job['metadata']['name']}: Indexed, {n} shards at once, SURGE_SHARD $(JOB_COMPLETION_INDEX)/{n}")
    out = (env.get("SURGE_OUT") or {}).get("value") or ""
    if "$(JOB_COMPLETION_INDEX)" not in out:
        fail(f"Job {job['metadata']['name']}: SURGE_OUT {out!r} is the same for every shard")
    if len(merges) != 1:
        fail(f"{manifest_dir}: {len(merges)} Jobs run `surge merge`, expected 1")
    elif n is not None:
        merge = merges[0]
        args = [a for a in pod_spec(merge)["containers"][0]["args"][1:] if not a.startswith("-")]
        pattern = re.escape(out).replace(re.escape("$(JOB_COMPLETION_INDEX)"), r"(\d+)")
        indexes = sorted(int(mm.group(1)) for a in args[1:] if (mm := re.fullmatch(pattern, a)))
        if indexes != list(range(n)) or len(args) - 1 != n:
            fail(f"Job {merge['metadata']['name']}: merges {args[1:]}, expected the {n} shard directories "
                 f"{out.replace('$(JOB_COMPLETION_INDEX)', '0')} … {out.replace('$(JOB_COMPLETION_INDEX)', str(n - 1))}")
        else:
            ok(f"Job {merge['metadata']['name']}: merges the {n} shard directories into {args[0]}")

for cm, data in configmaps.items():
    for key, text in data.items():
        if not key.endswith(".toml"):
            continue
        try:
            toml = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            fail(f"ConfigMap {cm}: {key} is not TOML: {e}")
            continue
        j = toml.get("journeys")
        if "traffic" in toml and isinstance(j, str):
            if j not in data:
                fail(f"ConfigMap {cm}: scenario {key} names journeys = {j!r}, which is not a key beside it")
            else:
                ok(f"ConfigMap {cm}: scenario {key} and its journey file {j}")
        if "traffic" in toml and "target" in toml:
            print(f"note ConfigMap {cm}: scenario {key} sets target; SURGE_TARGET overrides it")
        shipped = os.path.join("journeys", key)
        if "journeys" in toml and os.path.exists(shipped) and open(shipped).read() != text:
            print(f"note ConfigMap {cm}: {key} differs from {shipped}")

# The dashboard.
KNOWN = {"surge_visits_planned", "surge_visits_started_total", "surge_visits_late_total",
         "surge_visits_completed_total", "surge_visits_in_flight", "surge_requests_total",
         "surge_request_failures_total", "surge_funnel_total"}
for h in ("surge_step_latency_seconds", "surge_visit_latency_seconds", "surge_visit_lateness_seconds"):
    KNOWN |= {h + "_bucket", h + "_sum", h + "_count"}
try:
    dash = json.load(open(dashboard))
except (OSError, json.JSONDecodeError) as e:
    fail(f"{dashboard}: not JSON: {e}")
    dash = None
if dash is not None:
    before = len(failures)
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}
    for need in ("datasource", "scenario"):
        if need not in variables:
            fail(f"{dashboard}: no template variable {need!r}")
    if not isinstance(dash.get("schemaVersion"), int):
        fail(f"{dashboard}: no schemaVersion")
    ids, exprs = set(), []
    for p in dash.get("panels") or []:
        if p.get("id") in ids:
            fail(f"{dashboard}: two panels with id {p.get('id')}")
        ids.add(p.get("id"))
        for t in p.get("targets") or []:
            e = t.get("expr") or ""
            if not e:
                fail(f"{dashboard}: panel {p.get('title')!r} target {t.get('refId')} has no expr")
            for metric in re.findall(r"\b(surge_[a-z_]+)\b", e):
                if metric not in KNOWN:
                    fail(f"{dashboard}: panel {p.get('title')!r} queries {metric}, which surge does not export")
            if "$scenario" not in e:
                fail(f"{dashboard}: panel {p.get('title')!r} target {t.get('refId')} ignores $scenario")
            if (t.get("datasource") or {}).get("uid") != "${datasource}":
                fail(f"{dashboard}: panel {p.get('title')!r} target {t.get('refId')} does not use ${{datasource}}")
            exprs.append(e)
    promtool = shutil.which("promtool")
    if promtool and exprs:
        subst = lambda e: (e.replace("$__rate_interval", "1m").replace("$__range", "1h")
                           .replace("$scenario", "ci").replace("$shard", ".*"))
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:expr{i}", "expr": subst(e)} for i, e in enumerate(exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            json.dump(rules, f)
        r = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if r.returncode != 0:
            fail(f"{dashboard}: PromQL does not parse: {' '.join((r.stdout + r.stderr).split())}")
    if len(failures) == before:
        ok(f"{dashboard}: {len(dash.get('panels') or [])} panels, {len(exprs)} queries"
           + (", PromQL parsed by promtool" if promtool else " (no promtool: PromQL not parsed)"))

sys.exit(1 if failures else 0)
PY

if [ "$failed" -ne 0 ]; then
  echo "deploy manifests: NOT valid"
  exit 1
fi
echo "deploy manifests: valid"
