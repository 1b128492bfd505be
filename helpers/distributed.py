"""Multi-worker training on one machine: loopback ports, TF_CONFIG, CPU splitting, TFRecord shards, worker processes.

`WorkerCluster` starts one process per worker, each with its own TF_CONFIG and log file, under one
deadline. A worker that cannot start, exits with an error or outlives the deadline is reported with
its last log lines, and every worker process (with anything it started) is killed before the error
is raised; used as a context manager, no process outlives the `with` block. On Linux a worker also
dies with the process that started it (a crashed or restarted notebook kernel).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
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


class WorkerCluster:
    """One process per worker running `script` with its own TF_CONFIG on loopback ports, under one deadline.

    Use as `with WorkerCluster(...) as cluster: cluster.start(); cluster.wait()`; leaving the block,
    normally or by an exception, kills every worker. `runs` records every start of every worker.
    """

    def __init__(self, script: str | os.PathLike[str], args: Sequence[str] = (), workers: int = 2,
                 folder: str | os.PathLike[str] = ".", timeout_s: float = 600.0,
                 ports: Sequence[int] | None = None, env: dict[str, str] | None = None,
                 python: str = sys.executable) -> None:
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
        self.timeout_s = float(timeout_s)
        self.deadline = time.monotonic() + self.timeout_s
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

    def running(self, index: int) -> bool:
        """True while worker `index` runs."""
        process = self.processes[self._index(index)]
        return process is not None and process.poll() is None

    def start(self, indices: Sequence[int] | None = None) -> None:
        """Start the given workers (default: every worker not running), each logging to its own file."""
        indices = range(self.workers) if indices is None else [self._index(i) for i in indices]
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
                    process = subprocess.Popen([self.python, str(self.script), *self.args], stdout=log,
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
        """Kill every worker and whatever it started; harmless to call twice."""
        for process in self.processes:
            if process is not None:
                _kill_group(process)
        self._refresh()


def run_workers(script: str | os.PathLike[str], args: Sequence[str] = (), workers: int = 2,
                folder: str | os.PathLike[str] = ".", timeout_s: float = 600.0) -> ClusterRun:
    """Run `workers` copies of `script` to the end and return the seconds taken; any failure raises WorkerError."""
    with WorkerCluster(script, args, workers=workers, folder=folder, timeout_s=timeout_s) as cluster:
        start = time.perf_counter()
        cluster.start()
        cluster.wait()
        return ClusterRun(seconds=time.perf_counter() - start, logs=cluster.logs)
