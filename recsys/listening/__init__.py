"""Listening data: streamed from the feed, screened for fraud, turned into training matrices."""

__all__ = ["fraud", "fraud_kernel", "history", "reader", "training"]
