"""Grading and medals: the metrics (each with its direction), the validating grader, the
leaderboards with MLE-bench's medal rule, and the one definition of score direction."""
