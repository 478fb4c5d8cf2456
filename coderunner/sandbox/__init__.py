"""Running sandboxed programs in a pool of isolated worker processes.

The policy (what code may do) is :mod:`common.sandbox`; this package adds the
process wall: pre-started workers that imported pandas and numpy once, run
one program at a time under rlimits with no network, no environment and an
empty working directory, and are killed and replaced when a program
overruns, crashes one, or after a number of runs. See coderunner/README.md
for the threat model.
"""
