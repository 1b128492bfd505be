"""Unit tests of helpers.distributed (ports, TF_CONFIG, CPU splitting, TFRecord shards, worker processes,
the workers' private network) and of helpers.fashion_worker, the multi-worker training script chapter 10 runs.

Fake workers are tiny Python scripts; three tests start the real script as a 2-worker
MultiWorkerMirroredStrategy cluster on loopback ports.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import distributed
from helpers.distributed import WorkerCluster, WorkerError, WorkerTimeout


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie (a zombie runs no code any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - a reused pid of another user
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:  # no /proc (macOS) or gone meanwhile
        return True
    return state != "Z"


def all_gone(pids, within: float = 3.0) -> bool:
    """True once none of `pids` is alive, polling for up to `within` seconds (signals take a moment)."""
    end = time.monotonic() + within
    while any(alive(pid) for pid in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def script(tmp_path):
    """A writer of fake worker scripts: script(name, body) -> path of a Python file with that body."""
    def write(name: str, body: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text("import json, os, subprocess, sys, time\n"
                        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n" + textwrap.dedent(body))
        return path

    return write


OK = "print(f'worker {index} ready', flush=True)\ntime.sleep(0.2)\nprint('done', flush=True)\n"
HANGS = "print(f'worker {index} waiting for a peer', flush=True)\ntime.sleep(600)\n"
SPAWNS = """
child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
print(f'child {child.pid}', flush=True)
time.sleep(600)
"""


def child_pids(cluster: WorkerCluster) -> list[int]:
    """The grandchild pids the SPAWNS workers printed."""
    for index in range(cluster.workers):
        cluster.wait_for_line(index, "child ", timeout=20)
    return [int(line.split()[1]) for index in range(cluster.workers)
            for line in cluster.output(index).splitlines() if line.startswith("child ")]


# --- ports and TF_CONFIG -------------------------------------------------------------------------

def test_free_ports_are_distinct_and_bindable():
    import socket

    ports = distributed.free_ports(3)
    assert len(set(ports)) == 3 and all(1 <= port <= 65535 for port in ports)
    with socket.socket() as server:
        server.bind((distributed.LOOPBACK, ports[0]))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_free_ports_refuses_a_bad_count(bad):
    with pytest.raises(ValueError, match="count must be an int >= 1"):
        distributed.free_ports(bad)


def test_free_ports_only_looks_on_loopback():
    with pytest.raises(ValueError, match="only looks on a loopback address"):
        distributed.free_ports(1, host="0.0.0.0")


@pytest.mark.parametrize("host, expected", [("127.0.0.1", True), ("127.5.0.1", True), ("::1", True),
                                            ("[::1]", True), ("localhost", True), ("10.0.0.1", False),
                                            ("0.0.0.0", False), ("example.com", False)])
def test_is_loopback(host, expected):
    assert distributed.is_loopback(host) is expected


def test_tf_config_names_the_cluster_and_this_worker():
    config = json.loads(distributed.tf_config(["127.0.0.1:2222", "127.0.0.1:2223"], 1))
    assert config == {"cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}, "task": {"type": "worker", "index": 1}}
    assert json.loads(distributed.tf_config(["hostA:2222", "hostB:2222"], 0))["task"]["index"] == 0


@pytest.mark.parametrize("addresses, index, message", [
    ([], 0, "non-empty list"),
    ("127.0.0.1:2222", 0, "non-empty list"),
    (["127.0.0.1"], 0, "'host:port'"),
    (["127.0.0.1:0"], 0, "port from 1 to 65535"),
    (["127.0.0.1:70000"], 0, "port from 1 to 65535"),
    ([":2222"], 0, "'host:port'"),
    (["127.0.0.1:2222", "127.0.0.1:2222"], 0, "its own address"),
    (["127.0.0.1:2222"], 1, "index must be an int from 0 to 0"),
    (["127.0.0.1:2222"], True, "index must be"),
])
def test_tf_config_refuses_bad_input(addresses, index, message):
    with pytest.raises(ValueError, match=message):
        distributed.tf_config(addresses, index)


# --- the worker cluster: bad input -----------------------------------------------------------------

def test_a_missing_script_is_refused_before_anything_starts(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        WorkerCluster(tmp_path / "missing.py", folder=tmp_path)


@pytest.mark.parametrize("kwargs, message", [
    ({"workers": 0}, "workers must be an int >= 1"),
    ({"workers": True}, "workers must be"),
    ({"timeout_s": 0}, "timeout_s must be a positive"),
    ({"timeout_s": float("inf")}, "timeout_s must be a positive"),
    ({"timeout_s": "9"}, "timeout_s must be a positive"),
    ({"ports": [2222]}, "ports must be 2 ints"),
    ({"ports": [2222, "2223"]}, "ports must be 2 ints"),
    ({"ports": [2222, 2222]}, "its own address"),
    ({"ports": [0, 2223]}, "port from 1 to 65535"),
    ({"ports": [2222, 65536]}, "port from 1 to 65535"),
    ({"private_network": "yes"}, "private_network must be True or False"),
])
def test_bad_cluster_settings_are_refused(script, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkerCluster(script("ok", OK), folder=tmp_path / "logs", **kwargs)


def test_bad_worker_indices_are_refused(script, tmp_path):
    with WorkerCluster(script("ok", OK), folder=tmp_path) as cluster:
        for call in (lambda: cluster.start([2]), lambda: cluster.running(-1), lambda: cluster.kill(5)):
            with pytest.raises(ValueError, match="worker index must be an int from 0 to 1"):
                call()
        with pytest.raises(ValueError, match="has not been started"):
            cluster.wait_for_line(0, "ready")
        with pytest.raises(ValueError, match="is not running"):
            cluster.kill(0)


# --- the worker cluster: normal runs ---------------------------------------------------------------

def test_each_worker_gets_its_own_tf_config_and_log(script, tmp_path):
    worker = script("echo", "print(os.environ['TF_CONFIG'], flush=True)\n")
    with WorkerCluster(worker, workers=3, folder=tmp_path / "logs") as cluster:
        cluster.start()
        assert cluster.wait() == [0, 0, 0]
        configs = [json.loads(cluster.output(index).strip()) for index in range(3)]
    assert [config["task"]["index"] for config in configs] == [0, 1, 2]
    assert all(config["cluster"]["worker"] == cluster.addresses for config in configs)
    assert all(address.startswith("127.0.0.1:") for address in cluster.addresses)
    assert [log.name for log in cluster.logs] == ["worker-0.log", "worker-1.log", "worker-2.log"]


def test_arguments_reach_the_script(script, tmp_path):
    worker = script("args", "print(sys.argv[1:], flush=True)\n")
    with WorkerCluster(worker, args=["--data", tmp_path, "--epochs", 2], workers=1, folder=tmp_path) as cluster:
        cluster.start()
        cluster.wait()
        assert cluster.output(0).strip() == str(["--data", str(tmp_path), "--epochs", "2"])


def test_run_workers_returns_the_seconds_and_logs(script, tmp_path):
    run = distributed.run_workers(script("ok", OK), folder=tmp_path / "logs", timeout_s=30)
    assert 0.2 <= run.seconds < 30
    assert all("done" in log.read_text() for log in run.logs)


def test_wait_for_line_returns_when_the_text_appears(script, tmp_path):
    with WorkerCluster(script("ok", OK), folder=tmp_path) as cluster:
        cluster.start()
        seen = cluster.wait_for_line(1, "worker 1 ready", timeout=20)
        assert abs(seen - time.time()) < 20
        cluster.wait()


def test_a_killed_worker_restarts_with_a_fresh_output(script, tmp_path):
    worker = script("counting", """
        marker = os.path.join(os.path.dirname(__file__), f'started-{index}')
        runs = len(open(marker).read()) if os.path.exists(marker) else 0
        open(marker, 'a').write('x')
        print(f'run {runs}', flush=True)
        time.sleep(600 if runs == 0 else 0)
    """)
    with WorkerCluster(worker, workers=2, folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        cluster.wait_for_line(1, "run 0")
        first = cluster.processes[1].pid
        killed_at = cluster.kill(1)
        assert abs(killed_at - time.time()) < 5 and not cluster.running(1) and cluster.running(0)
        assert all_gone([first])
        cluster.start([1])
        cluster.wait_for_line(1, "run 1")
        assert "run 0" not in cluster.output(1)            # only what the new process printed
        assert "run 0" in cluster.logs[1].read_text()       # the log keeps both runs
        with pytest.raises(ValueError, match="already running"):
            cluster.start([0])
    assert all_gone(cluster.pids)


# --- the worker cluster: failures ------------------------------------------------------------------

def test_a_worker_that_cannot_be_started_is_reported(script, tmp_path):
    cluster = WorkerCluster(script("ok", OK), folder=tmp_path, python=str(tmp_path / "no-such-python"))
    with pytest.raises(WorkerError, match="worker 0 could not be started"):
        cluster.start()
    assert cluster.pids == []


def test_a_worker_that_fails_at_start_is_reported_with_its_last_lines(script, tmp_path):
    broken = script("broken", "import tensorflow_is_not_this_module\n")
    with WorkerCluster(broken, folder=tmp_path) as cluster:
        cluster.start()
        with pytest.raises(WorkerError) as caught:
            cluster.wait()
    message = str(caught.value)
    assert "exited with code 1" in message and "stopped every worker" in message
    assert "ModuleNotFoundError: No module named 'tensorflow_is_not_this_module'" in message
    assert "worker-" in message and "    | " in message
    assert all_gone(cluster.pids)


def test_one_failing_worker_stops_the_others(script, tmp_path):
    worker = script("one_fails", """
        print(f'worker {index} up', flush=True)
        if index == 1:
            print('worker 1: out of memory', flush=True)
            sys.exit(2)
        time.sleep(600)
    """)
    cluster = WorkerCluster(worker, folder=tmp_path, timeout_s=60)
    cluster.start()
    start = time.monotonic()
    with pytest.raises(WorkerError, match=r"(?s)worker 1 exited with code 2.*out of memory"):
        cluster.wait()
    assert time.monotonic() - start < 30
    assert all_gone(cluster.pids)  # worker 0 was killed, although it would have slept 10 minutes


def test_a_worker_that_exits_early_is_reported_while_waiting_for_its_line(script, tmp_path):
    early = script("early", "print('nothing to do', flush=True)\n")
    with WorkerCluster(early, folder=tmp_path) as cluster:
        cluster.start()
        with pytest.raises(WorkerError, match=r"(?s)worker 0 exited with code 0 before printing 'epoch 1'.*nothing to do"):
            cluster.wait_for_line(0, "epoch 1")
    assert all_gone(cluster.pids)


def test_a_hanging_cluster_times_out_with_every_workers_last_lines(script, tmp_path):
    with WorkerCluster(script("hangs", HANGS), folder=tmp_path, timeout_s=1.0) as cluster:
        cluster.start()
        start = time.monotonic()
        with pytest.raises(WorkerTimeout) as caught:
            cluster.wait()
        assert time.monotonic() - start < 10
    message = str(caught.value)
    assert "timed out after 1 s waiting for the workers to finish; stopped workers [0, 1]" in message
    assert "worker 0 waiting for a peer" in message and "worker 1 waiting for a peer" in message
    assert isinstance(caught.value, WorkerError)
    assert all_gone(cluster.pids)


def test_waiting_for_a_line_that_never_comes_times_out(script, tmp_path):
    with WorkerCluster(script("hangs", HANGS), folder=tmp_path, timeout_s=30) as cluster:
        cluster.start()
        with pytest.raises(WorkerTimeout, match="worker 1 to print 'epoch 1'"):
            cluster.wait_for_line(1, "epoch 1", timeout=0.5)
    assert all_gone(cluster.pids)


def test_no_process_survives_an_exception_in_the_with_block(script, tmp_path):
    with pytest.raises(RuntimeError, match="mid-training"):
        with WorkerCluster(script("spawns", SPAWNS), folder=tmp_path, timeout_s=60) as cluster:
            cluster.start()
            grandchildren = child_pids(cluster)
            assert all(alive(pid) for pid in [*cluster.pids, *grandchildren])
            raise RuntimeError("something went wrong mid-training")
    assert all_gone([*cluster.pids, *grandchildren])  # the workers and what they started


def test_no_process_survives_an_interrupt_while_waiting(script, tmp_path, monkeypatch):
    cluster = WorkerCluster(script("spawns", SPAWNS), folder=tmp_path, timeout_s=60)
    cluster.start()
    grandchildren = child_pids(cluster)

    def interrupted(seconds):
        raise KeyboardInterrupt  # what the kernel's stop button raises

    monkeypatch.setattr(distributed.time, "sleep", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cluster.wait()
    monkeypatch.undo()
    assert all_gone([*cluster.pids, *grandchildren])


def test_stop_is_harmless_twice_and_after_a_normal_end(script, tmp_path):
    cluster = WorkerCluster(script("ok", OK), folder=tmp_path)
    cluster.stop()  # nothing started yet
    cluster.start()
    cluster.wait()
    cluster.stop()
    cluster.stop()
    assert all_gone(cluster.pids)


# --- CPU splitting ---------------------------------------------------------------------------------

def test_split_cpu_before_and_after_tensorflow_uses_its_devices(tmp_path):
    code = """
        import helpers
        from helpers import distributed
        helpers.setup()
        print(distributed.split_cpu(2))
        print(distributed.split_cpu(2))  # a rerun of the cell: harmless
        import tensorflow as tf
        tf.constant(1.0) + 1  # TensorFlow now uses its devices
        try:
            distributed.split_cpu(3)
        except RuntimeError as error:
            print(error)
        try:
            distributed.split_cpu(0)
        except ValueError as error:
            print(error)
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            timeout=300, cwd=Path(distributed.__file__).parent.parent,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()[1:]  # after setup's status line
    assert lines[0] == lines[1] == "['/device:CPU:0', '/device:CPU:1']"
    assert lines[2].startswith("TensorFlow has already set up its devices (2 logical CPU(s))")
    assert "restart the kernel" in lines[2]
    assert lines[3] == "count must be an int >= 1, got 0"


# --- TFRecord shards and the worker script ---------------------------------------------------------

def small_fashion(rng, n=30):
    """n random 28 x 28 uint8 images and labels 0-9."""
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def test_shards_round_trip_in_order_and_replace_stale_files(tmp_path, rng):
    import tensorflow as tf

    from helpers import fashion_worker

    images, labels = small_fashion(rng)
    (tmp_path / "train-00009-of-00010.tfrecord").write_bytes(b"stale")
    paths = distributed.write_tfrecord_shards(images, labels, tmp_path, shards=4)
    assert [path.name for path in paths] == [f"train-0000{i}-of-00004.tfrecord" for i in range(4)]
    assert sorted(tmp_path.glob("train-*.tfrecord")) == paths
    read = list(tf.data.TFRecordDataset([str(p) for p in paths]).map(fashion_worker.parse_example))
    assert np.array_equal(np.stack([image.numpy() for image, _ in read]), images[..., None] / np.float32(255))
    assert [int(label) for _, label in read] == labels.tolist()
    sizes = [sum(1 for _ in tf.data.TFRecordDataset(str(path))) for path in paths]
    assert sizes == [8, 8, 7, 7]


def test_make_dataset_reads_every_example_once(tmp_path, rng):
    from helpers import fashion_worker

    images, labels = small_fashion(rng)
    distributed.write_tfrecord_shards(images, labels, tmp_path, shards=3, prefix="test")
    for seed in (None, 0):
        batches = list(fashion_worker.make_dataset(str(tmp_path / "test-*.tfrecord"), 8, shuffle_seed=seed))
        assert [len(y) for _, y in batches] == [8, 8, 8, 6]
        assert sorted(np.concatenate([y.numpy() for _, y in batches]).tolist()) == sorted(labels.tolist())
    whole = list(fashion_worker.make_dataset(str(tmp_path / "test-*.tfrecord"), 8, shuffle_seed=0, drop_remainder=True))
    assert [len(y) for _, y in whole] == [8, 8, 8]  # the short last batch of 6 is dropped


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x.astype("float32"), y), "images must be uint8"),
    (lambda x, y: (x[:, :27], y), "images must be uint8 of shape"),
    (lambda x, y: (x, y[:-1]), "labels must be 30 integers"),
    (lambda x, y: (x, y.astype("float32")), "labels must be 30 integers"),
    (lambda x, y: (x[:0], y[:0]), "cannot write 0 examples"),
])
def test_bad_shard_input_is_refused(tmp_path, rng, change, message):
    images, labels = change(*small_fashion(rng))
    with pytest.raises(ValueError, match=message):
        distributed.write_tfrecord_shards(images, labels, tmp_path, shards=2)


def test_bad_shard_counts_and_prefixes_are_refused(tmp_path, rng):
    images, labels = small_fashion(rng)
    with pytest.raises(ValueError, match="into 31 non-empty shards"):
        distributed.write_tfrecord_shards(images, labels, tmp_path, shards=31)
    with pytest.raises(ValueError, match="shards must be an int >= 1"):
        distributed.write_tfrecord_shards(images, labels, tmp_path, shards=0)
    for prefix in ("", "a/b", "train*"):
        with pytest.raises(ValueError, match="plain file-name prefix"):
            distributed.write_tfrecord_shards(images, labels, tmp_path, shards=2, prefix=prefix)


def test_the_written_worker_script_is_the_tested_one(tmp_path):
    path = distributed.write_worker_script(tmp_path / "run")
    assert path.name == "fashion_worker.py" and path.read_bytes() == distributed.WORKER_SCRIPT.read_bytes()


def test_the_worker_builds_chapter_05s_cnn():
    import keras

    from helpers import fashion_worker

    model = fashion_worker.compile_cnn(fashion_worker.build_cnn())
    assert model.count_params() == 421_642
    assert [layer.name for layer in model.layers] == ["conv_1", "pool_1", "conv_2", "pool_2", "flatten", "dropout",
                                                      "hidden", "class_probabilities"]
    assert model.get_layer("dropout").rate == 0.3 and isinstance(model.optimizer, keras.optimizers.Adam)


def test_the_worker_command_line():
    from helpers import fashion_worker

    args = fashion_worker.parse_args(["--data", "d", "--out", "o"])
    assert (args.epochs, args.batch_per_replica, args.time_limit, args.no_keras_fix) == (3, 32, 3600.0, False)
    with pytest.raises(SystemExit):
        fashion_worker.parse_args(["--epochs", "2"])  # --data and --out are required


def test_the_keras_fix_leaves_single_device_training_alone():
    import keras

    from helpers import fashion_worker

    fashion_worker.keras_multi_worker_fix()
    fashion_worker.keras_multi_worker_fix()  # applying it twice is harmless
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 3), "float32"), np.zeros((8, 1), "float32"), epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


def test_the_worker_stops_itself_at_its_time_limit_even_inside_c_code(tmp_path):
    """C code that holds Python's lock (as MultiWorkerMirroredStrategy() does while it waits) cannot stop SIGALRM."""
    code = ("import ctypes, sys\nfrom helpers import fashion_worker\nfashion_worker.stop_after(0.3)\n"
            "ctypes.PyDLL(None).sleep(60)\n")  # a C call that keeps the interpreter lock: no Python thread runs
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=Path(distributed.__file__).parent.parent,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert result.returncode == -14 and "stops itself after 0 s" in result.stdout  # ended by SIGALRM
    assert time.monotonic() - start < 60


def test_the_time_limit_can_be_disarmed():
    from helpers import fashion_worker

    disarm = fashion_worker.stop_after(600)
    disarm()
    assert signal.alarm(0) == 0  # no alarm left pending in this process


def test_a_worker_dies_with_the_process_that_started_it(script, tmp_path):
    """A crashed notebook kernel leaves no worker behind (Linux: the kernel kills them)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("parent-death signal is Linux only")
    hang = script("hangs", HANGS)
    code = textwrap.dedent(f"""
        import time
        from helpers.distributed import WorkerCluster
        cluster = WorkerCluster({str(hang)!r}, folder={str(tmp_path / "logs")!r}, timeout_s=60)
        cluster.start()
        print(*cluster.pids, flush=True)
        time.sleep(600)
    """)
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              cwd=Path(distributed.__file__).parent.parent)
    try:
        printed = next(line for line in parent.stdout if line[:1].isdigit())  # after the line on the network
        pids = [int(pid) for pid in printed.split()]
        assert len(pids) in (2, 3) and all(alive(pid) for pid in pids)  # 3: and the private network's holder
    finally:
        parent.kill()  # SIGKILL: no clean-up code runs in the parent
        parent.wait()
    assert all_gone(pids)


# --- the real thing: two TensorFlow workers on loopback --------------------------------------------

@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    """128 random Fashion-MNIST-shaped examples in 4 shards: enough for one short epoch."""
    folder = tmp_path_factory.mktemp("shards")
    images, labels = small_fashion(np.random.default_rng(0), n=128)
    distributed.write_tfrecord_shards(images, labels, folder, shards=4)
    return folder


def worker_args(shards, out, *extra):
    return ["--data", str(shards), "--out", str(out), "--epochs", "1", "--batch-per-replica", "16", "--time-limit", "150", *extra]


def test_two_real_workers_train_and_the_chief_reports(shards, tmp_path):
    """...and while they run, their TensorFlow servers listen on every interface of the workers' network only."""
    script = distributed.write_worker_script(tmp_path)
    with WorkerCluster(script, worker_args(shards, tmp_path / "out"), folder=tmp_path / "logs", timeout_s=180) as cluster:
        cluster.start()
        for index in range(2):
            cluster.wait_for_line(index, "replicas in sync")  # printed once the strategy (and its server) is up
        seen = cluster.listening()
        cluster.wait()
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (result["workers"], result["replicas"], result["global_batch"], result["first_epoch"]) == (2, 2, 32, 1)
    assert len(result["history"]) == 1 and (tmp_path / "out" / "model.keras").is_file()
    # each worker: 2 of the 4 files (64 examples) in 2 batches of 32, each cut into 2 pieces of 16: 4 steps
    assert result["history"][0]["steps"] == 4 and len(result["history"][0]["step_ends"]) == 4
    assert not (tmp_path / "out" / "backup" / "worker-0").exists()  # a finished run deletes its backup
    for log in cluster.logs:
        assert "2 replicas in sync, global batch 32" in log.read_text() and "finished" in log.read_text()
    if seen is None:
        pytest.skip(f"trained; the listening addresses need Linux's /proc ({sys.platform})")
    assert sorted(seen) == [0, 1]
    for inside, here in seen.values():
        assert set(inside) & set(distributed.EVERY_INTERFACE), inside  # TensorFlow binds every interface ...
        assert here == ([] if cluster.isolated else inside)             # ... of the private network, if there is one
    if not cluster.isolated:
        pytest.skip(f"trained, but without a private network here: {cluster.network_note}")


def test_a_real_worker_waiting_for_a_missing_peer_stops_at_its_time_limit(shards, tmp_path):
    """MultiWorkerMirroredStrategy() waits for every worker without a limit of its own; --time-limit bounds it."""
    script = distributed.write_worker_script(tmp_path)
    args = [arg if arg != "150" else "4" for arg in worker_args(shards, tmp_path / "out")]
    with WorkerCluster(script, args, workers=2, folder=tmp_path / "logs", timeout_s=120) as cluster:
        cluster.start([0])  # worker 1 never comes
        with pytest.raises(WorkerError, match=r"(?s)worker 0 was stopped by SIGALRM after .*stops itself after 4 s"):
            cluster.wait()
    assert all_gone(cluster.pids)


def test_keras_3_fit_still_needs_the_multi_worker_fix(shards, tmp_path):
    """When this fails, Keras has fixed fit under MultiWorkerMirroredStrategy: drop keras_multi_worker_fix."""
    script = distributed.write_worker_script(tmp_path)
    with pytest.raises(WorkerError, match="PerReplica"):
        distributed.run_workers(script, worker_args(shards, tmp_path / "out", "--no-keras-fix"),
                                folder=tmp_path / "logs", timeout_s=180)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside Keras' TensorFlow backend
def test_the_worker_alone_trains_as_a_one_worker_cluster(shards, tmp_path, monkeypatch, capsys):
    """Without TF_CONFIG the script trains on its own (one worker), in this process."""
    from helpers import fashion_worker

    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert fashion_worker.main(worker_args(shards, tmp_path / "out")) == 0
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (result["workers"], result["replicas"], result["global_batch"], result["first_epoch"]) == (1, 1, 16, 1)
    assert result["history"][0]["steps"] == 128 // 16  # all 128 examples, 16 per step
    printed = capsys.readouterr().out
    assert "worker 0: 1 replicas in sync, global batch 16" in printed and "epoch 1/1 done: 8 steps, loss=" in printed



# --- supervising: restarting failed workers, and the record of every run -----------------------------

FAILS_ONCE = """
marker = os.path.join(os.path.dirname(__file__), f'failed-{index}')
print(f'worker {index} up', flush=True)
if index == 1 and not os.path.exists(marker):
    open(marker, 'w').close()
    print('worker 1: lost its peer', flush=True)
    sys.exit(1)
time.sleep(0.3)
"""


def test_supervise_restarts_a_failed_worker_and_reports_the_failed_run(script, tmp_path):
    with WorkerCluster(script("fails_once", FAILS_ONCE), folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        failed = cluster.supervise(restarts=2)
        assert cluster.wait() == [0, 0]
    assert [(run.worker, run.exit_code) for run in failed] == [(1, 1)]
    assert "lost its peer" in cluster.run_output(failed[0]) and "lost its peer" not in cluster.output(1)
    assert [run.worker for run in cluster.runs] == [0, 1, 1]
    assert all(run.ended is not None and run.ended >= run.started for run in cluster.runs)
    assert all_gone(cluster.pids)


def test_supervise_gives_up_after_its_restarts(script, tmp_path):
    always = script("always_fails", "print('cannot reach the chief', flush=True)\nsys.exit(1 + index)\n")
    with WorkerCluster(always, workers=1, folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        with pytest.raises(WorkerError, match=r"(?s)worker 0 exited with code 1 after .* and 2 restart\(s\).*cannot reach"):
            cluster.supervise(restarts=2)
    assert [run.exit_code for run in cluster.runs] == [1, 1, 1] and all_gone(cluster.pids)
    with pytest.raises(ValueError, match="restarts must be an int >= 0"):
        cluster.supervise(restarts=-1)


def test_wait_without_check_returns_the_codes_of_killed_and_failed_workers(script, tmp_path):
    worker = script("mixed", "time.sleep(600 if index == 0 else 0)\nsys.exit(index)\n")
    with WorkerCluster(worker, workers=3, folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        cluster.kill(0)
        assert cluster.wait(check=False) == [-9, 1, 2]
    assert [run.exit_code for run in cluster.runs] == [-9, 1, 2]


EPOCHS_OUTPUT = """worker 0: 2 replicas in sync, global batch 64
epoch 1/3 began at 1000.5
epoch 1/3 done: loss=1.0 accuracy=0.5 (4.0 s)
epoch 2/3 began at 1004.75
"""


def test_epoch_segments_read_the_worker_lines():
    assert distributed.epoch_segments(EPOCHS_OUTPUT, started=990.0, ended=1006.0, exit_code=1) == [
        ("start-up", 990.0, 1000.5), ("epoch 1", 1000.5, 1004.5), ("epoch 2, lost", 1004.75, 1006.0)]
    assert distributed.epoch_segments(EPOCHS_OUTPUT, started=990.0, ended=None)[-1] == ("epoch 1", 1000.5, 1004.5)
    assert distributed.epoch_segments("Traceback ...\n", started=990.0, ended=991.0) == [("start-up", 990.0, 991.0)]
    assert distributed.epoch_segments("", started=990.0, ended=None) == []


def test_epoch_segments_after_the_last_epoch_finishing_or_lost():
    finished = EPOCHS_OUTPUT.rsplit("epoch 2/3", 1)[0]  # epoch 1 done, epoch 2 never began
    assert distributed.epoch_segments(finished, 990.0, 1007.0, exit_code=0)[-1] == ("finishing", 1004.5, 1007.0)
    assert distributed.epoch_segments(finished, 990.0, 1007.0, exit_code=1)[-1] == ("waiting, lost", 1004.5, 1007.0)
    assert distributed.epoch_segments(finished, 990.0, 1004.5, exit_code=-9)[-1] == ("epoch 1", 1000.5, 1004.5)


def test_the_timeline_covers_every_run_of_every_worker(script, tmp_path):
    worker = script("epochs", """
        for epoch in (1, 2):
            print(f'epoch {epoch}/2 began at {time.time():.3f}', flush=True)
            time.sleep(0.1)
            print(f'epoch {epoch}/2 done: loss=1.0 accuracy=0.5 (0.1 s)', flush=True)
        time.sleep(600 if index == 1 else 0)
    """)
    with WorkerCluster(worker, folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        cluster.wait_for_line(1, "epoch 2/2 done")
        cluster.kill(1)
        cluster.wait(check=False)
        timeline = cluster.timeline()
    assert [label for label, _, _ in timeline[0]] == ["start-up", "epoch 1", "epoch 2", "finishing"]
    assert [label for label, _, _ in timeline[1]][:3] == ["start-up", "epoch 1", "epoch 2"]  # then killed
    assert all(start <= end for spans in timeline.values() for _, start, end in spans)


def test_the_run_timeline_draws_every_run_of_a_restarted_worker_on_its_own_row(script, tmp_path):
    worker = script("epoch", """
        print(f'epoch 1/1 began at {time.time():.3f}', flush=True)
        time.sleep(0.1)
        print(f'epoch 1/1 done: 3 steps, loss=1.0 accuracy=0.5 (0.1 s)', flush=True)
        time.sleep(600 if index == 1 and not os.path.exists(os.path.join(os.path.dirname(__file__), 'again')) else 0)
    """)
    with WorkerCluster(worker, folder=tmp_path, timeout_s=60) as cluster:
        cluster.start()
        cluster.wait_for_line(1, "epoch 1/1 done")
        cluster.kill(1)
        (tmp_path / "again").touch()
        cluster.start([1])
        cluster.wait()
        rows = cluster.run_timeline()
    assert list(rows) == ["worker 0, run 1", "worker 1, run 1", "worker 1, run 2"]
    assert [label for label, _, _ in rows["worker 1, run 1"]][:2] == ["start-up", "epoch 1"]  # then killed
    assert rows["worker 1, run 2"][0][1] >= rows["worker 1, run 1"][-1][2]  # the second run starts after the first
    assert [label for label, _, _ in rows["worker 1, run 2"]][-1] == "finishing"


HEARTBEATS = """Traceback (most recent call last):
  File "fashion_worker.py", line 1, in <module>
tensorflow.python.framework.errors_impl.UnavailableError: {{function_node x}} Collective ops is aborted by: \
Error reported from /job:worker/task:1: The following tasks are unhealthy (stopped sending heartbeats):
/job:worker/replica:0/task:1
The tasks have crashed. Check the task logs for an earlier error.
The error could be from a previous operation. Restart your program to reset. [Op:CollectiveReduceV2] name:
--- worker 0 starts: fashion_worker.py
"""
SOCKET = """ValueError: an older error
tensorflow.python.framework.errors_impl.UnavailableError: Collective ops is aborted by: Socket closed
Additional GRPC error information from remote target /job:worker/replica:0/task:0 while calling RecvBuf:
:UNKNOWN:Error received from peer  {grpc_message:"Socket closed", grpc_status:14}
"""


def test_last_error_keeps_the_lines_that_continue_the_message():
    assert distributed.last_error(HEARTBEATS) == (
        "UnavailableError: {{function_node x}} Collective ops is aborted by: Error reported from /job:worker/task:1: "
        "The following tasks are unhealthy (stopped sending heartbeats): /job:worker/replica:0/task:1")
    assert distributed.last_error(SOCKET) == ("UnavailableError: Collective ops is aborted by: Socket closed Additional "
                                              "GRPC error information from remote target /job:worker/replica:0/task:0 "
                                              "while calling RecvBuf:")
    assert distributed.last_error("KeyError: 'x'") == "KeyError: 'x'"
    assert distributed.last_error("epoch 1/2 done: 24 steps, loss=1.0 accuracy=0.5 (1.0 s)\n") is None
    assert distributed.last_error("") is None


def test_step_seconds_are_the_gaps_between_step_ends():
    assert distributed.step_seconds([0.5, 1.0, 1.25, 2.0]) == [0.5, 0.5, 0.25, 0.75]
    assert distributed.step_seconds([]) == [] and distributed.step_seconds([0.0]) == [0.0]
    with pytest.raises(ValueError, match="increasing order"):
        distributed.step_seconds([1.0, 0.5])
    with pytest.raises(ValueError, match="increasing order"):
        distributed.step_seconds([-0.1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside Keras' TensorFlow backend
def test_the_epoch_log_counts_the_steps_of_every_epoch(capsys):
    import keras

    from helpers import fashion_worker

    log = fashion_worker.EpochLog(2)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["accuracy"])
    model.fit(np.ones((10, 3), "float32"), np.zeros((10, 1), "float32"), batch_size=4, epochs=2, verbose=0,
              callbacks=[log])
    assert [(row["epoch"], row["steps"], len(row["step_ends"])) for row in log.rows] == [(1, 3, 3), (2, 3, 3)]
    for row in log.rows:
        assert 0 <= row["step_ends"][0] and all(a <= b for a, b in zip(row["step_ends"], row["step_ends"][1:]))
        assert row["step_ends"][-1] <= row["seconds"]
    assert "epoch 2/2 done: 3 steps, loss=" in capsys.readouterr().out


# --- the workers' private network --------------------------------------------------------------------

LISTENS = """
import socket
port = int(json.loads(os.environ['TF_CONFIG'])['cluster']['worker'][index].rsplit(':', 1)[1])
server = socket.socket(socket.AF_INET6)
server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)   # IPv4 too, as TensorFlow's gRPC server does
server.bind(('::', port))                                       # every interface
server.listen()
print(f'worker {index} listening', flush=True)
if index == 1:
    peer = int(json.loads(os.environ['TF_CONFIG'])['cluster']['worker'][0].rsplit(':', 1)[1])
    deadline = time.monotonic() + 10
    while True:                 # worker 0 may not be listening yet: the two start at the same time
        try:
            socket.create_connection(('127.0.0.1', peer), timeout=10).close()
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    print('worker 1 reached worker 0', flush=True)
time.sleep(600)
"""


def listening_cluster(script, tmp_path, **kwargs) -> WorkerCluster:
    """A started cluster of two LISTENS workers, both listening (and worker 1 connected to worker 0)."""
    cluster = WorkerCluster(script("listens", LISTENS), folder=tmp_path / "logs", timeout_s=60, **kwargs)
    cluster.start()
    cluster.wait_for_line(0, "worker 0 listening", timeout=20)
    cluster.wait_for_line(1, "worker 1 reached worker 0", timeout=20)
    return cluster


def refused(address: str) -> bool:
    """True when a TCP connection from this process to 'host:port' is refused."""
    import socket

    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_workers_in_the_private_network_reach_each_other_but_not_this_process(script, tmp_path, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip(f"network namespaces are Linux only ({sys.platform})")
    with listening_cluster(script, tmp_path) as cluster:
        if not cluster.isolated:
            pytest.skip(f"no private network here: {cluster.network_note}")
        seen = cluster.listening()
        assert seen == {0: (["::"], []), 1: (["::"], [])}  # every interface of the namespace; nothing out here
        assert all(refused(address) for address in cluster.addresses)
        holder = cluster.network.holder.pid
        assert holder in cluster.pids
    printed = capsys.readouterr().out
    assert "the workers run in a private network namespace (unshare --user --map-root-user --net)" in printed
    assert all_gone(cluster.pids) and cluster.network is None  # workers and the namespace's holder


def test_without_a_private_network_the_cluster_warns_and_listens_on_this_machine(script, tmp_path, capsys):
    if not sys.platform.startswith("linux"):
        pytest.skip(f"reading the listening addresses needs Linux's /proc ({sys.platform})")
    with listening_cluster(script, tmp_path, private_network=False) as cluster:
        assert not cluster.isolated
        assert cluster.listening() == {0: (["::"], ["::"]), 1: (["::"], ["::"])}
        assert not refused(cluster.addresses[0])
    printed = capsys.readouterr().out
    assert printed.startswith("WARNING: no private network for the workers here (private_network=False)")
    assert "on EVERY network interface" in printed and "at most 60 s" in printed


def test_a_cluster_falls_back_to_this_machines_network_where_there_is_no_private_one(script, tmp_path, capsys,
                                                                                   monkeypatch):
    monkeypatch.setattr(distributed, "private_network_unavailable", lambda: "network namespaces exist only on Linux")
    with WorkerCluster(script("ok", OK), folder=tmp_path, timeout_s=30) as cluster:
        cluster.start()
        assert cluster.wait() == [0, 0] and not cluster.isolated and cluster.network is None
    assert "WARNING: no private network for the workers here (network namespaces exist only on Linux)" in \
        capsys.readouterr().out


def test_private_network_unavailable_names_the_platform_and_missing_tools(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert distributed.private_network_unavailable() == "network namespaces exist only on Linux, this is darwin"
    assert distributed.open_private_network() == (None, "network namespaces exist only on Linux, this is darwin")
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(distributed.shutil, "which", lambda name: None)
    assert distributed.private_network_unavailable() == "unshare and nsenter (util-linux) not found"


def test_a_failing_unshare_is_reported_with_its_message(monkeypatch):
    if distributed.private_network_unavailable():
        pytest.skip(distributed.private_network_unavailable())
    fails = (sys.executable, "-c", "import sys; sys.exit('unshare: unshare failed: Operation not permitted')")
    monkeypatch.setattr(distributed, "UNSHARE", fails)
    network, reason = distributed.open_private_network()
    assert network is None and reason.endswith("failed: unshare: unshare failed: Operation not permitted")


def test_with_user_namespaces_switched_off_there_is_no_private_network(tmp_path):
    """The real thing: a user namespace whose limit of further user namespaces is 0 (as where they are disabled)."""
    network, reason = distributed.open_private_network()
    if network is None:
        pytest.skip(f"no private network here to begin with: {reason}")
    network.close()
    code = "from helpers import distributed; print(distributed.open_private_network()[1])"
    result = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c",
                             "echo 0 > /proc/sys/user/max_user_namespaces || exit 77; "
                             f"exec {sys.executable} -c '{code}'"],
                            capture_output=True, text=True, timeout=120, cwd=Path(distributed.__file__).parent.parent,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode == 77:
        pytest.skip(f"this kernel does not let a user namespace limit its own: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("unshare --user --map-root-user --net failed: unshare: unshare failed")


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "5", True])
def test_open_private_network_refuses_bad_timeouts(bad):
    with pytest.raises(ValueError, match="timeout_s must be a positive number"):
        distributed.open_private_network(timeout_s=bad)


def test_listening_addresses_reads_this_process_network():
    import socket

    if not sys.platform.startswith("linux"):
        pytest.skip(f"reads Linux's /proc ({sys.platform})")
    with socket.socket() as loopback, socket.socket() as everywhere:
        loopback.bind(("127.0.0.1", 0))
        everywhere.bind(("0.0.0.0", 0))
        ports = [server.getsockname()[1] for server in (loopback, everywhere)]
        assert distributed.listening_addresses(ports[0]) == []  # bound, not yet listening
        loopback.listen()
        everywhere.listen()
        assert distributed.listening_addresses(ports[0]) == ["127.0.0.1"]
        assert distributed.listening_addresses(ports[1], pid=os.getpid()) == ["0.0.0.0"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"port": 0}, ValueError, "port must be an int from 1 to 65535"),
    ({"port": 65536}, ValueError, "port must be an int from 1 to 65535"),
    ({"port": True}, ValueError, "port must be an int"),
    ({"port": "80"}, ValueError, "port must be an int"),
    ({"port": 80, "pid": 0}, ValueError, "pid must be an int >= 1"),
    ({"port": 80, "pid": "1"}, ValueError, "pid must be an int >= 1"),
])
def test_listening_addresses_refuses_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        distributed.listening_addresses(**kwargs)


def test_listening_addresses_of_a_gone_process_or_off_linux(monkeypatch):
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    if sys.platform.startswith("linux"):
        with pytest.raises(ProcessLookupError, match=f"no process {gone.pid}"):
            distributed.listening_addresses(80, pid=gone.pid)
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(OSError, match="reads Linux's /proc, which win32 does not have"):
        distributed.listening_addresses(80)


# --- the Keras fix: the private functions it was written for -------------------------------------------

def test_the_keras_functions_the_fix_relies_on_are_the_ones_it_was_written_for():
    """When this fails, Keras changed a private function keras_multi_worker_fix replaces or calls: check the fix."""
    import keras

    from helpers import fashion_worker

    changed = fashion_worker.keras_fix_targets_changed()
    assert changed == [], (f"Keras {keras.__version__} changed {changed}; keras_multi_worker_fix was written for "
                           f"Keras {fashion_worker.KERAS_FIX_WRITTEN_FOR}: compare the fix with the new source")


def test_a_changed_or_missing_keras_function_is_reported(monkeypatch):
    from helpers import fashion_worker

    targets = {**fashion_worker.KERAS_FIX_TARGETS, "reduce_per_replica": "0" * 64, "TensorFlowTrainer.gone": "0" * 64,
               "no_such_function": "0" * 64}
    monkeypatch.setattr(fashion_worker, "KERAS_FIX_TARGETS", targets)
    assert fashion_worker.keras_fix_targets_changed() == ["reduce_per_replica", "TensorFlowTrainer.gone",
                                                          "no_such_function"]
