"""Gateway connectors: the normalized message model, the rasa client and one sub-package per channel."""
