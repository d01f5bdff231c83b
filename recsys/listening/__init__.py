"""Listening data: streamed from the feed, screened for fraud, turned into training matrices."""
