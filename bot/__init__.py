"""Code that must live inside the `rasa run` process: the gateway input channel, NLU components, rasa fixes.

Importing the package (rasa does, for the input channel named in credentials.yml and for the pipeline's
components) applies bot/rasa_patches.py and bot/tracker_speedups.py.
"""

import os

from bot import rasa_patches, tracker_speedups

rasa_patches.apply()
if os.environ.get("RASA_TRACKER_SPEEDUPS", "1").strip() != "0":  # 0: rasa's own code (bench/long_conversation.py)
    tracker_speedups.apply()
