"""``floodmark serve``: a JSON API and a web console over a store and a registry.

>>> from floodmark.registry import open_registry
>>> from floodmark.service import create_app
>>> app = create_app("fleet-store", open_registry("floodmark.db"))  # doctest: +SKIP
"""

from floodmark.service.app import create_app

__all__ = ["create_app"]
