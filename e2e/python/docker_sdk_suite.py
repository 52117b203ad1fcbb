"""Drive gantryd with the Docker SDK for Python (docker-py), one step at a time.

Usage: python3 docker_sdk_suite.py <socket> <busybox docker-archive> <scratch dir>
Prints one JSON line per step: {"step": name, "ok": bool, "error": str}. Steps run in order and
later steps use what earlier ones made (the image, a running container), so a failure stops the run.
The exit status is 0 only when every step passed.
"""
import io
import json
import sys
import tarfile
import time
import traceback

import docker

SOCK, ARCHIVE, SCRATCH = sys.argv[1], sys.argv[2], sys.argv[3]
PREFIX = "pysdk-"
client = docker.DockerClient(base_url="unix://" + SOCK, version="auto", timeout=60)
steps = []
state = {}


def step(fn):
    steps.append(fn)
    return fn


def check(cond, what):
    if not cond:
        raise AssertionError(what)


@step
def ping_and_version():
    check(client.ping() is True, "ping")
    v = client.version()
    check(v["ApiVersion"] and v["Os"] == "linux", "version: %r" % v)
    info = client.info()
    check("Containers" in info and "Images" in info, "info keys")


@step
def images_load():
    with open(ARCHIVE, "rb") as f:
        loaded = client.images.load(f.read())
    tags = [t for img in loaded for t in img.tags]
    check("busybox:latest" in tags, "loaded tags: %r" % tags)


@step
def images_list_get_tag_remove():
    img = client.images.get("busybox:latest")
    check(img.id.startswith("sha256:"), "image id %r" % img.id)
    check(img.attrs["Os"] == "linux", "image Os")
    check(any("busybox:latest" in i.tags for i in client.images.list()), "images.list has busybox")
    check(img.tag(PREFIX + "img", "v1") is True, "tag")
    tagged = client.images.get(PREFIX + "img:v1")
    check(tagged.id == img.id, "tag points at the image")
    check(any(PREFIX + "img:v1" in i.tags for i in client.images.list(name=PREFIX + "img")), "list by name")
    client.images.remove(PREFIX + "img:v1")
    try:
        client.images.get(PREFIX + "img:v1")
        raise AssertionError("removed tag still there")
    except docker.errors.ImageNotFound:
        pass
    check(client.images.get("busybox:latest").id == img.id, "busybox kept")


@step
def run_attached_output():
    out = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], remove=True, name=PREFIX + "once")
    check(out == b"out\n", "stdout of run: %r" % out)  # stderr: see run_attached_failure
    try:
        client.containers.get(PREFIX + "once")
        raise AssertionError("remove=True left the container")
    except docker.errors.NotFound:
        pass


@step
def run_attached_failure():
    try:
        client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], name=PREFIX + "fail")
        raise AssertionError("no ContainerError")
    except docker.errors.ContainerError as e:
        check(e.exit_status == 3, "exit status %r" % e.exit_status)
        check(b"bad" in (e.stderr or b""), "stderr in error: %r" % e.stderr)
    c = client.containers.get(PREFIX + "fail")
    check(c.status == "exited" and c.attrs["State"]["ExitCode"] == 3, "state of failed container")
    c.remove()


@step
def run_detached_exec():
    c = client.containers.run("busybox", ["sh", "-c", "echo started; exec sleep 600"], detach=True, name=PREFIX + "web", labels={"t": PREFIX}, environment={"FOO": "bar"})
    state["c"] = c
    c.reload()
    check(c.status == "running", "status %r" % c.status)
    check(c.name == PREFIX + "web", "name")
    check(c.labels == {"t": PREFIX}, "labels %r" % c.labels)
    check(c.image.id == client.images.get("busybox").id, "image")
    r = c.exec_run(["sh", "-c", "echo $FOO; echo e >&2; exit 5"])
    check(r.exit_code == 5, "exec exit code %r" % r.exit_code)
    check(r.output == b"bar\ne\n", "exec output %r" % r.output)
    r = c.exec_run("cat /nonexistent", demux=True)
    check(r.exit_code == 1 and r.output[0] is None and b"nonexistent" in r.output[1], "demux %r" % (r,))
    r = c.exec_run(["pwd"], workdir="/tmp", user="1000", environment={"X": "1"})
    check((r.exit_code, r.output) == (0, b"/tmp\n"), "exec workdir %r" % (r,))
    r = c.exec_run(["id", "-u"], user="1000")
    check(r.output == b"1000\n", "exec user %r" % (r,))


@step
def list_and_filters():
    c = state["c"]
    ids = [x.id for x in client.containers.list(filters={"label": "t=" + PREFIX})]
    check(ids == [c.id], "list by label %r" % ids)
    check(c.id in [x.id for x in client.containers.list()], "running list")
    check(client.containers.list(filters={"name": PREFIX + "nosuch"}) == [], "name filter")


@step
def logs():
    c = state["c"]
    deadline = time.time() + 10
    while c.logs() != b"started\n" and time.time() < deadline:
        time.sleep(0.05)  # the process may not have written yet
    check(c.logs() == b"started\n", "logs %r" % c.logs())
    check(c.logs(timestamps=True).split(b" ", 1)[1] == b"started\n", "timestamps")
    check(c.logs(tail=0) == b"", "tail=0")


@step
def archive_put_get():
    c = state["c"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = b"hello archive\n"
        ti = tarfile.TarInfo("greeting.txt")
        ti.size = len(data)
        ti.mode = 0o640
        t.addfile(ti, io.BytesIO(data))
    check(c.put_archive("/tmp", buf.getvalue()) is True, "put_archive")
    r = c.exec_run(["cat", "/tmp/greeting.txt"])
    check(r.output == b"hello archive\n", "file in container %r" % (r,))
    bits, stat = c.get_archive("/tmp/greeting.txt")
    check(stat["name"] == "greeting.txt" and stat["size"] == 14, "stat %r" % stat)
    got = io.BytesIO(b"".join(bits))
    with tarfile.open(fileobj=got) as t:
        m = t.getmember("greeting.txt")
        check(t.extractfile(m).read() == b"hello archive\n", "content")
        check(m.mode & 0o777 == 0o640, "mode %o" % m.mode)
    try:
        c.get_archive("/nonexistent")
        raise AssertionError("no NotFound")
    except docker.errors.NotFound:
        pass


@step
def top_pause_update():
    c = state["c"]
    top = c.top()
    check(any("sleep" in p[-1] for p in top["Processes"]), "top %r" % top)
    c.pause()
    c.reload()
    check(c.status == "paused", "paused %r" % c.status)
    c.unpause()
    c.reload()
    check(c.status == "running", "unpaused %r" % c.status)
    c.update(mem_limit="64m", memswap_limit="128m")
    c.reload()
    check(c.attrs["HostConfig"]["Memory"] == 64 << 20, "update Memory %r" % c.attrs["HostConfig"]["Memory"])


@step
def stats_once():
    s = state["c"].stats(stream=False)
    check(s["memory_stats"].get("usage", 0) > 0, "memory usage %r" % s["memory_stats"])
    check(s["cpu_stats"]["cpu_usage"]["total_usage"] > 0, "cpu usage")
    check(s["pids_stats"].get("current", 0) >= 1, "pids %r" % s.get("pids_stats"))


@step
def networks():
    n = client.networks.create(PREFIX + "net", driver="bridge", labels={"t": PREFIX})
    state["n"] = n
    check(n.name == PREFIX + "net", "name")
    check(client.networks.get(n.id).attrs["Driver"] == "bridge", "driver")
    check(n.id in [x.id for x in client.networks.list(names=[PREFIX + "net"])], "list by name")
    c = state["c"]
    n.connect(c, aliases=["webby"])
    n.reload()
    check([x.id for x in n.containers] == [c.id], "connected %r" % n.containers)
    c.reload()
    ep = c.attrs["NetworkSettings"]["Networks"][PREFIX + "net"]
    check(ep["IPAddress"] != "", "endpoint IP %r" % ep)
    r = c.exec_run(["ip", "-4", "addr"])
    check(ep["IPAddress"].encode() in r.output, "address inside the container %r" % r.output)
    n.disconnect(c)
    n.reload()
    check(n.containers == [], "disconnected")
    n.remove()
    try:
        client.networks.get(PREFIX + "net")
        raise AssertionError("network still there")
    except docker.errors.NotFound:
        pass


@step
def volumes():
    v = client.volumes.create(PREFIX + "vol", labels={"t": PREFIX})
    check(v.name == PREFIX + "vol" and v.attrs["Driver"] == "local", "create %r" % v.attrs)
    check(PREFIX + "vol" in [x.name for x in client.volumes.list()], "list")
    out = client.containers.run("busybox", ["sh", "-c", "echo v > /d/f && cat /d/f"], volumes={PREFIX + "vol": {"bind": "/d", "mode": "rw"}}, remove=True)
    check(out == b"v\n", "volume in a container %r" % out)
    client.volumes.get(PREFIX + "vol").remove()
    check(PREFIX + "vol" not in [x.name for x in client.volumes.list()], "removed")


@step
def stop_wait_remove():
    c = state["c"]
    c.kill(signal="SIGKILL")
    r = c.wait(timeout=30)
    check(r["StatusCode"] == 137, "wait %r" % r)
    c.reload()
    check(c.status == "exited", "status after kill %r" % c.status)
    c.remove()
    check([x for x in client.containers.list(all=True) if x.name.startswith(PREFIX)] == [], "all removed")


ok = True
for fn in steps:
    if not ok:
        print(json.dumps({"step": fn.__name__, "ok": False, "error": "not run: an earlier step failed"}), flush=True)
        continue
    t0 = time.time()
    try:
        fn()
        print(json.dumps({"step": fn.__name__, "ok": True, "seconds": round(time.time() - t0, 2)}), flush=True)
    except Exception:  # report every failure the same way, with its traceback
        ok = False
        print(json.dumps({"step": fn.__name__, "ok": False, "error": traceback.format_exc()}), flush=True)
sys.exit(0 if ok else 1)
