"""Small integer codes for the world's categorical columns, and their written names.

Categorical columns are stored as int arrays for speed; these tables turn a code into the word
that goes into a file, in one place, so the writer and the truth file cannot disagree.
"""

from __future__ import annotations

RELEASE_SINGLE = 0
RELEASE_EP = 1
RELEASE_ALBUM = 2

DECLARATION_NONE = 0
DECLARATION_ASSISTED = 1
DECLARATION_GENERATED = 2
DECLARATION_NAMES: tuple[str, ...] = ("none", "assisted", "generated")

SOURCE_DETECTOR = 0
SOURCE_LABEL = 1
SOURCE_CURATOR = 2
SOURCE_LISTENER = 3
SOURCE_NAMES: tuple[str, ...] = ("detector", "label", "curator", "listener")

BOT_FARM_STREAMER = 0
BOT_PUSHER = 1
BOT_CAMOUFLAGED_PUSHER = 2
BOT_KIND_NAMES: tuple[str, ...] = ("farm_streamer", "pusher", "camouflaged_pusher")

# Detector thresholds the truth file is computed with: at or above EXCLUDE the track is out at
# once; from REVIEW up to EXCLUDE it waits for a curator (and stays out of the pool meanwhile).
DETECTOR_EXCLUDE = 0.9
DETECTOR_REVIEW = 0.5
