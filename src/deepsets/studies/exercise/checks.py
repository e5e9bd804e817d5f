"""The exercise study's check: its settings' fields (`settings.resolve`), then the run's memory
estimated from them (`memory_needs`), refused naming the flags before any work.

It counts the declared variants' parameters (`plan.declare`) without building a model, so
`deepsets run --test-size 1000000000` is refused in a second, before it allocates anything.
"""

from __future__ import annotations

import operator

from deepsets.data import CHUNK, data_bytes
from deepsets.lab.memory import FLOAT, Need, activations_need, check_needs, losses_need, models_need
from deepsets.models.deepset import DeepSet
from deepsets.studies.exercise.plan import (
    MIXED,
    PERMUTED_SETS,
    TEST_SIZES,
    Plan,
    Variant,
    checkpoints,
    declare,
    sweep_variants,
)
from deepsets.studies.exercise.settings import StudySettings, resolve


def check(settings: StudySettings) -> StudySettings:
    """`resolve` the settings, then refuse a run whose memory (`memory_needs`) would not fit,
    naming its flags: the study's check, before any work."""
    s = resolve(settings)
    check_needs(s, sweep_needs(s))  # first: a sweep too deep is refused before it is declared
    check_needs(s, memory_needs(s))
    return s


def sweep_needs(s: StudySettings) -> list[Need]:
    """The sweep's MLPs (question 7a) and their step's activations, from the widths and depths
    alone: an MLP of depth d and width w on the 10 objects has 10w + (d - 1)w^2 + w weights and
    dw + 1 biases (`variant_size` of its spec), and d x w units. Its specs spell every layer,
    so `--sweep-depths 1 100000000` would take minutes and gigabytes to declare."""
    shapes = [(w, d) for d in s.sweep_depths for w in s.sweep_widths] * len(s.sweep_activations)
    params = [10 * w + (d - 1) * w * w + w + d * w + 1 for w, d in shapes]
    fields = ("seeds", "sweep_widths", "sweep_depths")
    units = sum(w * d for w, d in shapes)
    copies = s.seeds * len(checkpoints(s.steps))
    return [
        models_need("the sweep's MLPs", copies, params, fields),
        activations_need("the sweep's activations", s.seeds, s.batch_size, 1, units,
                         ("batch_size", *fields)),  # fmt: skip
    ]


def memory_needs(s: StudySettings) -> list[Need]:
    """The large things a run with `s` holds, estimated before any work (`lab.memory`): the
    plan's models (each seed's, and a copy at each earlier checkpoint of learning_speed),
    their losses, a step's batches, the set-size section's test sets, the permuted copies."""
    plan = Plan()  # one seed's variants: the others' are alike
    declare(plan, s)
    sweep = set(sweep_variants(s))
    sizes = {v.name: variant_size(v) for v in plan.variants.values()}
    copies = s.seeds * len(checkpoints(s.steps))
    kinds = {
        ("the DeepSets", ("seeds", "hidden")): [n for n in sizes if n.startswith("deepset")],
        ("the exercise's MLP", ("seeds", "mlp_hidden")): ["mlp"],
        ("the sweep's MLPs", ("seeds", "sweep_widths", "sweep_depths")): [
            v.name for v in plan.variants.values() if v in sweep
        ],
    }
    needs = [models_need(what, copies, [sizes[n][0] for n in names], fields)
             for (what, fields), names in kinds.items()]  # fmt: skip
    needs.append(losses_need(s.seeds * len(sizes), s.steps, ("seeds", "steps")))
    units = sum(objects * width for _, objects, width in sizes.values())
    streams = s.seeds * (1 + any(v.set_sizes for v in plan.variants.values()))
    batches = data_bytes(min(s.steps, CHUNK) * s.batch_size * streams, MIXED[1])
    needs.append(Need("a step's batches", batches, ("batch_size", "seeds")))
    needs.append(activations_need("a step's activations", s.seeds, s.batch_size, 1, units,
                                  ("batch_size", "seeds")))  # fmt: skip
    tests = sum(data_bytes(s.test_size, n) for n in TEST_SIZES)
    tests += s.test_size * max(TEST_SIZES) * sizes["deepset"][2] * FLOAT
    needs.append(Need("the set-size section's test sets", tests, ("test_size",)))
    permuted = (s.permutations + 1) * PERMUTED_SETS * 10 * FLOAT * 2
    needs.append(Need("the invariance check's permuted sets", permuted, ("permutations",)))
    return needs


def variant_size(v: Variant) -> tuple[int, int, int]:
    """A variant's parameters, objects per input row (a DeepSet's phi sees each of the 10 or
    up to 20 objects, an MLP one flattened set) and hidden units per row, without building it."""
    o = dict(v.options)
    hidden: tuple[int, ...] = (o["hidden"],) if isinstance(o["hidden"], int) else o["hidden"]
    if v.constructor == "DeepSet":
        H, L = hidden[0], o["latent"]
        config = dict(in_features=1, hidden=H, latent=L, rho_hidden=H)
        return DeepSet.n_params(config), 10 if v.set_sizes is None else v.set_sizes[1], 3 * H + L
    units = sum(hidden)
    widths = (10, *hidden, 1)  # layer i maps widths[i] inputs (and a bias) to widths[i + 1]
    return sum(map(operator.mul, widths, widths[1:])) + units + 1, 1, units
