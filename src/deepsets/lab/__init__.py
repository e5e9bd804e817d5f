"""What every study shares, kept once: settings and checks (settings, memory), what the CLI
knows of a study (study), how it runs and writes (run, output, report, weights), verdicts
(verdict, quick), the console summary (console) and the shared figures (figures).
"""
