"""Chapter 10's exercises: the last batch cut into per-replica pieces, the loss a short step follows, that loss
computed by the replicas and all-reduced, the files each of three workers reads."""

from __future__ import annotations

import numpy as np

from helpers.exercises import NotYet, as_array, as_number, exercise

SMALL_BATCH, SHORT, FIRST_PIECE = 32, 20, 16   # 10.1's global batch; 10.2/10.3's short batch of 20, cut 16 + 4
WORKERS, WORKER = 3, 2                         # 10.4: worker 2 of a cluster of three


def _pieces(batch: int, replicas: int) -> list[int]:
    """The per-replica sizes of a whole global batch on one worker, as TensorFlow's batch_sizes_for_worker(batch, 1,
    replicas, 0) gives them: sizes differing by at most one, the larger ones first (64 over 3: 22, 21, 21)."""
    return [batch // replicas + (index < batch % replicas) for index in range(replicas)]


def _cut(remainder: int, pieces: list[int]) -> list[int]:
    """How tf.distribute cuts a file pipeline's (auto-sharding by FILE, or OFF) batch of `remainder` examples: in
    order, into the `pieces` of a whole batch, until the examples run out."""
    cut = []
    for size in pieces:
        cut.append(min(size, remainder - sum(cut)))
    return cut


@exercise(
    "10.1",
    why="For a file pipeline like this one (auto-sharding by FILE, or OFF), tf.distribute cuts each global batch in "
        "order into the pieces a whole batch gives, so a short last batch fills the first replicas and leaves the "
        "last ones less, or nothing (which is why `train` drops it), while a dataset made from arrays "
        "(from_tensor_slices, or the one fit(x, y) builds) is split evenly (section 4).",
    hint="The last batch holds len(x_train) % 32 examples (or 32 if that is 0), and each of the 2 replicas takes at "
         "most 32 // 2 = 16 of them, the first replica first. To see it, write the training set as shards into a "
         "folder of a tempfile.TemporaryDirectory() (distributed.write_tfrecord_shards), and, inside its with "
         "block, take the last element of mirrored.experimental_distribute_dataset(file_pipeline(32, "
         "shards=that_folder)) as section 4 did.",
    scaffold="split_at_32 = ...  # per-replica sizes of the last batch of a pass in batches of 32 under `mirrored`",
    solution="import tempfile\n\n"
             "with tempfile.TemporaryDirectory() as own_folder:   # removed at the block's end, as the chapter's are\n"
             "    shards_32 = Path(own_folder) / \"shards\"\n"
             "    distributed.write_tfrecord_shards(x_train, y_train, shards_32, shards=8)\n"
             "    *_, (_, last_of_32) = mirrored.experimental_distribute_dataset(file_pipeline(32, shards=shards_32))\n"
             "split_at_32 = [int(part.shape[0]) for part in mirrored.experimental_local_results(last_of_32)]\n"
             "print(f\"{len(x_train):,} % 32 = {len(x_train) % 32}: the last batch, per replica: {split_at_32}\")",
    context={"examples": "len(x_train)", "strategy": "mirrored"},
)
def last_batch_at_32(split_at_32, *, examples, strategy):
    """The per-replica sizes of the last batch of a pass over the training set in global batches of 32."""
    replicas = int(strategy.num_replicas_in_sync)
    whole = _pieces(SMALL_BATCH, replicas)
    remainder = examples % SMALL_BATCH or SMALL_BATCH
    expected = _cut(remainder, whole)
    if isinstance(split_at_32, (int, np.integer)) and not isinstance(split_at_32, bool):
        raise NotYet(f"`split_at_32` should hold one size per replica ({replicas} numbers), got the single number "
                     f"{split_at_32}")
    answer = as_array(split_at_32, "split_at_32")
    if answer.ndim != 1 or len(answer) != replicas:
        raise NotYet(f"`split_at_32` should hold one size per replica: {replicas} numbers, got shape {answer.shape}")
    answer = answer.tolist()
    if answer == expected:
        return
    if answer == _cut(examples % 64 or 64, _pieces(64, replicas)):
        raise NotYet(f"{answer} is the split at section 4's global batch of 64; in batches of {SMALL_BATCH} the "
                     f"last one holds {examples:,} % {SMALL_BATCH} = {remainder} examples, cut in order into "
                     f"pieces of at most {_shown(whole)}")
    if sum(answer) != remainder:
        if answer == whole:
            raise NotYet(f"{answer} is a whole batch of {SMALL_BATCH}; the last batch is short: "
                         f"{examples:,} % {SMALL_BATCH} = {remainder}")
        raise NotYet(f"the pieces add up to {sum(answer)}, but the last batch holds {examples:,} % {SMALL_BATCH} = "
                     f"{remainder} examples")
    if sorted(answer) == sorted(expected):
        raise NotYet("the right sizes in the wrong order: the first replica gets its piece first")
    if max(answer) - min(answer) <= 1 and max(expected) - min(expected) > 1:
        raise NotYet(f"{answer} shares the batch evenly, as tf.distribute does for a dataset made from arrays "
                     f"(section 4); file_pipeline's batches are cut in order into the pieces a whole batch of "
                     f"{SMALL_BATCH} gives, {_shown(whole)}: measure on file_pipeline")
    raise NotYet(f"a whole batch of {SMALL_BATCH} gives the {replicas} replicas {_shown(whole)}; file_pipeline's "
                 f"last batch is cut in order into pieces of at most those sizes, the first replica first, until "
                 f"its {remainder} examples run out")


def _shown(sizes: list[int]) -> str:
    """Per-replica sizes as '16 + 16'."""
    return " + ".join(str(size) for size in sizes)


def _per_example_losses(model, images, labels) -> np.ndarray:
    """The loss of each of the first SHORT training examples under `model`."""
    import keras

    probabilities = model.predict(np.asarray(images[:SHORT]), verbose=0)
    return np.asarray(keras.losses.sparse_categorical_crossentropy(np.asarray(labels[:SHORT]), probabilities))


def _scalar(value: object, name: str) -> float:
    """A number, a NumPy scalar or a TensorFlow scalar tensor as a float, else NotYet."""
    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise NotYet(f"`{name}` should be one number, got an array of shape {value.shape}")
        value = value.reshape(()).item()
    return as_number(value, name)


@exercise(
    "10.2",
    why="Each replica averages the loss over its own piece and Keras multiplies that by 1 / (number of replicas): "
        "summed over the replicas, this is the mean over the global batch only when the pieces are equal, so on a "
        "16 + 4 step each of the 4 examples weighs four times as much as each of the 16.",
    hint="Get the 20 per-example losses, with dropout off, as a NumPy array with "
         "keras.losses.sparse_categorical_crossentropy(labels[:20], two_replicas.predict(images[:20], "
         "verbose=0)).numpy(); replica 0 averages the first 16, replica 1 the last 4, each mean is multiplied by 1/2, "
         "and the all-reduce adds the two.",
    scaffold="step_loss_16_4 = ...  # the loss (dropout off) a step on images[:20] cut 16 + 4 follows: replicas' "
             "scaled means, summed",
    solution="losses_of_20 = keras.losses.sparse_categorical_crossentropy(   # one loss per example\n"
             "    labels[:20], two_replicas.predict(images[:20], verbose=0)).numpy()\n"
             "step_loss_16_4 = (losses_of_20[:16].mean() + losses_of_20[16:].mean()) / mirrored.num_replicas_in_sync\n"
             "print(f\"the step follows {step_loss_16_4:.4f}; the mean over its 20 examples is "
             "{losses_of_20.mean():.4f}\")",
    context={"model": "two_replicas", "images": "images", "labels": "labels", "strategy": "mirrored"},
)
def loss_of_a_short_step(step_loss_16_4, *, model, images, labels, strategy):
    """The loss whose gradient a step on a batch of 20 cut 16 + 4 over two replicas follows."""
    value = _scalar(step_loss_16_4, "step_loss_16_4")
    replicas = int(strategy.num_replicas_in_sync)
    losses = _per_example_losses(model, images, labels)
    first, second = float(losses[:FIRST_PIECE].mean()), float(losses[FIRST_PIECE:].mean())
    expected = (first + second) / replicas

    def near(target: float) -> bool:
        return bool(np.isclose(value, target, rtol=1e-3, atol=1e-5))

    if near(expected):
        return
    if near(float(losses.mean())):
        raise NotYet(f"{value:.4f} is the mean over the 20 examples; no replica sees them all: each averages its own "
                     "piece (16, then 4), and Keras multiplies that mean by 1/2")
    if near(first + second):
        raise NotYet(f"{value:.4f} adds the two replicas' means without the factor 1/{replicas} that Keras applies to "
                     "each replica's loss")
    if near(float(losses.sum()) / SMALL_BATCH) or near(float(losses.sum()) / SHORT / replicas):
        raise NotYet(f"{value:.4f} divides the sum of the losses by a batch size; each replica takes the mean over "
                     "its own piece (16 or 4 examples), and Keras multiplies that by 1/2")
    if near(first / replicas) or near(second / replicas) or near(first) or near(second):
        raise NotYet(f"{value:.4f} counts one replica only; the all-reduce adds both replicas' scaled means")
    raise NotYet(f"{value:.4f} is not the loss of that step: take two_replicas's losses with dropout off "
                 "(predict) on images[:20] and labels[:20], the mean of the first 16 and of the last 4, each times "
                 "1/2, and add them")


def _local_values(value: object, strategy) -> list[float]:
    """The per-replica scalars of a tf.distribute value, as floats."""
    return [float(np.asarray(part)) for part in strategy.experimental_local_results(value)]


@exercise(
    "10.3",
    why="strategy.run calls your function once per replica on that replica's piece, and strategy.reduce performs the "
        "all-reduce: a Keras loss called inside run already carries the factor 1 / (number of replicas), so SUM, not "
        "MEAN, gives the loss of the whole step.",
    hint="Hand the pieces out with mirrored.experimental_distribute_values_from_function(lambda context: ...), which "
         "calls the lambda once per replica (context.replica_id_in_sync_group is 0, then 1); in the function you pass "
         "to mirrored.run, call keras.losses.SparseCategoricalCrossentropy()(y, two_replicas(x, training=False)); "
         "then mirrored.reduce(<SUM or MEAN?>, per_replica_losses, axis=None), with tf.distribute.ReduceOp's SUM "
         "or MEAN.",
    scaffold="per_replica_losses = ...  # mirrored.run: each replica's Keras loss of two_replicas (dropout off) on its "
             "piece (16, 4)\n"
             "all_reduced_loss = ...    # those values combined over the replicas with mirrored.reduce",
    solution="bounds = [(0, 16), (16, 20)]   # replica 0 gets the first 16 examples, replica 1 the last 4\n\n\n"
             "def pieces_of(array):\n"
             "    '''One value per replica: that replica's piece of `array`.'''\n"
             "    return mirrored.experimental_distribute_values_from_function(\n"
             "        lambda context: array[slice(*bounds[context.replica_id_in_sync_group])])\n\n\n"
             "def replica_loss(x, y):\n"
             "    '''The Keras loss of two_replicas on one replica's piece (mirrored.run calls it per replica).'''\n"
             "    return keras.losses.SparseCategoricalCrossentropy()(y, two_replicas(x, training=False))\n\n\n"
             "per_replica_losses = mirrored.run(replica_loss, args=(pieces_of(images), pieces_of(labels)))\n"
             "all_reduced_loss = mirrored.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses, axis=None)\n"
             "print([round(float(value), 4) for value in mirrored.experimental_local_results(per_replica_losses)],\n"
             "      \"summed:\", round(float(all_reduced_loss), 4))",
    context={"model": "two_replicas", "images": "images", "labels": "labels", "strategy": "mirrored"},
)
def all_reduced_by_hand(per_replica_losses, all_reduced_loss, *, model, images, labels, strategy):
    """Each replica's Keras loss on its piece of a 16 + 4 batch, and their all-reduced sum."""
    import tensorflow as tf

    replicas = int(strategy.num_replicas_in_sync)
    losses = _per_example_losses(model, images, labels)
    means = [float(losses[:FIRST_PIECE].mean()), float(losses[FIRST_PIECE:].mean())]
    expected = [mean / replicas for mean in means]

    def close(values, targets) -> bool:
        return len(values) == len(targets) and bool(np.allclose(values, targets, rtol=1e-3, atol=1e-5))

    if not isinstance(per_replica_losses, tf.distribute.DistributedValues):
        if isinstance(per_replica_losses, (list, tuple)):
            raise NotYet("`per_replica_losses` is a list; keep what mirrored.run returned, one value per replica "
                         "(a PerReplica value), for mirrored.reduce to combine")
        raise NotYet(f"`per_replica_losses` should be what mirrored.run returned (one value per replica), got "
                     f"{type(per_replica_losses).__name__}")
    shapes = [tuple(np.shape(part)) for part in strategy.experimental_local_results(per_replica_losses)]
    if any(shape not in ((), (1,)) for shape in shapes):
        raise NotYet(f"each replica's value should be one number, the loss of its piece; got shapes {shapes}: return "
                     "keras.losses.SparseCategoricalCrossentropy()(y, predictions), which averages over the piece")
    values = _local_values(per_replica_losses, strategy)
    if len(values) != replicas:
        raise NotYet(f"`per_replica_losses` holds {len(values)} values; `mirrored` has {replicas} replicas")
    halves = [float(losses[:SHORT // 2].mean()), float(losses[SHORT // 2:].mean())]
    if close(values, [mean / replicas for mean in halves]) or close(values, halves):
        raise NotYet("each replica got 10 examples; hand replica 0 the first 16 and replica 1 the last 4 "
                     "(context.replica_id_in_sync_group tells the replicas apart)")
    if close(values, means):
        raise NotYet(f"these are the plain means of each piece; a Keras loss object called inside mirrored.run "
                     f"multiplies its mean by 1/{replicas} itself: use keras.losses.SparseCategoricalCrossentropy()")
    if close(values, expected[::-1]):
        raise NotYet("the pieces are swapped: replica 0 (the first) gets the first 16 examples")
    if not close(values, expected):
        raise NotYet(f"the replicas' losses should be two_replicas's Keras loss, with dropout off "
                     f"(training=False), on images[:16] and on images[16:20] (each times 1/{replicas}); got "
                     f"{[round(value, 4) for value in values]}")
    if isinstance(all_reduced_loss, tf.distribute.DistributedValues):
        raise NotYet("`all_reduced_loss` still holds one value per replica: combine them with mirrored.reduce")
    if isinstance(all_reduced_loss, (list, tuple)):
        raise NotYet("`all_reduced_loss` is a list of the replicas' values; mirrored.reduce turns them into one")
    total = _scalar(all_reduced_loss, "all_reduced_loss")
    if np.isclose(total, sum(expected) / replicas, rtol=1e-3, atol=1e-6):
        raise NotYet(f"ReduceOp.MEAN divides by the {replicas} replicas once more, but each replica's loss already "
                     "carries that factor: reduce with ReduceOp.SUM")
    if not np.isclose(total, sum(expected), rtol=1e-3, atol=1e-6):
        raise NotYet(f"`all_reduced_loss` is {total:.4f}, not the sum of the replicas' values "
                     f"({sum(expected):.4f}): mirrored.reduce(tf.distribute.ReduceOp.SUM, per_replica_losses, "
                     "axis=None)")


def _shard_number(value: object) -> str:
    """A shard's number as the chapter writes it ('00002'), from an int, a numeric string or a file name."""
    from pathlib import Path

    if hasattr(value, "numpy") and not isinstance(value, np.ndarray):
        value = value.numpy()                       # a TensorFlow scalar, such as an element of a file-name dataset
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return f"{int(value):05d}"
    if isinstance(value, str):
        name = Path(value).name
        if name.startswith("train-"):
            name = name[6:11]
        if name.isdigit():
            return f"{int(name):05d}"
    raise NotYet(f"`worker_2_shards` should list shard numbers such as 2 or '00002', got {value!r}")


@exercise(
    "10.4",
    why="AutoShardPolicy.FILE gives worker i of n every n-th file from file i on, so 8 files for 3 workers leave one "
        "worker 2 files and the others 3; all workers still run as many steps as the largest part gives, and on the "
        "steps after its own part has run out that worker feeds empty batches, so its replica adds nothing to them "
        "(and with oneDNN it may crash, as in section 4).",
    hint="Worker i of n reads the files at positions i, i + n, i + 2n, ... of the sorted list: "
         "Dataset.from_tensor_slices(sorted_names).shard(num_shards=3, index=2) lists them. shard_sizes counts "
         "the images in each file.",
    scaffold="worker_2_shards = ...  # numbers of the shards worker 2 of 3 reads under AutoShardPolicy.FILE\n"
             "worker_2_images = ...  # how many training images those shards hold",
    solution="three_way = tf.data.Dataset.from_tensor_slices(sorted_names).shard(num_shards=3, index=2)  # FILE policy\n"
             "worker_2_shards = [Path(name.decode()).name[6:11] for name in three_way.as_numpy_iterator()]\n"
             "worker_2_images = sum(shard_sizes[number] for number in worker_2_shards)\n"
             "print(f\"worker 2 of 3 reads {worker_2_shards}: {worker_2_images} images, the other two \"\n"
             "      f\"{[sum(list(shard_sizes.values())[worker::3]) for worker in range(2)]}\")",
    context={"shard_sizes": "shard_sizes"},
)
def three_workers_shards(worker_2_shards, worker_2_images, *, shard_sizes):
    """The shards worker 2 of 3 reads under the FILE policy, and the images they hold."""
    numbers = sorted(shard_sizes)
    if hasattr(worker_2_shards, "numpy") and not isinstance(worker_2_shards, np.ndarray):
        worker_2_shards = worker_2_shards.numpy()   # a tensor of file names or numbers
    if isinstance(worker_2_shards, np.ndarray):
        worker_2_shards = worker_2_shards.item() if worker_2_shards.ndim == 0 else worker_2_shards.tolist()
    if isinstance(worker_2_shards, (str, bytes, int, float, np.integer, np.floating)):
        raise NotYet(f"`worker_2_shards` should be a list of shard numbers, got the single value {worker_2_shards!r}")
    try:
        answer = [_shard_number(value) for value in worker_2_shards]
    except TypeError as error:
        raise NotYet(f"`worker_2_shards` should be a list of shard numbers, got {type(worker_2_shards).__name__}") \
            from error
    expected = numbers[WORKER::WORKERS]
    unknown = [number for number in answer if number not in shard_sizes]
    if unknown:
        raise NotYet(f"there is no shard {unknown[0]}: the {len(numbers)} files are numbered {numbers[0]} to "
                     f"{numbers[-1]}")
    if sorted(answer) != expected:
        if sorted(answer) == numbers[WORKER::2]:
            raise NotYet(f"{answer} is every 2nd file, as with section 6's two workers; with {WORKERS} workers each "
                         f"reads every {WORKERS}rd")
        if sorted(answer) == numbers[WORKER - 1::WORKERS]:
            raise NotYet(f"{answer} are worker 1's files: workers are counted from 0, so worker 2 is the third")
        if len(answer) == len(set(answer)) and all(int(b) - int(a) == 1 for a, b in zip(sorted(answer),
                                                                                      sorted(answer)[1:])):
            raise NotYet(f"{answer} is a block of neighbouring files; Dataset.shard deals them out in turn: worker i "
                         f"of {WORKERS} reads files i, i + {WORKERS}, ...")
        raise NotYet(f"worker {WORKER} of {WORKERS} does not read {answer}: it reads the files at positions "
                     f"{WORKER}, {WORKER + WORKERS}, ... of the sorted list")
    images = _scalar(worker_2_images, "worker_2_images")
    expected_images = sum(shard_sizes[number] for number in expected)
    if images == expected_images:
        return
    total = sum(shard_sizes.values())
    if images in (total // WORKERS, total / WORKERS, -(-total // WORKERS)):
        raise NotYet(f"{images:g} is a third of all {total:,} images; the parts are not equal: count the images in "
                     "worker 2's own files (shard_sizes)")
    if images == len(expected):
        raise NotYet(f"{images:g} counts files; the question asks for the images in them (shard_sizes)")
    raise NotYet(f"those files do not hold {images:g} images: add up their shard_sizes")
