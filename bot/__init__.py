"""Code that must live inside the `rasa run` process: the gateway input channel, NLU components, rasa fixes.

Importing the package (rasa does, for the input channel named in credentials.yml and for the pipeline's
components) applies bot/rasa_patches.py, bot/tracker_speedups.py and bot/turn_speedups.py.
"""

import os

from bot import rasa_patches, tracker_speedups, turn_speedups

rasa_patches.apply()
if os.environ.get("RASA_SPEEDUPS", "1").strip() != "0":  # 0: rasa's own code (bench/long_conversation.py)
    tracker_speedups.apply()
    turn_speedups.apply()
