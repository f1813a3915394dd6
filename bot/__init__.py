"""Code that must live inside the `rasa run` process: the gateway input channel."""
