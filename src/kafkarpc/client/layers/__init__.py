"""The layers of the client's send pipeline, one job each (``client/pipeline.py`` stacks them)."""
