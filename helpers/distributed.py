"""Multi-worker training on one machine: loopback ports, TF_CONFIG, CPU splitting, TFRecord shards, worker processes.

`WorkerCluster` starts one process per worker, each with its own TF_CONFIG and log file, under one
deadline. A worker that cannot start, exits with an error or outlives the deadline is reported with
its last log lines, and every worker process (with anything it started) is killed before the error
is raised; used as a context manager, no process outlives the `with` block. On Linux a worker also
dies with the process that started it (a crashed or restarted notebook kernel).

A TensorFlow worker's server listens on its port on every network interface and has no
authentication. Where Linux allows it without root, `WorkerCluster` therefore runs all its workers
in one network namespace of their own (`PrivateNetwork`), whose only interface is a loopback
interface: their ports are reachable from processes inside it only. Elsewhere it warns.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .paths import shown

LOOPBACK = "127.0.0.1"
WORKER_SCRIPT = Path(__file__).with_name("fashion_worker.py")
_POLL_S = 0.05


class WorkerError(RuntimeError):
    """A worker process failed to start or exited with an error; the message holds its last log lines."""


class WorkerTimeout(WorkerError):
    """The cluster's deadline passed while workers were still running."""


def _check_count(name: str, value: object, least: int = 1) -> int:
    """`value` as an int >= least, or a ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name} must be an int >= {least}, got {value!r}")
    return value


def is_loopback(host: str) -> bool:
    """True for 'localhost' and addresses of this machine's loopback interface (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_ports(count: int, host: str = LOOPBACK) -> list[int]:
    """`count` distinct TCP ports free on `host` right now (the operating system picks them)."""
    _check_count("count", count)
    if not is_loopback(host):
        raise ValueError(f"free_ports only looks on a loopback address, got {host!r}")
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for server in sockets:
            server.bind((host, 0))  # all bound at once, so the ports differ
        return [server.getsockname()[1] for server in sockets]
    finally:
        for server in sockets:
            server.close()


def _split_address(address: str) -> tuple[str, int]:
    """'host:port' -> (host, port), or a ValueError saying what is wrong."""
    host, colon, port = str(address).rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"a worker address is 'host:port' with a port from 1 to 65535, got {address!r}")
    return host, int(port)


def tf_config(addresses: Sequence[str], index: int) -> str:
    """The TF_CONFIG value (JSON) for worker `index` of the cluster whose workers listen at `addresses`."""
    if isinstance(addresses, str) or not addresses:
        raise ValueError(f"addresses must be a non-empty list of 'host:port', got {addresses!r}")
    for address in addresses:
        _split_address(address)
    if len(set(addresses)) != len(addresses):
        raise ValueError(f"every worker needs its own address, got {list(addresses)}")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(addresses):
        raise ValueError(f"index must be an int from 0 to {len(addresses) - 1}, got {index!r}")
    return json.dumps({"cluster": {"worker": list(addresses)}, "task": {"type": "worker", "index": index}})


def split_cpu(count: int = 2) -> list[str]:
    """Split the host CPU into `count` logical TensorFlow devices and return their names.

    Must run before TensorFlow first uses a device (right after `helpers.setup()`); calling it again
    with the same count is harmless.
    """
    _check_count("count", count)
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu)
    if configured is None or len(configured) != count:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError as error:
            found = len(tf.config.list_logical_devices("CPU"))
            raise RuntimeError(f"TensorFlow has already set up its devices ({found} logical CPU(s)), so the CPU "
                               f"cannot be split into {count} now: restart the kernel and call split_cpu right "
                               "after helpers.setup(), before anything else uses TensorFlow") from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def write_tfrecord_shards(images: np.ndarray, labels: np.ndarray, folder: str | os.PathLike[str], shards: int,
                          prefix: str = "train") -> list[Path]:
    """Write 28 x 28 uint8 images and their labels as `shards` TFRecord files of (nearly) equal size.

    Files are named `<prefix>-00000-of-00008.tfrecord`, ...; older files with the same prefix are
    removed first, so a pattern such as `train-*.tfrecord` never picks up a stale shard.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must be uint8 of shape (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.shape != (len(images),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(images)} integers, got {labels.dtype} {labels.shape}")
    _check_count("shards", shards)
    if not len(images) or shards > len(images):
        raise ValueError(f"cannot write {len(images)} examples into {shards} non-empty shards")
    if not prefix or Path(prefix).name != prefix or "*" in prefix:
        raise ValueError(f"prefix must be a plain file-name prefix, got {prefix!r}")
    import tensorflow as tf

    from .fashion_worker import serialize_example

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(f"{prefix}-*.tfrecord"):
        stale.unlink()
    paths = []
    for number, part in enumerate(np.array_split(np.arange(len(images)), shards)):
        path = folder / f"{prefix}-{number:05d}-of-{shards:05d}.tfrecord"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for row in part:
                writer.write(serialize_example(images[row].tobytes(), int(labels[row])))
        paths.append(path)
    return paths


def write_worker_script(folder: str | os.PathLike[str]) -> Path:
    """Copy the multi-worker training script (helpers/fashion_worker.py) into `folder`; return the copy's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(WORKER_SCRIPT, folder / WORKER_SCRIPT.name))


# --- a private network for the workers -------------------------------------------------------------

UNSHARE = ("unshare", "--user", "--map-root-user", "--net")  # a new user namespace (no root needed), its own network
NSENTER = ("nsenter", "--user", "--net", "--preserve-credentials")  # join both namespaces of a running process
EVERY_INTERFACE = ("0.0.0.0", "::")  # what /proc lists for a server bound to every interface
_HOLD_NAMESPACE = """
import fcntl, socket, struct, sys
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # bring the loopback interface up: ip link set lo up
    flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, struct.pack("16sH22x", b"lo", 0)))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # SIOCSIFFLAGS with IFF_UP
print("ready", flush=True)
sys.stdin.read()  # hold the namespace until the pipe from the parent closes
"""


def private_network_unavailable() -> str | None:
    """Why worker processes cannot get a network namespace of their own here, or None if they may (then try it)."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces exist only on Linux, this is {sys.platform}"
    missing = [tool for tool in (UNSHARE[0], NSENTER[0]) if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} (util-linux) not found"
    return None


class PrivateNetwork:
    """A network namespace with only a loopback interface, held open by one small process, for worker processes.

    Made by `open_private_network`. `prefix` is the command prefix that starts a program inside it;
    programs started so reach each other on 127.0.0.1, and their ports, on any address, are
    reachable from processes inside the namespace only. `close` ends the holder (programs still
    inside keep the namespace until they end).
    """

    def __init__(self, holder: subprocess.Popen) -> None:
        self.holder = holder

    @property
    def prefix(self) -> list[str]:
        """The command prefix that runs a program inside this namespace: nsenter into the holder's namespaces."""
        return [*NSENTER, f"--target={self.holder.pid}", "--"]

    def running(self) -> bool:
        """True while the process holding the namespace runs."""
        return self.holder.poll() is None

    def close(self) -> None:
        """End the holding process; harmless to call twice."""
        for pipe in (self.holder.stdin, self.holder.stdout, self.holder.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        _kill_group(self.holder)


def open_private_network(timeout_s: float = 10.0) -> tuple[PrivateNetwork | None, str]:
    """A private network namespace for worker processes and how it was made, or (None, why it cannot be made here).

    Linux with unprivileged user namespaces: `unshare --user --map-root-user --net` starts a process
    that brings the namespace's loopback interface up and holds it; joining it is checked once.
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    reason = private_network_unavailable()
    if reason:
        return None, reason
    try:
        holder = subprocess.Popen([*UNSHARE, sys.executable, "-I", "-S", "-c", _HOLD_NAMESPACE],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  start_new_session=os.name == "posix", preexec_fn=_ends_with_parent())
    except OSError as error:
        return None, f"{UNSHARE[0]} could not be started: {error}"
    network = PrivateNetwork(holder)
    ready = select.select([holder.stdout], [], [], timeout_s)[0] and holder.stdout.readline().strip() == b"ready"
    if ready:
        try:
            check = subprocess.run([*network.prefix, sys.executable, "-I", "-S", "-c", ""], capture_output=True,
                                   text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
            problem = check.stderr.strip() or f"{NSENTER[0]} exited with code {check.returncode}"
            if check.returncode == 0:
                return network, f"a private network namespace ({' '.join(UNSHARE)})"
        except (OSError, subprocess.TimeoutExpired) as error:
            problem = str(error)
    else:
        if holder.poll() is None:
            holder.kill()
        problem = holder.stderr.read().decode(errors="replace").strip() or f"no answer within {timeout_s:g} s"
    network.close()
    return None, f"{' '.join(UNSHARE)} failed: {problem.splitlines()[-1]}"


def listening_addresses(port: int, pid: int | None = None) -> list[str]:
    """Addresses on which TCP `port` listens in the network namespace of process `pid` (default: this process).

    Read from /proc/<pid>/net/tcp and tcp6 (Linux only); '0.0.0.0' and '::' mean every interface of that namespace.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be an int from 1 to 65535, got {port!r}")
    if pid is not None:
        _check_count("pid", pid)
    if not sys.platform.startswith("linux"):
        raise OSError(f"listening_addresses reads Linux's /proc, which {sys.platform} does not have")
    folder = Path("/proc") / ("self" if pid is None else str(pid)) / "net"
    if not folder.exists():
        raise ProcessLookupError(f"no process {pid}")
    found = set()
    for name in ("tcp", "tcp6"):
        if not (folder / name).exists():  # IPv6 switched off
            continue
        for line in (folder / name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)  # /proc writes each 32-bit word in the machine's byte order
                words = [raw[i:i + 4] if sys.byteorder == "big" else raw[i:i + 4][::-1] for i in range(0, len(raw), 4)]
                found.add(str(ipaddress.ip_address(b"".join(words))))
    return sorted(found)


def _describe_exit(code: int) -> str:
    """'exited with code 1', or for a process ended by a signal 'was stopped by SIGKILL'."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was stopped by {signal.Signals(-code).name}"
    except ValueError:
        return f"was stopped by signal {-code}"


def _ends_with_parent() -> Callable[[], None] | None:
    """On Linux, a function for Popen(preexec_fn=...) that makes the kernel kill the child when its parent dies.

    So a worker cannot outlive a notebook kernel that crashed or was restarted. Elsewhere None: the
    worker script's own time limit ends it.
    """
    if not sys.platform.startswith("linux"):
        return None  # pragma: no cover
    import ctypes

    prctl, parent = ctypes.CDLL(None, use_errno=True).prctl, os.getpid()  # loaded here: no imports after fork

    def in_child() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)

    return in_child


def _kill_group(process: subprocess.Popen) -> None:
    """Kill a worker and everything it started (its process group), then reap it."""
    if getattr(process, "_course_group_killed", False):  # never signal a group id that may have been reused
        return
    process._course_group_killed = True
    if os.name == "posix":
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # the whole group is gone already
            pass
    elif process.poll() is None:  # pragma: no cover - Windows
        process.kill()
    process.wait()


@dataclass
class WorkerRun:
    """One start of one worker: when it started and ended (time.time()), its exit code, its part of the log file."""

    worker: int
    started: float
    offset: int                      # where its output begins in the worker's log file
    ended: float | None = None       # None while it runs
    exit_code: int | None = None     # negative: killed by that signal
    end_offset: int | None = None    # where the next start's header begins; None: the end of the file


@dataclass
class ClusterRun:
    """What `run_workers` returns: wall-clock seconds and each worker's log file."""

    seconds: float
    logs: list[Path]


_EPOCH_BEGAN = re.compile(r"^epoch (\d+)/\d+ began at ([0-9.]+)$")
_EPOCH_DONE = re.compile(r"^epoch (\d+)/\d+ done: .*\(([0-9.]+) s\)$")


def epoch_segments(output: str, started: float, ended: float | None,
                   exit_code: int | None = None) -> list[tuple[str, float, float]]:
    """(label, start, end) spans of one worker run, read from the lines it printed.

    Reads the lines `epoch N/M began at <time.time()>` and `epoch N/M done: ... (<seconds> s)` that the
    worker script prints. Labels: 'start-up' until the first epoch, 'epoch N', then up to `ended`:
    'finishing' after a run that exited with code 0, else 'epoch N, lost' for an epoch that never
    finished or 'waiting, lost' (time spent before the run failed, thrown away).
    """
    segments: list[tuple[str, float, float]] = []
    open_epoch: tuple[int, float] | None = None
    for line in output.splitlines():
        if match := _EPOCH_BEGAN.match(line.strip()):
            open_epoch = (int(match[1]), float(match[2]))
            if not segments:
                segments.append(("start-up", started, open_epoch[1]))
        elif (match := _EPOCH_DONE.match(line.strip())) and open_epoch and open_epoch[0] == int(match[1]):
            segments.append((f"epoch {open_epoch[0]}", open_epoch[1], open_epoch[1] + float(match[2])))
            open_epoch = None
    if ended is None:
        return segments
    if not segments:
        return [("start-up", started, ended)]
    if open_epoch:
        return [*segments, (f"epoch {open_epoch[0]}, lost", open_epoch[1], ended)]
    if ended > segments[-1][2]:
        segments.append(("finishing" if exit_code == 0 else "waiting, lost", segments[-1][2], ended))
    return segments


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception): ")


def last_error(output: str) -> str | None:
    """The last exception a worker printed, as 'Type: message' with the message's continuation lines; None if none.

    TensorFlow's messages run over several lines (the tasks that failed, the peer that reported it);
    the lines up to an empty one, a line of advice ('The error could be ...') or a new section are kept.
    """
    lines = output.splitlines()
    found = [number for number, line in enumerate(lines) if _ERROR_LINE.match(line)]
    if not found:
        return None
    kept = [lines[found[-1]].strip()]
    for line in lines[found[-1] + 1:]:
        if not line.strip() or line.startswith(("The ", ":", "---", "Traceback")):
            break
        kept.append(line.strip())
    name, _, message = " ".join(kept).partition(": ")
    return f"{name.rsplit('.', 1)[-1]}: {message}"


def step_seconds(step_ends: Sequence[float]) -> list[float]:
    """Seconds of each step, from the steps' end times in seconds since the epoch began (the first counts from 0)."""
    ends = [float(end) for end in step_ends]
    starts = [0.0, *ends[:-1]]
    if any(end < start for start, end in zip(starts, ends)):
        raise ValueError("step end times must be >= 0 and in increasing order")
    return [end - start for start, end in zip(starts, ends)]


class WorkerCluster:
    """One process per worker running `script` with its own TF_CONFIG on loopback ports, under one deadline.

    Use as `with WorkerCluster(...) as cluster: cluster.start(); cluster.wait()`; leaving the block,
    normally or by an exception, kills every worker. `runs` records every start of every worker.
    The deadline, `timeout_s`, counts from the first start.
    With `private_network` (the default) all workers run in one `PrivateNetwork` where this machine
    allows it; otherwise, and where it does not, the first start prints a warning that their ports
    are open on every interface of this machine while they run.
    """

    def __init__(self, script: str | os.PathLike[str], args: Sequence[str] = (), workers: int = 2,
                 folder: str | os.PathLike[str] = ".", timeout_s: float = 600.0,
                 ports: Sequence[int] | None = None, env: dict[str, str] | None = None,
                 python: str = sys.executable, private_network: bool = True) -> None:
        self.script = Path(script)
        if not self.script.is_file():
            raise FileNotFoundError(f"worker script {shown(self.script)} does not exist")
        self.workers = _check_count("workers", workers)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < math.inf:
            raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
        ports = list(free_ports(workers) if ports is None else ports)
        self.addresses = [f"{LOOPBACK}:{port}" for port in ports]
        if len(ports) != workers or any(isinstance(p, bool) or not isinstance(p, int) for p in ports):
            raise ValueError(f"ports must be {workers} ints, one per worker, got {ports!r}")
        for index in range(workers):
            tf_config(self.addresses, index)  # checks the port range and that ports differ
        self.args = [str(arg) for arg in args]
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs = [self.folder / f"worker-{index}.log" for index in range(workers)]
        for log in self.logs:
            log.write_text("")
        self.env = dict(env or {})
        self.python = python
        if not isinstance(private_network, bool):
            raise ValueError(f"private_network must be True or False, got {private_network!r}")
        self.private_network = private_network
        self.network: PrivateNetwork | None = None  # the workers' namespace while it is open
        self.isolated = False   # whether the workers started last run (or ran) in a private network
        self.network_note = ""  # how their ports are exposed: set, and printed, by the first start
        self._network_ready = False
        self.timeout_s = float(timeout_s)
        self.deadline = time.monotonic() + self.timeout_s  # counted again from the first start
        self.processes: list[subprocess.Popen | None] = [None] * workers
        self.runs: list[WorkerRun] = []
        self.pids: list[int] = []  # every process ever started, for checking that all are gone

    def __enter__(self) -> WorkerCluster:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _index(self, index: int) -> int:
        """`index` checked against the number of workers."""
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self.workers:
            raise ValueError(f"worker index must be an int from 0 to {self.workers - 1}, got {index!r}")
        return index

    def _last_run(self, index: int) -> WorkerRun | None:
        """The latest start of worker `index`, or None."""
        return next((run for run in reversed(self.runs) if run.worker == index), None)

    def _refresh(self) -> None:
        """Note the end time and exit code of every run whose process has exited."""
        for index, process in enumerate(self.processes):
            run = self._last_run(index)
            if process is not None and run is not None and run.ended is None and process.poll() is not None:
                run.ended, run.exit_code = time.time(), process.returncode

    def _open_network(self) -> None:
        """Before the first start: open the private network (or note why not); print how the ports are exposed."""
        if self._network_ready:
            return
        self._network_ready = True
        if self.private_network:
            self.network, how = open_private_network()
        else:
            how = "private_network=False"
        self.isolated = self.network is not None
        if self.network is not None:
            self.pids.append(self.network.holder.pid)
            self.network_note = f"the workers run in {how}: their ports are reachable only from processes inside it"
        else:
            self.network_note = (f"WARNING: no private network for the workers here ({how}). Each worker's TensorFlow "
                                 "server listens on its port on EVERY network interface of this machine, without "
                                 f"authentication, for as long as the workers run (at most {self.timeout_s:.0f} s): "
                                 "anyone who can reach this machine can run code in them. Use a trusted network.")
        print(self.network_note, flush=True)

    def listening(self) -> dict[int, tuple[list[str], list[str]]] | None:
        """For each running worker: the addresses its port listens on in its own network, and as seen from this process.

        None where /proc cannot tell (not Linux).
        """
        if not sys.platform.startswith("linux"):
            return None
        found = {}
        for index, process in enumerate(self.processes):
            if process is not None and process.poll() is None:
                port = _split_address(self.addresses[index])[1]
                try:
                    found[index] = (listening_addresses(port, process.pid), listening_addresses(port))
                except ProcessLookupError:  # it ended meanwhile
                    pass
        return found

    def running(self, index: int) -> bool:
        """True while worker `index` runs."""
        process = self.processes[self._index(index)]
        return process is not None and process.poll() is None

    def start(self, indices: Sequence[int] | None = None) -> None:
        """Start the given workers (default: every worker not running), each logging to its own file."""
        indices = range(self.workers) if indices is None else [self._index(i) for i in indices]
        if indices and shutil.which(self.python) is None:
            self.stop()
            raise WorkerError(f"worker {indices[0]} could not be started ({self.python}): no such program")
        if indices:
            self._open_network()
        if indices and not self.runs:  # the deadline counts from the first start, after the network is set up
            self.deadline = time.monotonic() + self.timeout_s
        prefix = self.network.prefix if self.network is not None else []
        for index in indices:
            if self.running(index):
                raise ValueError(f"worker {index} is already running")
            self._refresh()
            env = {**os.environ, **self.env, "TF_CONFIG": tf_config(self.addresses, index), "PYTHONUNBUFFERED": "1"}
            previous = self._last_run(index)
            with self.logs[index].open("a", encoding="utf-8") as log:
                if previous is not None:
                    previous.end_offset = log.tell()
                log.write(f"--- worker {index} starts: {self.script.name} {' '.join(self.args)}\n")
                offset = log.tell()
            try:
                with self.logs[index].open("ab") as log:
                    process = subprocess.Popen([*prefix, self.python, str(self.script), *self.args], stdout=log,
                                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                               start_new_session=os.name == "posix",
                                               preexec_fn=_ends_with_parent())
            except OSError as error:
                self.stop()
                raise WorkerError(f"worker {index} could not be started ({self.python}): {error}") from error
            self.processes[index] = process
            self.runs.append(WorkerRun(worker=index, started=time.time(), offset=offset))
            self.pids.append(process.pid)

    def run_output(self, run: WorkerRun) -> str:
        """Everything one run of a worker printed."""
        with self.logs[run.worker].open("rb") as log:
            log.seek(run.offset)
            data = log.read() if run.end_offset is None else log.read(run.end_offset - run.offset)
        return data.decode("utf-8", errors="replace")

    def output(self, index: int) -> str:
        """Everything worker `index` printed since it was last started."""
        run = self._last_run(self._index(index))
        return "" if run is None else self.run_output(run)

    def last_lines(self, index: int, count: int = 12) -> str:
        """The last `count` lines worker `index` printed since it was last started, indented, with the log's path."""
        lines = self.output(index).rstrip().splitlines()[-count:] or ["(nothing)"]
        quoted = "\n".join(f"    | {line}" for line in lines)
        return f"worker {index}'s last lines ({shown(self.logs[index])}):\n{quoted}"

    def timeline(self) -> dict[int, list[tuple[str, float, float]]]:
        """Every worker's (label, start, end) spans over all its runs, from `epoch_segments`."""
        self._refresh()
        return {index: [segment for run in self.runs if run.worker == index
                        for segment in epoch_segments(self.run_output(run), run.started, run.ended, run.exit_code)]
                for index in range(self.workers)}

    def run_timeline(self) -> dict[str, list[tuple[str, float, float]]]:
        """The spans of `timeline`, one row per run ('worker 1, run 2'): worker by worker, runs in starting order."""
        self._refresh()
        rows: dict[str, list[tuple[str, float, float]]] = {}
        for index in range(self.workers):
            runs = [run for run in self.runs if run.worker == index]
            for number, run in enumerate(runs, start=1):
                rows[f"worker {index}, run {number}"] = epoch_segments(self.run_output(run), run.started, run.ended,
                                                                       run.exit_code)
        return rows

    def _fail(self, error: type[WorkerError], message: str, indices: Sequence[int]) -> WorkerError:
        """Kill every worker, then build `error` with `message` and the last lines of `indices`."""
        self.stop()
        return error("\n".join([message, *(self.last_lines(index) for index in indices)]))

    def _remaining(self, timeout: float | None) -> float:
        """Seconds until the cluster's deadline or `timeout`, whichever comes first."""
        left = self.deadline - time.monotonic()
        return left if timeout is None else min(left, timeout)

    def _timed_out(self, what: str) -> WorkerError:
        """The error for a deadline that passed while waiting for `what`, with every running worker's last lines."""
        running = [index for index in range(self.workers) if self.running(index)]
        return self._fail(WorkerTimeout, f"timed out after {self.timeout_s:.0f} s waiting for {what}; "
                          f"stopped workers {running}", running or range(self.workers))

    def wait_for_line(self, index: int, text: str, timeout: float | None = None) -> float:
        """Wait until worker `index` prints `text`; return the time.time() it was seen."""
        self._index(index)
        if self.processes[index] is None:
            raise ValueError(f"worker {index} has not been started")
        end = time.monotonic() + self._remaining(timeout)
        try:
            while True:
                if text in self.output(index):
                    return time.time()
                code = self.processes[index].poll()
                if code is not None:
                    raise self._fail(WorkerError, f"worker {index} {_describe_exit(code)} before printing "
                                     f"{text!r}; stopped every worker", [index])
                if time.monotonic() > end:
                    raise self._timed_out(f"worker {index} to print {text!r}")
                time.sleep(_POLL_S)
        except BaseException:
            self.stop()
            raise

    def supervise(self, restarts: int, timeout: float | None = None) -> list[WorkerRun]:
        """Wait until no worker runs, starting again any worker that exits with an error, as a cluster manager does.

        At most `restarts` restarts in all; one more failure stops every worker and raises WorkerError.
        Returns the runs that failed and were restarted, in order.
        """
        _check_count("restarts", restarts, least=0)
        return self._watch(restarts, timeout)

    def wait(self, check: bool = True, timeout: float | None = None) -> list[int | None]:
        """Wait until no worker runs; return the exit codes. With `check`, a failing worker stops all and raises."""
        self._watch(0 if check else None, timeout)
        return [None if process is None else process.returncode for process in self.processes]

    def _watch(self, restarts: int | None, timeout: float | None) -> list[WorkerRun]:
        """The loop behind wait and supervise: restarts=None ignores failures, else restarts up to that many."""
        end = time.monotonic() + self._remaining(timeout)
        restarted: list[WorkerRun] = []
        try:
            while True:
                self._refresh()
                for index in range(self.workers):
                    run = self._last_run(index)
                    if restarts is None or run is None or run.exit_code in (None, 0):
                        continue
                    if len(restarted) == restarts:
                        done = f" and {restarts} restart(s)" if restarts else ""
                        raise self._fail(WorkerError, f"worker {index} {_describe_exit(run.exit_code)} after "
                                         f"{run.ended - run.started:.1f} s{done}; stopped every worker", [index])
                    restarted.append(run)
                    self.start([index])
                if not any(self.running(index) for index in range(self.workers)):
                    return restarted
                if time.monotonic() > end:
                    raise self._timed_out("the workers to finish")
                time.sleep(_POLL_S)
        except BaseException:
            self.stop()
            raise

    def kill(self, index: int) -> float:
        """Kill worker `index` at once, as a crashed machine would stop; return the time.time() of the kill."""
        process = self.processes[self._index(index)]
        if process is None or process.poll() is not None:
            raise ValueError(f"worker {index} is not running")
        killed_at = time.time()
        _kill_group(process)
        self._refresh()
        return killed_at

    def stop(self) -> None:
        """Kill every worker and whatever it started, then close the private network; harmless to call twice."""
        for process in self.processes:
            if process is not None:
                _kill_group(process)
        self._refresh()
        if self.network is not None:
            self.network.close()
            self.network = None
        self._network_ready = False


def run_workers(script: str | os.PathLike[str], args: Sequence[str] = (), workers: int = 2,
                folder: str | os.PathLike[str] = ".", timeout_s: float = 600.0) -> ClusterRun:
    """Run `workers` copies of `script` to the end and return the seconds taken; any failure raises WorkerError."""
    with WorkerCluster(script, args, workers=workers, folder=folder, timeout_s=timeout_s) as cluster:
        start = time.perf_counter()
        cluster.start()
        cluster.wait()
        return ClusterRun(seconds=time.perf_counter() - start, logs=cluster.logs)
