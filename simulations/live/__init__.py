"""The live driver: the simulated day driven through a running server (``python -m
simulations.live``). See :mod:`simulations.live.cli`."""
