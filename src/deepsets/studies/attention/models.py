"""The models of the paper's two tables, by the names metrics.json uses.

`max_model(name, settings, seed)` builds one of MAX_MODELS (Table 1), `cluster_model` one of
CLUSTER_MODELS (section 5.3), their initial weights drawn from `seed`. All are `SetModel`s.
"""

from __future__ import annotations

from deepsets.models.set_transformer import Layers, SetModel
from deepsets.studies.attention.settings import CLUSTER_MODELS, MAX_MODELS, AttentionSettings
from deepsets.studies.attention.tasks import MIXTURE_OUTPUTS

NAMES = {
    "max_regression": {
        "mean": "rFF + mean pooling",
        "sum": "rFF + sum pooling",
        "max": "rFF + max pooling",
        "sab_pma": "SAB + PMA",
    },
    "clustering": {
        "oracle": "oracle (true parameters)",
        "rff_pool": "rFF + pooling (DeepSet)",
        "sab_pool": "SAB + pooling",
        "rff_pma": "rFF + PMA",
        "sab_pma": "SAB + PMA",
        "isab_pma": "ISAB + PMA",
    },
}  # how the report names each model


def max_model(name: str, s: AttentionSettings, seed: int) -> SetModel:
    """Table 1's model `name`: rFF (rff_blocks x D) -> pooling -> FC(D, ReLU) -> FC(1), or
    Linear(1, D) -> SAB x attention_blocks -> PMA (1 seed) -> FC(1)."""
    if name not in MAX_MODELS:
        raise ValueError(f"model must be one of {tuple(MAX_MODELS)}, got {name!r}")
    enc, pool = MAX_MODELS[name]
    blocks = s.rff_blocks if enc == "rff" else s.attention_blocks
    layers = Layers(s.max_dim, s.heads, blocks, decoder=0 if pool == "pma" else 1)
    return SetModel(1, 1, encoder=enc, pooling=pool, layers=layers, generator=seed)


def cluster_model(name: str, s: AttentionSettings, seed: int) -> SetModel:
    """Section 5.3's model `name`: k mixture components of MIXTURE_OUTPUTS numbers each; after
    a mean pooling pool_decoder FC layers, after PMA (k seeds) pma_decoder SABs."""
    if name not in CLUSTER_MODELS:
        raise ValueError(f"model must be one of {tuple(CLUSTER_MODELS)}, got {name!r}")
    enc, pool = CLUSTER_MODELS[name]
    blocks = s.rff_blocks if enc == "rff" else s.attention_blocks
    decoder = s.pma_decoder if pool == "pma" else s.pool_decoder
    layers = Layers(s.cl_dim, s.heads, blocks, s.inducing, decoder)
    return SetModel(
        2, MIXTURE_OUTPUTS, encoder=enc, pooling=pool, seeds=s.components, layers=layers,
        generator=seed,
    )
