"""Code that must live inside the `rasa run` process: the gateway input channel, NLU components, rasa fixes.

Importing the package (rasa does, for the input channel named in credentials.yml and for the pipeline's
components) applies bot/rasa_patches.py.
"""

from bot import rasa_patches

rasa_patches.apply()
