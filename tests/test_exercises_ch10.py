"""Chapter 10's checks against their reference answers and the wrong answers learners typically give.

10.3 needs two replicas, that is a CPU split into two logical devices before TensorFlow first uses one: it runs in
a Python process of its own, which prints the check's verdict for each answer.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from helpers.exercises import REGISTRY

TWO_REPLICAS = SimpleNamespace(num_replicas_in_sync=2)  # all that 10.1 and 10.2 read of `mirrored`
THREE_REPLICAS = SimpleNamespace(num_replicas_in_sync=3)  # "More to try": the CPU split into 3 devices


def verdict_is(line, exercise_id, words):
    """Assert that `line` says correct (words None) or not yet with `words` in its reason."""
    if words is None:
        assert line.startswith(f"{exercise_id} correct: "), line
    else:
        assert line.startswith(f"{exercise_id} not yet: ") and words in line, line


def test_10_scaffolds_print_not_attempted_yet():
    for item in REGISTRY.of_chapter("10"):
        answers = [...] * len(item.answers)
        assert REGISTRY.verdict(item.id, *answers).startswith(f"{item.id} not attempted yet:")


# --- 10.1 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("examples, answer, words", [
    (1_620, [16, 4], None),                          # fast mode: 1,620 % 32 = 20
    (1_620, np.array([16, 4]), None),
    (12_000, [16, 16], None),                        # full mode: no short batch
    (1_620, [10, 10], "shares the batch evenly"),
    (1_620, [20, 0], "the split at section 4's global batch of 64"),
    (1_620, [16, 16], "a whole batch of 32"),
    (1_620, [4, 16], "the wrong order"),
    (1_620, [12, 8], "a whole batch of 32 gives the 2 replicas 16 + 16"),
    (1_620, [20], "one size per replica"),
    (1_620, 20, "the single number 20"),
    (1_620, "16, 4", "should be an array of numbers"),
    (1_620, [32, 32], "add up to 64"),
])
def test_10_1_the_last_batch_at_32_per_replica(examples, answer, words):
    verdict_is(REGISTRY.verdict("10.1", answer, examples=examples, strategy=TWO_REPLICAS), "10.1", words)


@pytest.mark.parametrize("examples, answer, words", [
    (1_620, [11, 9, 0], None),                       # measured with split_cpu(3): pieces 11 + 11 + 10, in order
    (12_000, [11, 11, 10], None),
    (1_620, [7, 7, 6], "shares the batch evenly"),
    (1_620, [10, 10, 0], "a whole batch of 32 gives the 3 replicas 11 + 11 + 10"),
    (1_620, [20, 0, 0], "the split at section 4's global batch of 64"),
    (1_620, [11, 11, 10], "a whole batch of 32"),
    (1_620, [0, 9, 11], "the wrong order"),
])
def test_10_1_with_three_replicas_the_pieces_differ_by_one(examples, answer, words):
    verdict_is(REGISTRY.verdict("10.1", answer, examples=examples, strategy=THREE_REPLICAS), "10.1", words)


def test_10_1_the_pieces_are_tensorflows():
    from tensorflow.python.data.experimental.ops.distribute import batch_sizes_for_worker

    from helpers.exercises.ch10 import _pieces

    for batch in (20, 32, 64, 96):
        for replicas in (1, 2, 3, 4):
            assert _pieces(batch, replicas) == batch_sizes_for_worker(batch, 1, replicas, 0).numpy().tolist()


def test_10_1_the_split_at_64_in_full_mode_is_named_too():
    line = REGISTRY.verdict("10.1", [32, 0], examples=12_000, strategy=TWO_REPLICAS)
    verdict_is(line, "10.1", "the split at section 4's global batch of 64")


# --- 10.2 ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    """A small softmax model, 32 random images and labels: the per-example losses differ from image to image."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1, (32, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 32)
    return model, x, y


def test_10_2_the_loss_a_16_plus_4_step_follows(small_model):
    import keras
    import tensorflow as tf

    model, x, y = small_model
    losses = keras.losses.sparse_categorical_crossentropy(y[:20], model.predict(x[:20], verbose=0)).numpy()
    first, second = losses[:16].mean(), losses[16:].mean()

    def answer(value, words):
        verdict_is(REGISTRY.verdict("10.2", value, model=model, images=x, labels=y, strategy=TWO_REPLICAS), "10.2",
                   words)

    answer((first + second) / 2, None)
    answer(float((first + second) / 2), None)
    answer(tf.constant((first + second) / 2), None)
    answer(losses.mean(), "the mean over the 20 examples")
    answer(first + second, "without the factor 1/2")
    answer(losses.sum() / 32, "divides the sum of the losses by a batch size")
    answer(first / 2, "counts one replica only")
    answer((losses[:10].mean() + losses[10:].mean()) / 2, "the mean over the 20 examples")  # 10 + 10: the same
    answer(losses[:2], "should be one number")
    answer("0.5", "should be a number")
    answer(123.0, "is not the loss of that step")


# --- 10.3 ------------------------------------------------------------------------------------

TEN_THREE = textwrap.dedent("""
    import json

    import helpers
    from helpers import distributed

    helpers.setup()
    devices = distributed.split_cpu(2)

    import keras
    import numpy as np
    import tensorflow as tf

    from helpers.exercises import REGISTRY

    mirrored = tf.distribute.MirroredStrategy(devices)
    with mirrored.scope():
        keras.utils.set_random_seed(0)
        two_replicas = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Flatten(),
                                         keras.layers.Dense(10, activation="softmax")])
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 1, (40, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 40)
    SUM, MEAN = tf.distribute.ReduceOp.SUM, tf.distribute.ReduceOp.MEAN


    def per_replica(bounds, loss=None):
        '''mirrored.run of a loss of two_replicas on each replica's piece images[start:stop].'''
        pieces = [mirrored.experimental_distribute_values_from_function(
            lambda context, array=array: array[slice(*bounds[context.replica_id_in_sync_group])])
            for array in (images, labels)]
        loss = loss or (lambda x, y: keras.losses.SparseCategoricalCrossentropy()(y, two_replicas(x, training=False)))
        return mirrored.run(loss, args=pieces)


    right = per_replica([(0, 16), (16, 20)])
    plain = per_replica([(0, 16), (16, 20)], lambda x, y: tf.reduce_mean(
        keras.losses.sparse_categorical_crossentropy(y, two_replicas(x, training=False))))
    even = per_replica([(0, 10), (10, 20)])
    swapped = per_replica([(16, 20), (0, 16)])
    other = per_replica([(20, 36), (36, 40)])
    answers = {
        "right": (right, mirrored.reduce(SUM, right, axis=None)),
        "right as a float": (right, float(mirrored.reduce(SUM, right, axis=None))),
        "mean": (right, mirrored.reduce(MEAN, right, axis=None)),
        "not reduced": (right, right),
        "local results": (right, mirrored.experimental_local_results(right)),
        "wrong total": (right, 5.0),
        "plain means": (plain, mirrored.reduce(SUM, plain, axis=None)),
        "even split": (even, mirrored.reduce(SUM, even, axis=None)),
        "swapped": (swapped, mirrored.reduce(SUM, swapped, axis=None)),
        "other images": (other, mirrored.reduce(SUM, other, axis=None)),
        "a list": (list(mirrored.experimental_local_results(right)), mirrored.reduce(SUM, right, axis=None)),
        "a number": (1.0, 1.0),
        "predictions": (mirrored.run(lambda x: two_replicas(x), args=(images[:2],)), 1.0),
        "per-example losses": (per_replica([(0, 16), (16, 20)], lambda x, y:
                                           keras.losses.sparse_categorical_crossentropy(y, two_replicas(x))), 1.0),
    }
    print(json.dumps({name: REGISTRY.verdict("10.3", *answer, model=two_replicas, images=images, labels=labels,
                                             strategy=mirrored) for name, answer in answers.items()}))
""")


@pytest.fixture(scope="module")
def verdicts_10_3(tmp_path_factory):
    """The verdict of 10.3 for each answer, from a process of its own with the CPU split into two devices."""
    script = tmp_path_factory.mktemp("ch10") / "ten_three.py"
    script.write_text(TEN_THREE)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name, words", [
    ("right", None),
    ("right as a float", None),
    ("mean", "ReduceOp.MEAN divides by the 2 replicas once more"),
    ("not reduced", "still holds one value per replica"),
    ("local results", "a list of the replicas' values"),
    ("wrong total", "not the sum of the replicas' values"),
    ("plain means", "plain means of each piece"),
    ("even split", "each replica got 10 examples"),
    ("swapped", "the pieces are swapped"),
    ("other images", "the replicas' losses should be two_replicas's Keras loss, with dropout off"),
    ("a list", "`per_replica_losses` is a list"),
    ("a number", "should be what mirrored.run returned"),
    ("predictions", "should be one number, the loss of its piece; got shapes [(2, 10)"),
    ("per-example losses", "got shapes [(16,), (4,)]"),
])
def test_10_3_the_loss_computed_by_the_replicas_and_all_reduced(verdicts_10_3, name, words):
    verdict_is(verdicts_10_3[name], "10.3", words)


# --- 10.4 ------------------------------------------------------------------------------------

SHARD_SIZES = {f"{index:05d}": 203 if index < 4 else 202 for index in range(8)}  # fast mode's 1,620 in 8 files


@pytest.mark.parametrize("shards, images, words", [
    (["00002", "00005"], 405, None),
    ([2, 5], 405, None),
    ([b"/data/shards/train-00002-of-00008.tfrecord", "train-00005-of-00008.tfrecord"], 405.0, None),
    (["00005", "00002"], np.int64(405), None),
    (["00002", "00004", "00006"], 405, "every 2nd file"),
    (["00001", "00004", "00007"], 405, "worker 1's files"),
    (["00005", "00006", "00007"], 405, "a block of neighbouring files"),
    (["00002", "00005", "00008"], 405, "there is no shard 00008"),
    (["00002", "00006"], 405, "does not read"),
    (["00002", "00005"], 540, "a third of all 1,620 images"),
    (["00002", "00005"], 2, "counts files"),
    (["00002", "00005"], 406, "do not hold 406 images"),
    (["00002", "00005"], "405", "should be a number"),
    ("00002", 405, "the single value"),
    ([None], 405, "should list shard numbers"),
    (42.0, 405, "should be a list of shard numbers"),
    ([2.0, 5.0], 405, None),
    ([2.5, 5.0], 405, "should list shard numbers"),
    (["00002", "00005"], np.array(405), None),
    (["00002", "00005"], np.array([405, 1]), "should be one number"),
])
def test_10_4_the_files_of_worker_2_of_3(shards, images, words):
    verdict_is(REGISTRY.verdict("10.4", shards, images, shard_sizes=SHARD_SIZES), "10.4", words)


def test_10_4_accepts_tensorflow_values():
    import tensorflow as tf

    names = tf.data.Dataset.from_tensor_slices([f"/data/train-{index:05d}-of-00008.tfrecord" for index in range(8)])
    three_way = names.shard(num_shards=3, index=2)

    def answer(shards, images, words):
        verdict_is(REGISTRY.verdict("10.4", shards, images, shard_sizes=SHARD_SIZES), "10.4", words)

    answer(list(three_way), 405, None)                  # EagerTensors of file names
    answer(tf.constant([2, 5]), 405, None)
    answer(tf.constant([2, 5]), tf.constant(405), None)
    answer(["00002", "00005"], tf.constant(405.0), None)
    answer(list(names.shard(num_shards=2, index=0).skip(1)), 405, "every 2nd file")  # files 2, 4, 6
    answer(["00002", "00005"], tf.constant(406), "do not hold 406 images")
