"""The activation table: a module is a row's only if the row builds exactly it, options
included, so that files and stacks never swap one function for another."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepsets.models.activation import ACTIVATIONS, activation_of


class MyTanh(nn.Tanh):
    """A subclass: it may compute anything."""


VARIANTS = [nn.Tanh(), nn.ReLU(), nn.ReLU(inplace=True), nn.Sigmoid(), nn.GELU(),
            nn.GELU(approximate="tanh"), nn.LeakyReLU(0.3), nn.ELU(), MyTanh()]  # fmt: skip
Z = torch.linspace(-4, 4, 1001, dtype=torch.float64)


@pytest.mark.parametrize("module", VARIANTS, ids=repr)
def test_a_module_is_a_rows_only_if_the_row_builds_exactly_it(module):
    a = activation_of(module)
    if a is not None:
        built = a.module()
        assert type(built) is type(module) and repr(built) == repr(module)
        assert torch.equal(built(Z.clone()), module(Z.clone()))


def test_the_comparison_can_fail():
    assert not torch.equal(nn.GELU()(Z), nn.GELU(approximate="tanh")(Z))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_rows_module_is_that_rows(name):
    assert activation_of(ACTIVATIONS[name].module()) is ACTIVATIONS[name]
