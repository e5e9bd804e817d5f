"""What every study shares, kept once: settings and checks (settings, memory), what the CLI
knows of a study (study), how it runs and writes its outputs and report (run, output), verdicts
and quick runs (verdict), the console summary (console) and the shared figures (figures).
"""
