"""Synthetic fleets in the vendor format: realistic traffic, attacks and expert labels.

``generate_fleet`` writes the file; ``floodmark.generate.traffic.simulate_object`` gives
one object's series with their ground truth (attack episodes, flash crowds) in memory.
"""

from floodmark.generate.fleet import FleetSummary, generate_fleet

__all__ = ["FleetSummary", "generate_fleet"]
