#!/usr/bin/env python3
"""Bulk snapshots side by side on fakepve: pvesh+ (default settings) against proxmoxer with threads.

Not part of `cargo test` or CI: it prints numbers and asserts nothing.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install 'fakepve[crypto]==0.5.0' 'proxmoxer==2.2.0' requests
    cargo build --release
    /tmp/venv/bin/python benches/bulk_vs_proxmoxer.py                 # 1000 guests / 8 nodes and 5000 / 32
    /tmp/venv/bin/python benches/bulk_vs_proxmoxer.py --sizes 1000/8 --task-secs 0.2 --threads 8

For each size it starts one fakepve (in a child process, so the clients do not share its GIL) with
`guests` QEMU guests spread round-robin over `nodes` nodes; every 5th guest is tagged `ci`, and
those are running except one in 200: 199 targets of 1000 guests, 995 of 5000 (as in the issue). Every disk is on an
RBD storage and fakepve's Ceph "slow" scenario makes each snapshot task take --task-secs (fakepve
has no per-task duration knob for snapshots; `ceph.slow` at time_scale 1 is the closest, and it is
exact: the task sleeps that long). Then, on the same server:

  (a) pvesh-plus -c 'ls | where tags has ci and status=running | snapshot NAME' (release binary,
      token auth, fakepve's CA), with default parallelism;
  (b) proxmoxer with --threads threads: one GET /cluster/resources?type=vm, filter in Python, then
      per target POST .../snapshot and poll GET .../tasks/UPID/status every --proxmoxer-poll
      seconds until it stopped (no sleep after the last poll).

It prints wall time, targets, requests fakepve received (counted in fakepve), requests per task,
and the ideal ceil(n / parallel) * T for each, plus "task phase": first snapshot POST to the last
status poll, as fakepve saw them (wall time minus process start, login and listing).
"""

import argparse
import concurrent.futures
import json
import math
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

TOKEN_ID = 'root@pam!bench'
TOKEN_SECRET = 'bench-token-secret'

# The fakepve child: builds the cluster, prints CA and URL, then answers `count` / `reset` on stdin
# with a JSON line of request counts.
LAUNCHER = r'''
import asyncio, json, sys, tempfile, time
from fakepve import FakePve
from fakepve.certs import make_cert

guests, nodes, task_secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])

async def main():
    tmp = tempfile.mkdtemp(prefix="fakepve-bench-")
    cert, key, _ = make_cert(tmp, hosts=("127.0.0.1",))
    pve = FakePve(user="root@pam", password="bench-pw", host="127.0.0.1", port=0)
    pve.time_scale = 1.0
    pve.apitokens["%s"] = "%s"
    pve.storages["ceph"] = {"type": "rbd", "active": 1, "content": "images", "pool": "rbd",
                            "files": set()}
    pve.ceph["slow"] = task_secs
    pve.max_requests = 0
    for i in range(guests):
        vmid = 1000 + i
        ci = i %% 5 == 0
        running = ci and (i // 5) %% 200 != 199 or (not ci and i %% 2 == 0)
        pve.add_vm(vmid, "g%%d" %% vmid, node="pve%%d" %% (i %% nodes + 1),
                   status="running" if running else "stopped",
                   config={"scsi0": "ceph:vm-%%d-disk-0,size=8G" %% vmid, "memory": "1024",
                           "tags": "ci" if ci else "web"})
    stats = {}
    per_task = {}
    def record(request, body):
        now = time.monotonic()
        if request.method == "POST" and request.path.endswith("/snapshot"):
            kind = "snapshot"
        elif request.path.endswith("/status") and "/tasks/" in request.path:
            kind = "status"
        elif "/tasks/" in request.path and request.path.endswith("/log"):
            kind = "log"
        else:
            kind = "other"
        stats[kind] = stats.get(kind, 0) + 1
        if kind == "status":
            per_task[request.path] = per_task.get(request.path, 0) + 1
            hist = {}
            for n in per_task.values():
                hist[n] = hist.get(n, 0) + 1
            stats["polls_per_task"] = dict(sorted(hist.items()))
        if kind == "snapshot":
            stats.setdefault("first_post", now)
        if kind in ("snapshot", "status"):
            stats["last_task_req"] = now
    pve._record = record
    await pve.start(cert, key)
    print("CA " + cert, flush=True)
    print("URL https://{0}:{1}".format(pve.host, pve.port), flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(json.dumps(stats), flush=True)
        if line.strip() == "reset":
            stats.clear()
            per_task.clear()

asyncio.run(main())
''' % (TOKEN_ID, TOKEN_SECRET)


class Fake:
    def __init__(self, python, guests, nodes, task_secs):
        self.proc = subprocess.Popen([python, '-c', LAUNCHER, str(guests), str(nodes), str(task_secs)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.ca = self.url = None
        while self.url is None:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit('fakepve exited before printing its URL')
            if line.startswith('CA '):
                self.ca = line[3:].strip()
            elif line.startswith('URL '):
                self.url = line[4:].strip()

    def stats(self, reset=False):
        self.proc.stdin.write('reset\n' if reset else 'count\n')
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self):
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait()


def run_pvesh(binary, fake, snapname):
    env = dict(os.environ, PROXMOX_TOKEN_ID=TOKEN_ID, PROXMOX_TOKEN_SECRET=TOKEN_SECRET,
               NO_COLOR='1', HOME=os.environ.get('PVESH_BENCH_HOME', '/tmp/pvesh-bench-home'))
    os.makedirs(env['HOME'], exist_ok=True)
    line = 'ls | where tags has ci and status=running | snapshot {0}'.format(snapname)
    started = time.monotonic()
    done = subprocess.run([binary, '--url', fake.url, '--ca', fake.ca, '-c', line], env=env,
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        print('pvesh-plus failed ({0}):\n{1}'.format(done.returncode, done.stderr[-2000:]), file=sys.stderr)
    return wall, done


def run_proxmoxer(fake, snapname, threads, poll):
    from proxmoxer import ProxmoxAPI
    host, port = fake.url[len('https://'):].rsplit(':', 1)
    user, token = TOKEN_ID.split('!')
    local = threading.local()

    def api():
        if not hasattr(local, 'prox'):
            local.prox = ProxmoxAPI(host, port=int(port), user=user, token_name=token,
                                    token_value=TOKEN_SECRET, verify_ssl=fake.ca, timeout=60)
        return local.prox

    started = time.monotonic()
    resources = api().cluster.resources.get(type='vm')
    targets = [r for r in resources
               if 'ci' in (r.get('tags') or '').split(';') and r.get('status') == 'running']

    def one(r):
        prox = api()
        upid = prox.nodes(r['node']).qemu(r['vmid']).snapshot.post(snapname=snapname)
        while True:
            st = prox.nodes(r['node']).tasks(upid).status.get()
            if st['status'] == 'stopped':
                return st.get('exitstatus')
            time.sleep(poll)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, targets))
    wall = time.monotonic() - started
    failed = sum(1 for x in results if x != 'OK')
    return wall, len(targets), failed


def report(name, wall, n, stats, parallel, task_secs):
    requests = sum(v for k, v in stats.items() if k in ('snapshot', 'status', 'log', 'other'))
    ideal = math.ceil(n / parallel) * task_secs if n else 0.0
    phase = stats.get('last_task_req', 0) - stats.get('first_post', 0)
    print('  {0:<22} wall {1:6.2f} s  targets {2:4d}  requests {3:5d} ({4:.2f}/task: {5} POST, {6} status, '
          '{7} log, {8} other)  parallel {9:2d}  ideal {10:5.2f} s  wall/ideal {11:.2f}  task phase {12:5.2f} s '
          '({13:.2f}x ideal)'.format(
              name, wall, n, requests, requests / n if n else 0, stats.get('snapshot', 0),
              stats.get('status', 0), stats.get('log', 0), stats.get('other', 0), parallel, ideal,
              wall / ideal if ideal else 0, phase, phase / ideal if ideal else 0))
    hist = stats.get('polls_per_task', {})
    print('  {0:<22} status polls per task: {1}'.format('', ', '.join(
        '{0} task(s) {1}'.format(v, k) for k, v in hist.items())))
    return wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='1000/8,5000/32', help='guests/nodes, comma separated')
    ap.add_argument('--task-secs', type=float, default=0.2)
    ap.add_argument('--threads', type=int, default=8, help='proxmoxer threads')
    ap.add_argument('--proxmoxer-poll', type=float, default=0.1, help='seconds between proxmoxer status polls')
    ap.add_argument('--parallel', type=int, default=0,
                    help='pvesh+ overall parallelism to assume for the ideal (default: its default, '
                         'min(4 x nodes, 32))')
    ap.add_argument('--binary', default=os.path.join(ROOT, 'target', 'release', 'pvesh-plus'))
    ap.add_argument('--skip-proxmoxer', action='store_true')
    args = ap.parse_args()
    for size in args.sizes.split(','):
        guests, nodes = (int(x) for x in size.split('/'))
        fake = Fake(sys.executable, guests, nodes, args.task_secs)
        try:
            print('fakepve: {0} guests on {1} nodes, snapshot tasks {2} s'.format(guests, nodes, args.task_secs))
            parallel = args.parallel or min(4 * nodes, 32)
            fake.stats(reset=True)
            wall, done = run_pvesh(args.binary, fake, 'bench_pvesh')
            stats = fake.stats(reset=True)
            n = stats.get('snapshot', 0)
            a = report('pvesh+ (defaults)', wall, n, stats, parallel, args.task_secs)
            if not args.skip_proxmoxer:
                wall, n, failed = run_proxmoxer(fake, 'bench_prox', args.threads, args.proxmoxer_poll)
                stats = fake.stats(reset=True)
                b = report('proxmoxer {0} threads'.format(args.threads), wall, n, stats, args.threads,
                           args.task_secs)
                if failed:
                    print('  proxmoxer: {0} task(s) did not end OK'.format(failed))
                print('  pvesh+ is {0:.2f}x faster'.format(b / a))
        finally:
            fake.close()


if __name__ == '__main__':
    main()
