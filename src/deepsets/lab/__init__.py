"""What every study shares, kept once: its settings base and checks (settings), what the CLI
knows of a study (study), the run directory (output: staged writes, markers, versions), verdicts
(verdict), the console summary (console), the report's template environment (report), weights/
(weights) and the shared figures (figures).

Layers: the core (validate, data, models, engine, training, ...) and the cluster sit below this
package; the studies (deepsets.studies) above it; the CLI on top (tests/test_layers.py).
"""
