"""The digit-sum models: invariance (with masks and empty sets), padding, shapes, seeded weights,
the image DeepSet of the study and what its files keep."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepsets import DeepSet, save_model
from deepsets.studies.digits.encoders import ConvEncoder, DigitHead, DigitValues
from deepsets.studies.digits.models import (
    RecurrentSum,
    SetTransformer,
    digit_deepset,
    image_deepset,
)
from deepsets.studies.digits.tasks import digit_sum, image_digit_sum
from deepsets.weights import module_from

INVARIANT = {
    "deepset": lambda F: digit_deepset(F, generator=0),
    "set_transformer": lambda F: SetTransformer(F, dim=16, heads=2, generator=0),
    "counting_set_transformer": lambda F: SetTransformer(
        F, dim=16, heads=2, counting=True, generator=0
    ),
}
ALL = {
    **INVARIANT,
    "lstm": lambda F: RecurrentSum("lstm", 50, F, generator=0),
    "gru": lambda F: RecurrentSum("gru", 80, F, generator=0),
}
TEXT = {name: make(None) for name, make in ALL.items()}
IMAGE = {name: make(64) for name, make in ALL.items()}


def sets(seed: int, B: int, lo: int, hi: int, image: bool):
    if image:
        return image_digit_sum(B, (lo, hi), split="test", generator=seed)
    return digit_sum(B, (lo, hi), generator=seed)


def shuffled(X, mask, seed):
    """Each set's objects, padding included, in a random order of its own (a plain loop)."""
    g = torch.Generator().manual_seed(seed)
    order = torch.stack([torch.randperm(X.shape[1], generator=g) for _ in range(X.shape[0])])
    rows = torch.arange(X.shape[0]).unsqueeze(1)
    return X[rows, order], mask[rows, order]


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(sorted(INVARIANT)),
    image=st.booleans(),
    seed=st.integers(0, 2**31),
    lo=st.integers(0, 4),
    extra=st.integers(1, 8),
)
def test_invariant_models_ignore_the_order_of_objects_and_padding(name, image, seed, lo, extra):
    model = (IMAGE if image else TEXT)[name]
    X, mask, _ = sets(seed, 16, lo, lo + extra, image)  # includes empty sets when lo = 0
    Xp, maskp = shuffled(X, mask, seed + 1)
    with torch.no_grad():
        out, outp = model(X, mask), model(Xp, maskp)
        # More padding, holding anything, changes nothing either.
        junk = torch.ones_like(X[:, :3]) if image else torch.full_like(X[:, :3], 7)
        padded = model(torch.cat([X, junk], 1), torch.cat([mask, torch.zeros_like(mask[:, :3])], 1))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(outp, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded, out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(ALL))
@pytest.mark.parametrize("image", [False, True])
def test_every_model_maps_sets_to_one_number_each_and_empty_sets_to_finite_ones(name, image):
    model = (IMAGE if image else TEXT)[name]
    X, mask, _ = sets(0, 7, 0, 5, image)
    mask[:3] = False  # three empty sets
    X = X * mask.unsqueeze(-1) if image else torch.where(mask.unsqueeze(-1), X, 0)
    out = model(X, mask)
    assert out.shape == (7, 1)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.zero_grad()
    torch.testing.assert_close(out[:3], out[:1].expand(3, 1).detach(), rtol=0, atol=1e-6)
    all_empty = model(X[:2, :0], mask[:2, :0])  # no objects at all
    torch.testing.assert_close(all_empty, out[:2].detach(), atol=1e-5, rtol=1e-5)
    assert torch.equal(model(X), model(X, torch.ones_like(mask)))  # no mask = every object real


def test_deepset_is_rho_of_the_sum_of_phi_over_the_real_objects():
    model = digit_deepset(generator=1)
    X, mask, _ = digit_sum(20, (0, 8), generator=2)
    with torch.no_grad():
        out = model(X, mask)
        for b in range(20):
            total = torch.zeros(30)
            for i in range(X.shape[1]):
                if mask[b, i]:
                    total += model.phi(X[b : b + 1, i : i + 1])[0, 0]
            torch.testing.assert_close(out[b], model.rho(total), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_models_read_the_real_digits_in_order_and_only_those(cell):
    model = RecurrentSum(cell, 12, generator=3)
    X, mask, _ = digit_sum(15, (0, 6), generator=4)
    mask[0] = torch.tensor([False, True, False, True, True, False])  # holes: read 2nd, 4th, 5th
    X[0, ~mask[0]] = 0
    with torch.no_grad():
        out = model(X, mask)
        for b in range(15):
            digits = X[b, mask[b]].unsqueeze(0)  # (1, n, 1): the real digits alone
            if digits.shape[1] == 0:
                expected = model.rho(torch.zeros(12))
            else:
                states, _ = model.rnn(model.encoder(digits))
                expected = model.rho(states[0, -1])
            torch.testing.assert_close(out[b], expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recurrent_models_depend_on_the_order(cell):
    model = RecurrentSum(cell, 20, generator=5)
    X, mask, _ = digit_sum(64, (6, 6), generator=6)
    with torch.no_grad():
        change = (model(X.flip(1), mask) - model(X, mask)).abs().max()
    assert change > 1e-4


def test_set_transformer_cannot_tell_a_set_from_itself_doubled():
    """Attention is a weighted mean: a set and the same set twice over give the same output."""
    model = SetTransformer(dim=16, heads=2, generator=7)
    X, mask, y = digit_sum(32, (1, 6), generator=8)
    with torch.no_grad():
        once, twice = model(X, mask), model(torch.cat([X, X], 1), torch.cat([mask, mask], 1))
    torch.testing.assert_close(twice, once, atol=1e-5, rtol=1e-5)
    deepset = digit_deepset(generator=7)  # the sum is not: it doubles phi's sum
    with torch.no_grad():
        assert (
            deepset(torch.cat([X, X], 1), torch.cat([mask, mask], 1)) - deepset(X, mask)
        ).abs().max() > 1e-3


@pytest.mark.parametrize("name", sorted(ALL))
def test_the_same_seed_gives_the_same_weights_and_leaves_torchs_generator_alone(name):
    state = torch.get_rng_state()
    a, b = ALL[name](None), ALL[name](None)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: TEXT["deepset"](torch.ones(2, 3, 1)), ValueError, "int64"),
        (lambda: TEXT["lstm"](torch.full((2, 3, 1), 10)), ValueError, "tokens"),
        (lambda: IMAGE["gru"](torch.ones(2, 3, 5)), ValueError, r"\(B, N, 64\)"),
        (
            lambda: TEXT["deepset"](torch.ones(2, 3, 1, dtype=torch.int64), torch.ones(2, 4) > 0),
            ValueError,
            "mask",
        ),
        (lambda: RecurrentSum("rnn"), ValueError, "cell"),
        (lambda: SetTransformer(dim=10, heads=4), ValueError, "multiple of heads"),
        (lambda: digit_deepset(latent=0), ValueError, "latent"),
    ],
)
def test_bad_inputs_are_refused_by_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_digit_deepset_is_the_packages_deepset_with_an_encoder_as_phi():
    model = digit_deepset(generator=3)
    assert type(model) is DeepSet and model.config is None and model.pooling == "sum"
    encoder, dense, tanh = model.phi
    assert type(encoder).__name__ == "DigitEncoder" and isinstance(tanh, torch.nn.Tanh)
    assert (dense.in_features, dense.out_features) == (100, 30)
    assert (model.rho.in_features, model.rho.out_features) == (30, 1)


IMAGE_DEEPSET = image_deepset(0)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), lo=st.integers(0, 4), extra=st.integers(1, 8))
def test_the_image_deepset_ignores_order_and_padding_and_sums_its_images(seed, lo, extra):
    X, mask, _ = sets(seed, 8, lo, lo + extra, True)  # empty sets when lo = 0
    Xp, maskp = shuffled(X, mask, seed + 1)
    junk = torch.full_like(X[:, :2], 0.5)  # padding with ink counts no more than blank padding
    with torch.no_grad():
        out = IMAGE_DEEPSET(X, mask)
        permuted = IMAGE_DEEPSET(Xp, maskp)
        padded = IMAGE_DEEPSET(torch.cat([X, junk], 1), torch.cat([mask, mask[:, :2] & False], 1))
        # a plain loop: each real image alone, as a set of one, summed
        alone = torch.stack([
            sum((IMAGE_DEEPSET(X[b, i].reshape(1, 1, -1))[0] for i in range(X.shape[1])
                 if mask[b, i]), torch.zeros(1))
            for b in range(X.shape[0])
        ])  # fmt: skip
    torch.testing.assert_close(permuted, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(padded, out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(alone, out, atol=1e-4, rtol=1e-5)


def test_the_image_deepset_is_the_packages_deepset_of_the_conv_encoder_and_digit_values():
    model = image_deepset(3)
    assert type(model) is DeepSet and model.config is None and model.pooling == "sum"
    encoder, head = model.phi
    assert isinstance(encoder, ConvEncoder) and isinstance(head, DigitHead)
    assert isinstance(model.rho, DigitValues) and not list(model.rho.parameters())
    again = image_deepset(3)
    for p, q in zip(model.parameters(), again.parameters(), strict=True):
        assert torch.equal(p, q)
    other = image_deepset(4)
    assert not torch.equal(next(model.parameters()), next(other.parameters()))


def test_the_conv_encoder_computes_blank_images_once_as_every_image_alone():
    """Without a mask every object gets its features, all-zero images included: a plain loop
    over the images, one at a time, is the reference."""
    enc = ConvEncoder(16, (4, 8), generator=5)
    X, mask, _ = image_digit_sum(6, (0, 5), split="test", generator=2)  # blank padding
    with torch.no_grad():
        out = enc(X)  # (B, N, E)
        alone = torch.stack([
            torch.stack([enc.net(X[b, i].reshape(1, 1, 8, 8))[0] for i in range(X.shape[1])])
            for b in range(X.shape[0])
        ])  # fmt: skip
        masked = enc(X, mask)
    assert bool((~mask).any())
    torch.testing.assert_close(out, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(masked[mask], alone[mask], atol=1e-5, rtol=1e-5)
    assert bool((masked[~mask] == 0).all())
    with pytest.raises(ValueError, match=r"\(B, N, 64\)"):
        enc(torch.ones(2, 3, 5))


def test_a_changed_conv_encoder_is_not_saved_and_a_bad_stored_one_not_loaded(tmp_path):
    model = image_deepset(0)
    model.phi[0].net[3] = torch.nn.Conv2d(16, 32, 5, padding=2)  # no longer what it records
    with pytest.raises(TypeError, match="changed after it was built"):
        save_model(model, tmp_path / "changed.safetensors")
    with pytest.raises(ValueError, match="ConvEncoder"):
        module_from({"kind": "ConvEncoder", "width": 64, "kernel": 5})
