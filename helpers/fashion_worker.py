"""Train chapter 05's Fashion-MNIST CNN on TFRecord shards with tf.distribute.MultiWorkerMirroredStrategy.

One copy of this script runs on every worker, each started with its own TF_CONFIG (the cluster's
addresses and this worker's index); it imports only TensorFlow and Keras, so it can be copied to
other machines as it is:

    TF_CONFIG='{"cluster": {"worker": ["hostA:12345", "hostB:12345"]}, "task": {"type": "worker", "index": 0}}' \
        python fashion_worker.py --data shards/ --out run/ --epochs 3

Every worker reads `--data/train-*.tfrecord` (the files are split between workers), backs up its
training state after every epoch in `--out/backup/worker-<index>` (keras.callbacks.BackupAndRestore)
and prints a line when each epoch begins and when it ends (with its steps). The chief (worker 0)
writes `--out/result.json` and `--out/model.keras`. A rerun after a crash resumes from the backup.
`--time-limit` stops a worker that waits too long, for example for a peer that never comes up.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

FEATURES = {
    "image": tf.io.FixedLenFeature([], tf.string),   # 28 x 28 uint8 pixels as raw bytes
    "label": tf.io.FixedLenFeature([], tf.int64),
}


def build_cnn(n_outputs: int = 10, activation: str = "softmax") -> keras.Model:
    """Chapter 05's CNN: Conv 32 -> Pool -> Conv 64 -> Pool -> Flatten -> Dropout 0.3 -> Dense 128 -> a head (10 softmax)."""
    return keras.Sequential([
        keras.Input(shape=(28, 28, 1), name="image"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv_1"),
        keras.layers.MaxPooling2D(2, name="pool_1"),
        keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_2"),
        keras.layers.MaxPooling2D(2, name="pool_2"),
        keras.layers.Flatten(name="flatten"),
        keras.layers.Dropout(0.3, name="dropout"),
        keras.layers.Dense(128, activation="relu", name="hidden"),
        keras.layers.Dense(n_outputs, activation=activation, name="class_probabilities"),
    ], name="cnn")


def compile_cnn(model: keras.Model) -> keras.Model:
    """Adam, sparse cross-entropy and accuracy, as in chapter 05; returns the model."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def serialize_example(image: bytes, label: int) -> bytes:
    """One Fashion-MNIST example (28 x 28 uint8 bytes and its label) as a serialized tf.train.Example."""
    feature = {"image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[image])),
               "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def parse_example(record: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A serialized example -> (28 x 28 x 1 float32 image in 0..1, int64 label)."""
    example = tf.io.parse_single_example(record, FEATURES)
    image = tf.reshape(tf.io.decode_raw(example["image"], tf.uint8), (28, 28, 1))
    return tf.cast(image, tf.float32) / 255.0, example["label"]


def make_dataset(pattern: str, batch_size: int, shuffle_seed: int | None = 0,
                 drop_remainder: bool = False) -> tf.data.Dataset:
    """Files matching `pattern` -> interleaved records -> parsed -> shuffled -> batched -> prefetched.

    Under a multi-worker strategy each worker reads its own files (AutoShardPolicy.FILE, which shards the
    file list at its source). The list is sorted, not shuffled, so that a manual `.shard()` would also give
    every worker other files; shuffle_seed=None keeps the order (for tests and evaluation).
    drop_remainder=True drops a short last batch, which tf.distribute would split unevenly, leaving a
    replica with no examples; each worker batches its own part, so each drops its own remainder.
    """
    files = tf.data.Dataset.list_files(pattern, shuffle=False)
    dataset = files.interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE,
                               deterministic=shuffle_seed is None)
    dataset = dataset.map(parse_example, num_parallel_calls=tf.data.AUTOTUNE)
    if shuffle_seed is not None:
        dataset = dataset.shuffle(2048, seed=shuffle_seed)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.FILE
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE).with_options(options)


# What keras_multi_worker_fix replaces or calls in keras/src/backend/tensorflow/trainer.py, with the SHA-256 of
# each function's source in the Keras release the fix was written for.
KERAS_FIX_WRITTEN_FOR = "3.15.1"
KERAS_FIX_TARGETS = {
    "TensorFlowTrainer._maybe_symbolic_build": "d5301f7a561c075800bc172bf245d2dfcb7e5c6fc1e6976c34cf15882f12f1ff",
    "reduce_per_replica": "94857c5856b1e55dbad9d21de9e3e8eeca886bd71b87fedb1b41758ea412155c",
    "_collective_all_reduce_multi_worker": "695763e8726b4803f5a95528eec8717e0e7f75108a9dc7a65551613b1e62445c",
    "_is_per_replica_instance": "31e81122d5a842a63378205b3f034765c93af2786a25eb02bd1534bd8eda9a6b",
}


def keras_fix_targets_changed() -> list[str]:
    """The Keras functions keras_multi_worker_fix relies on whose installed source is not the one it was written for."""
    from keras.src.backend.tensorflow import trainer

    source = Path(trainer.__file__).read_text(encoding="utf-8")  # the file, not the module: the fix patches the module
    tree = ast.parse(source)
    changed = []
    for dotted, expected in KERAS_FIX_TARGETS.items():
        node: ast.AST | None = tree
        for part in dotted.split("."):
            node = next((child for child in getattr(node, "body", [])
                         if isinstance(child, (ast.ClassDef, ast.FunctionDef)) and child.name == part), None)
            if node is None:
                break
        text = ast.get_source_segment(source, node) if node is not None else None
        if text is None or hashlib.sha256(text.encode("utf-8")).hexdigest() != expected:
            changed.append(dotted)
    return changed


def keras_multi_worker_fix() -> None:
    """Make Keras 3.15's `fit` work under MultiWorkerMirroredStrategy (upstream: keras-team/keras#20585).

    Two reductions in Keras' TensorFlow trainer fail across workers: the first batch it reduces to
    build metrics is a tuple of per-replica values, and the per-step logs are scalars reduced along
    axis 0. Both are replaced for multi-worker strategies only; everything else is Keras' own code.
    """
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_course_multi_worker_fix", False):
        return
    multi_worker = trainer._collective_all_reduce_multi_worker
    original_build, original_reduce = trainer.TensorFlowTrainer._maybe_symbolic_build, trainer.reduce_per_replica

    def symbolic_build(self, iterator=None, data_batch=None):
        if iterator is None or self._distribute_strategy is None or not multi_worker(self.distribute_strategy):
            return original_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # this worker's part of the first batch is enough to build with
            batch = next(batches)
            local = self.distribute_strategy.experimental_local_results
            data_batch = tree.map_structure(lambda value: local(value)[0], batch)
            break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction == "auto" and multi_worker(strategy):
            return tree.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None)
                                      if trainer._is_per_replica_instance(v) else v, values)
        return original_reduce(values, strategy, reduction)

    trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    trainer.reduce_per_replica = reduce_per_replica
    trainer._course_multi_worker_fix = True


class EpochLog(keras.callbacks.Callback):
    """One flushed line when an epoch begins and one when it ends (after the backup), with wall-clock times.

    `rows` holds one dict per finished epoch: its number, seconds, the training steps this worker ran
    (`steps`), when each step ended (`step_ends`, seconds since the epoch began) and the epoch's metrics.
    """

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs, self.started, self.rows, self.step_ends = epochs, 0.0, [], []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.started, self.step_ends = time.time(), []
        print(f"epoch {epoch + 1}/{self.epochs} began at {self.started:.3f}", flush=True)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.step_ends.append(time.time() - self.started)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        seconds = time.time() - self.started
        row = {"epoch": epoch + 1, "seconds": seconds, "steps": len(self.step_ends),
               "step_ends": [round(end, 4) for end in self.step_ends], **{k: float(v) for k, v in (logs or {}).items()}}
        self.rows.append(row)
        print(f"epoch {epoch + 1}/{self.epochs} done: {row['steps']} steps, loss={row['loss']:.4f} "
              f"accuracy={row['accuracy']:.4f} ({seconds:.1f} s)", flush=True)


def stop_after(seconds: float) -> Callable[[], None]:
    """End this process once `seconds` have passed, whatever it is doing; returns a function that disarms it.

    Uses SIGALRM's default action, which ends the process even while TensorFlow's C++ code holds
    Python's lock (as MultiWorkerMirroredStrategy() does while it waits for the other workers), where
    a Python thread would never get to run. Without SIGALRM (Windows) a timer thread does what it can.
    """
    print(f"time limit: this worker stops itself after {seconds:.0f} s", flush=True)
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(max(1, math.ceil(seconds)))
        return lambda: signal.alarm(0)
    timer = threading.Timer(seconds, os._exit, args=(3,))  # pragma: no cover - Windows
    timer.daemon = True
    timer.start()
    return timer.cancel


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: data and output folders, epochs, batch per replica, seed, time limit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with train-*.tfrecord")
    parser.add_argument("--out", type=Path, required=True, help="folder for the backup, result.json and model.keras")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-per-replica", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--time-limit", type=float, default=3600.0, help="seconds before the worker gives up")
    parser.add_argument("--no-keras-fix", action="store_true", help="run without keras_multi_worker_fix")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Join the cluster named by TF_CONFIG, train (resuming from a backup if there is one), report."""
    args = parse_args(argv)
    disarm = stop_after(args.time_limit)
    try:
        train(args)
    finally:
        disarm()
    return 0


def train(args: argparse.Namespace) -> None:
    """The training: strategy, model in its scope, sharded input, fit with BackupAndRestore, the chief's report."""
    if not args.no_keras_fix:
        keras_multi_worker_fix()
    keras.utils.set_random_seed(args.seed)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # reads TF_CONFIG; waits for every worker
    index = strategy.cluster_resolver.task_id or 0           # no TF_CONFIG: one local worker
    workers = len(strategy.cluster_resolver.cluster_spec().as_dict().get("worker", [])) or 1
    global_batch = args.batch_per_replica * strategy.num_replicas_in_sync
    print(f"worker {index}: {strategy.num_replicas_in_sync} replicas in sync, global batch {global_batch}", flush=True)
    with strategy.scope():
        model = compile_cnn(build_cnn())
    train_data = make_dataset(str(args.data / "train-*.tfrecord"), global_batch, shuffle_seed=args.seed,
                              drop_remainder=True)  # every step a whole global batch: no replica left empty
    log = EpochLog(args.epochs)
    backup = keras.callbacks.BackupAndRestore(args.out / "backup" / f"worker-{index}")  # one folder per worker
    # Keras learns the length of a sharded dataset only at the end of the first epoch and warns before that.
    warnings.filterwarnings("ignore", message="Your input ran out of data")
    model.fit(train_data, epochs=args.epochs, shuffle=False, verbose=0, callbacks=[backup, log])  # shuffled above
    if index == 0:  # the chief reports; every worker holds the same weights
        model.save(args.out / "model.keras")
        result = {"workers": workers, "replicas": strategy.num_replicas_in_sync, "global_batch": global_batch,
                  "epochs": args.epochs, "first_epoch": args.epochs - len(log.rows) + 1, "history": log.rows}
        (args.out / "result.json.tmp").write_text(json.dumps(result, indent=1))
        (args.out / "result.json.tmp").replace(args.out / "result.json")
    print(f"worker {index}: finished", flush=True)


if __name__ == "__main__":
    sys.exit(main())
