#!/usr/bin/env python3
"""critest-images.py — the test images critest v1.29.0 pulls, made offline from Debian's static busybox.

usage: tools/critest-images.py OUTDIR

Writes OUTDIR/<n>.tar (docker-archive, as `docker save` writes it) for every image below and
OUTDIR/images.txt, one line per reference: `<archive> <registry path>:<tag>`, the path being the
reference without its registry domain, which is how a registry mirror is asked for it
(tools/critest.sh pushes each with skopeo to a local docker-registry mirroring registry.k8s.io and
gcr.io). Every image has two layers: busybox with a link per applet (shared by all of them, so a
registry stores it once) and the image's own files.

Stand-ins, each for what critest checks of it (pkg/validate in cri-tools v1.29.0):
- e2e-test-images/nginx:1.14-2 — HTTP 200 on port 80 (port mapping, port-forward); its pid 1 is
  named `nginx`, shows `nginx: master process` in its command line and writes /var/run/nginx.pid
  (HostPID, PodPID, ContainerPID).
- k8s-staging-cri-tools/hostnet-nginx-amd64 — the same on port 12003 (port-forward in host network).
- e2e-test-images/httpd:2.4.39-4 — HTTP 200 on port 80 and `httpd -D FOREGROUND` in its log
  (Multiple Containers).
- e2e-test-images/nonewprivs:1.3 — a set-user-ID root program printing `Effective uid: N`
  (NoNewPrivs); compiled here with gcc -static, left out (with a warning) when gcc cannot.
- k8s-staging-cri-tools/test-image-user-* — USER 1002, www-data, 1003:1004, www-data:1004.
- k8s-staging-cri-tools/test-image-predefined-group — USER 1000, default-user in group 50000.
- k8s-staging-cri-tools/test-image-{latest,1,2,3}, test-image-tag:{test,all} — busybox plus a file
  named after the image (different images); test-image-tags:{1,2,3} — one image under three tags.
- e2e-test-images/busybox:1.29-2 — critest's default container image.
Not made: test-image-digest@sha256:9700f9a2…, whose manifest digest cannot be reproduced.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

MTIME = 1546300800  # fixed: the same input gives the same layer, config and image ID
BUSYBOX = '/bin/busybox'
PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

PASSWD = ['root:x:0:0:root:/root:/bin/sh', 'daemon:x:1:1:daemon:/usr/sbin:/bin/false',
          'www-data:x:33:33:www-data:/var/www:/bin/false', 'nobody:x:65534:65534:nobody:/home:/bin/false']
GROUP = ['root:x:0:', 'daemon:x:1:', 'www-data:x:33:', 'nogroup:x:65534:']

# Debian's busybox-static has neither pgrep nor ipcs, which critest runs in containers.
PGREP = """#!/bin/sh
# pgrep [-f] PATTERN: pids whose /proc/PID/comm (with -f: command line) matches
full=; [ "$1" = "-f" ] && { full=1; shift; }
rc=1
for d in /proc/[0-9]*; do
  p=${d#/proc/}; [ "$p" = "$$" ] && continue
  if [ -n "$full" ]; then n=$(tr '\\0' ' ' < "$d/cmdline" 2>/dev/null); else n=$(cat "$d/comm" 2>/dev/null); fi
  [ -n "$n" ] && echo "$n" | grep -q -- "$1" && { echo "$p"; rc=0; }
done
exit $rc
"""
IPCS = """#!/bin/sh
# ipcs [-m|-q|-s]: the kernel's SysV IPC tables
case "$1" in -m) t=shm;; -q) t=msg;; -s) t=sem;; *) t="shm msg sem";; esac
for x in $t; do echo "------ $x ------"; cat /proc/sysvipc/$x; done
"""

# pid 1 renames itself to nginx and keeps nginx's process title in its arguments; busybox httpd
# serves the pages as its child, and a TERM stops both (pid 1 has no default signal actions).
NGINX = """#!/bin/sh
exec /bin/sh -c '
  echo $$ > /var/run/nginx.pid
  printf nginx > /proc/$$/comm
  httpd -f -p {port} -h /usr/share/nginx/html &
  trap "kill \\$!; exit 0" TERM INT QUIT
  wait
' "nginx: master process nginx $*"
"""
HTTPD = """#!/bin/sh
echo "httpd stand-in (busybox httpd on :80), Command line: 'httpd -D FOREGROUND'" >&2
httpd -f -p 80 -h /usr/local/apache2/htdocs &
trap "kill $!; exit 0" TERM INT QUIT
wait
"""
NNP_C = r"""#include <stdio.h>
#include <unistd.h>
int main(void) { printf("Effective uid: %d\n", (int)geteuid()); return 0; }
"""


class Layer:
    """An uncompressed tar layer with fixed times and root ownership."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode='w', format=tarfile.GNU_FORMAT)
        self.dirs = set()

    def _info(self, name, kind, mode):
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.mtime = kind, mode, MTIME
        return ti

    def dir(self, name, mode=0o755):
        parts = name.strip('/').split('/')
        for i in range(1, len(parts) + 1):
            d = '/'.join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                self.tar.addfile(self._info(d, tarfile.DIRTYPE, mode if i == len(parts) else 0o755))

    def file(self, name, data, mode=0o644):
        name = name.strip('/')
        if '/' in name:
            self.dir(name.rsplit('/', 1)[0])
        if isinstance(data, str):
            data = data.encode()
        ti = self._info(name, tarfile.REGTYPE, mode)
        ti.size = len(data)
        self.tar.addfile(ti, io.BytesIO(data))

    def hardlink(self, name, target):
        name = name.strip('/')
        self.dir(name.rsplit('/', 1)[0])
        ti = self._info(name, tarfile.LNKTYPE, 0o755)
        ti.linkname = target
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def busybox_layer():
    layer = Layer()
    for d in ('bin', 'dev', 'etc', 'proc', 'sys', 'root', 'usr/bin', 'usr/sbin', 'sbin', 'var/run', 'home'):
        layer.dir(d)
    layer.dir('tmp', 0o1777)
    with open(BUSYBOX, 'rb') as f:
        layer.file('bin/busybox', f.read(), 0o755)
    # hard links, as in the busybox image: a masked /bin/ls must not mask /bin/busybox through a symlink
    for p in subprocess.check_output([BUSYBOX, '--list-full'], text=True).split():
        if p != 'bin/busybox':
            layer.hardlink(p, 'bin/busybox')
    layer.file('usr/bin/pgrep', PGREP, 0o755)
    layer.file('usr/bin/ipcs', IPCS, 0o755)
    return layer.bytes()


def write_archive(path, layers, config):
    """docker-archive: manifest.json, the config blob and one directory per layer."""
    diff_ids = ['sha256:' + hashlib.sha256(b).hexdigest() for b in layers]
    cfg = {
        'architecture': 'amd64', 'os': 'linux', 'created': '2019-01-01T00:00:00Z',
        'config': config,
        'rootfs': {'type': 'layers', 'diff_ids': diff_ids},
        'history': [{'created': '2019-01-01T00:00:00Z', 'created_by': 'tools/critest-images.py'} for _ in layers],
    }
    cfg_bytes = json.dumps(cfg, sort_keys=True).encode()
    cfg_name = hashlib.sha256(cfg_bytes).hexdigest() + '.json'
    names = [d[len('sha256:'):] + '/layer.tar' for d in diff_ids]
    manifest = json.dumps([{'Config': cfg_name, 'RepoTags': None, 'Layers': names}]).encode()
    with tarfile.open(path, 'w') as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), MTIME, 0o644
            t.addfile(ti, io.BytesIO(data))
        add(cfg_name, cfg_bytes)
        for name, data in zip(names, layers):
            add(name, data)
        add('manifest.json', manifest)


def compile_nnp(tmp):
    src, out = os.path.join(tmp, 'nnp.c'), os.path.join(tmp, 'nnp')
    with open(src, 'w') as f:
        f.write(NNP_C)
    gcc = shutil.which('gcc')
    if gcc is None or subprocess.run([gcc, '-static', '-O2', '-o', out, src]).returncode != 0:
        return None
    with open(out, 'rb') as f:
        return f.read()


def images(tmp):
    """(references, config, files, passwd extra, group extra) for each image."""
    k8s, cri = 'e2e-test-images/', 'k8s-staging-cri-tools/'
    html = '<html><body><h1>critest stand-in</h1></body></html>\n'
    out = [
        ([k8s + 'busybox:1.29-2'], {'Cmd': ['sh']}, {}, [], []),
        ([k8s + 'nginx:1.14-2'], {'Cmd': ['nginx', '-g', 'daemon off;']},
         {'usr/sbin/nginx': (NGINX.replace('{port}', '80'), 0o755), 'usr/share/nginx/html/index.html': (html, 0o644)}, [], []),
        ([cri + 'hostnet-nginx-amd64:latest'], {'Cmd': ['nginx', '-g', 'daemon off;']},
         {'usr/sbin/nginx': (NGINX.replace('{port}', '12003'), 0o755), 'usr/share/nginx/html/index.html': (html, 0o644)}, [], []),
        ([k8s + 'httpd:2.4.39-4'], {'Cmd': ['httpd-foreground']},
         {'usr/local/bin/httpd-foreground': (HTTPD, 0o755), 'usr/local/apache2/htdocs/index.html': (html, 0o644)}, [], []),
        ([cri + 'test-image-user-uid:latest'], {'User': '1002'}, {}, [], []),
        ([cri + 'test-image-user-username:latest'], {'User': 'www-data'}, {}, [], []),
        ([cri + 'test-image-user-uid-group:latest'], {'User': '1003:1004'}, {}, [], []),
        ([cri + 'test-image-user-username-group:latest'], {'User': 'www-data:1004'}, {}, [], []),
        ([cri + 'test-image-predefined-group:latest'], {'User': '1000'}, {},
         ['default-user:x:1000:1000::/home/default-user:/bin/sh'], ['default-user:x:1000:', 'group-defined-in-image:x:50000:default-user']),
        ([cri + 'test-image-tags:1', cri + 'test-image-tags:2', cri + 'test-image-tags:3'], {}, {'same-image': ('', 0o644)}, [], []),
        ([cri + 'test-image-tag:test'], {}, {'test': ('', 0o644)}, [], []),
        ([cri + 'test-image-tag:all'], {}, {'all': ('', 0o644)}, [], []),
    ]
    for name in ('test-image-latest', 'test-image-1', 'test-image-2', 'test-image-3'):
        out.append(([cri + name + ':latest'], {}, {name: ('', 0o644)}, [], []))
    nnp = compile_nnp(tmp)
    if nnp is None:
        print('critest-images: gcc -static failed: no nonewprivs image', file=sys.stderr)
    else:
        out.append(([k8s + 'nonewprivs:1.3'], {'Cmd': ['/usr/local/bin/nnp']}, {'usr/local/bin/nnp': (nnp, 0o4755)}, [], []))
    return out


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip().split('\n\n')[1], file=sys.stderr)
        sys.exit(2)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    base = busybox_layer()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (refs, config, files, users, groups) in enumerate(images(tmp)):
            own = Layer()
            own.file('etc/passwd', '\n'.join(PASSWD + users) + '\n')
            own.file('etc/group', '\n'.join(GROUP + groups) + '\n')
            for name, (data, mode) in files.items():
                own.file(name, data, mode)
            cfg = {'Env': [PATH_ENV], 'WorkingDir': '/', **config}
            path = os.path.join(outdir, f'{n}.tar')
            write_archive(path, [base, own.bytes()], cfg)
            lines += [f'{path} {ref}' for ref in refs]
    with open(os.path.join(outdir, 'images.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    print(f'{len(lines)} references in {outdir}/images.txt')


if __name__ == '__main__':
    main()
