"""The Set Transformer's blocks and set networks: equivariance and invariance (with masks,
padding and empty sets), padding against each set alone, the duplication property of softmax
attention and of the counting variant, cardinality-preserving attention against its formula,
shapes, seeding and bad arguments."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepsets.models.set_transformer import ENCODERS, MAB, POOLINGS, Layers, SetModel
from deepsets.studies.digits.models import SetTransformer
from deepsets.studies.digits.tasks import digit_sum

F_IN = 3
VARIANTS = [(e, p, False) for e, p in itertools.product(ENCODERS, POOLINGS)] + [
    (e, "pma", True) for e in ENCODERS
]  # (encoder, pooling, counting)


def build(encoder: str, pooling: str, counting: bool, seeds: int | None = 2) -> SetModel:
    return SetModel(
        F_IN,
        3,
        encoder=encoder,
        pooling=pooling,
        seeds=seeds,
        layers=Layers(dim=8, heads=2, blocks=2, inducing=3, decoder=1, counting=counting),
        generator=0,
    )


MODELS = {v: build(*v) for v in VARIANTS}


def sets(seed: int, B: int, lo: int, hi: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Float sets (B, hi, F_IN) with masks; padding holds junk, which must never matter."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, hi, F_IN, generator=g) * 2
    n = torch.randint(lo, hi + 1, (B, 1), generator=g)
    mask = torch.arange(hi).unsqueeze(0) < n  # (B, N)
    return X.masked_fill(~mask.unsqueeze(-1), 5.0), mask


def shuffled(X, mask, seed):
    """Each set's objects, padding included, in a random order of its own (a plain loop)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(X.shape[1], generator=g) for _ in range(X.shape[0])])
    rows = torch.arange(X.shape[0]).unsqueeze(1)
    return X[rows, order], mask[rows, order], order


@settings(max_examples=40, deadline=None)
@given(
    variant=st.sampled_from(VARIANTS),
    seed=st.integers(0, 2**31),
    lo=st.integers(0, 3),
    extra=st.integers(1, 7),
)
def test_pooled_models_ignore_the_order_of_objects_and_padding(variant, seed, lo, extra):
    model = MODELS[variant]
    X, mask = sets(seed, 12, lo, lo + extra)  # includes empty sets when lo = 0
    Xp, maskp, _ = shuffled(X, mask, seed + 1)
    with torch.no_grad():
        out, outp = model(X, mask), model(Xp, maskp)
        junk = torch.full_like(X[:, :3], -7.0)
        padded = model(torch.cat([X, junk], 1), torch.cat([mask, torch.zeros_like(mask[:, :3])], 1))
    assert out.shape == (12, 2, 3) and torch.isfinite(out).all()
    torch.testing.assert_close(outp, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded, out, atol=1e-5, rtol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    encoder=st.sampled_from(["sab", "isab"]),
    seed=st.integers(0, 2**31),
    lo=st.integers(0, 3),
    extra=st.integers(1, 7),
)
def test_attention_encoders_are_permutation_equivariant_on_the_real_objects(
    encoder, seed, lo, extra
):
    model = MODELS[(encoder, "pma", False)]
    X, mask = sets(seed, 12, lo, lo + extra)
    Xp, maskp, order = shuffled(X, mask, seed + 1)
    with torch.no_grad():
        Z, Zp = model.encode(X, mask), model.encode(Xp, maskp)  # (B, N, D)
    rows = torch.arange(12).unsqueeze(1)
    assert torch.isfinite(Z).all()
    real = maskp.unsqueeze(-1).expand_as(Zp)
    torch.testing.assert_close(Zp[real], Z[rows, order][real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_padded_batch_gives_each_set_what_it_gives_alone(variant):
    """Against a plain loop: set b alone, only its real objects, no mask."""
    model = MODELS[variant]
    X, mask = sets(3, 9, 1, 6)
    with torch.no_grad():
        out = model(X, mask)
        for b in range(9):
            alone = model(X[b : b + 1, mask[b]])  # (1, n, F): no padding at all
            torch.testing.assert_close(out[b : b + 1], alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_empty_sets_give_finite_outputs_and_gradients(variant):
    model = MODELS[variant]
    X, mask = sets(4, 6, 0, 4)
    mask[:3] = False  # three empty sets
    out = model(X, mask)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad()
    torch.testing.assert_close(out[:3], out[:1].expand(3, -1, -1).detach(), rtol=0, atol=1e-6)
    with torch.no_grad():
        nothing = model(X[:2, :0], mask[:2, :0])  # no objects at all
    torch.testing.assert_close(nothing, out[:2].detach(), atol=1e-5, rtol=1e-5)
    with torch.no_grad():
        assert torch.equal(model(X), model(X, torch.ones_like(mask)))  # no mask: all real


def doubled(X, mask):
    return torch.cat([X, X], 1), torch.cat([mask, mask], 1)


@settings(max_examples=40, deadline=None)
@given(variant=st.sampled_from(VARIANTS), seed=st.integers(0, 2**31), lo=st.integers(1, 4))
def test_only_sum_pooling_and_counting_attention_tell_a_set_from_itself_doubled(variant, seed, lo):
    """Softmax attention, mean and max are the same on every element repeated twice; sum
    pooling and cardinality-preserving attention are not: they see the set's size."""
    encoder, pooling, counting = variant
    model = MODELS[variant]
    X, mask = sets(seed, 10, lo, lo + 4)  # no empty sets: doubling one changes nothing
    with torch.no_grad():
        once, twice = model(X, mask), model(*doubled(X, mask))
    if pooling == "sum" or counting:
        # most sets differ (a random decoder's ReLUs can be dead for a few of them)
        assert ((twice - once).abs().amax(dim=(1, 2)) > 1e-4).float().mean() >= 0.5
    else:
        torch.testing.assert_close(twice, once, atol=1e-5, rtol=1e-5)


def test_the_digit_set_transformer_counts_only_with_counting_attention():
    X, mask, _ = digit_sum(32, (1, 6), generator=8)
    for counting in (False, True):
        model = SetTransformer(dim=16, heads=2, counting=counting, generator=7)
        with torch.no_grad():
            change = (model(*doubled(X, mask)) - model(X, mask)).abs().amax(dim=1)
        if counting:
            assert change.min() > 1e-4
        else:
            assert change.max() < 1e-5


def test_counting_attention_adds_the_weighted_sum_of_the_values_to_softmax_attention():
    """CPA (additive): Multihead(Q, K, K) + W_o (w * sum_j v_j), v_j torch's own value
    projection of k_j: computed here set by set over the real objects alone."""
    torch.manual_seed(0)
    plain, counting = MAB(8, 2), MAB(8, 2, counting=True)
    counting.attention.load_state_dict(plain.attention.state_dict())
    with torch.no_grad():
        counting.count_weight.copy_(torch.rand(8) + 0.5)
    Q, K = torch.randn(5, 3, 8), torch.randn(5, 7, 8)
    mask = torch.arange(7).unsqueeze(0) < torch.tensor([[0], [1], [3], [7], [5]])
    with torch.no_grad():
        got = counting.attend(Q, K, mask)
        for b in range(5):
            k = K[b : b + 1, mask[b]]  # (1, n, D)
            if k.shape[1] == 0:
                torch.testing.assert_close(got[b], torch.zeros(3, 8))
                continue
            soft, _ = plain.attention(Q[b : b + 1], k, k)  # (1, Q, D)
            v = torch.nn.functional.linear(
                k, plain.attention.in_proj_weight, plain.attention.in_proj_bias
            )[..., 16:]  # (1, n, D)
            w_o = plain.attention.out_proj.weight
            expected = soft[0] + (w_o @ (counting.count_weight * v[0].sum(0)))  # (Q, D)
            torch.testing.assert_close(got[b], expected, atol=1e-5, rtol=1e-5)


def test_one_seed_or_none_gives_the_engines_shapes():
    X, mask = sets(5, 4, 1, 5)
    one = SetModel(F_IN, 1, encoder="rff", pooling="max", generator=0)
    assert one(X, mask).shape == (4, 1)
    k = SetModel(F_IN, 4, encoder="isab", pooling="mean", seeds=5, layers=Layers(decoder=2),
                 generator=0)  # fmt: skip
    assert k(X, mask).shape == (4, 5, 4)


@pytest.mark.parametrize("variant", VARIANTS[:6])
def test_the_same_seed_gives_the_same_weights_and_leaves_torchs_generator_alone(variant):
    state = torch.get_rng_state()
    a, b = build(*variant), build(*variant)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: SetModel(2, encoder="cnn"), ValueError, "encoder"),
        (lambda: SetModel(2, pooling="attention"), ValueError, "pooling"),
        (lambda: SetModel(2, pooling="mean", layers=Layers(counting=True)), ValueError, "counting"),
        (lambda: SetModel(2, layers=Layers(counting=1)), TypeError, "counting"),
        (lambda: SetModel(2, layers=Layers(decoder=-1)), ValueError, "decoder"),
        (lambda: SetModel(2, encoder="isab", layers=Layers(inducing=0)), ValueError, "inducing"),
        (lambda: SetModel(2, seeds=0), ValueError, "seeds"),
        (lambda: SetModel(2, layers=Layers(dim=10, heads=4)), ValueError, "multiple of heads"),
        (lambda: SetModel(0), ValueError, "in_features"),
        (lambda: SetModel(2)(torch.ones(2, 3, 5)), ValueError, r"\(B, N, 2\)"),
        (lambda: SetModel(2)(torch.ones(2, 3, 2, dtype=torch.int64)), ValueError, "float"),
        (lambda: SetModel(2)(torch.ones(2, 3, 2), torch.ones(2, 4) > 0), ValueError, "mask"),
        (lambda: SetModel(2)([[1.0, 2.0]]), TypeError, "torch.Tensor"),
        (lambda: SetTransformer(counting="yes"), TypeError, "counting"),
    ],
)
def test_bad_arguments_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()
