"""What every study shares, kept once: the run directory (staged writes, markers, versions), the
report's template environment, the common settings checks and the shared figures.

Layers: the core (validate, data, models, engine, training) and the cluster sit below this
package; the studies (deepsets.studies) above it; the CLI on top.
"""
