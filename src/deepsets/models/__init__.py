"""Set networks: the DeepSet, the MLP baseline, pooling and the equivariant layer."""

from deepsets.models.deepset import DeepSet, Rho
from deepsets.models.equivariant import PermEquivariant
from deepsets.models.mlp import make_mlp
from deepsets.models.pooling import POOLINGS, pool

__all__ = ["DeepSet", "Rho", "PermEquivariant", "make_mlp", "pool", "POOLINGS"]
