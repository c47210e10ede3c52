"""Task folders: one per MLE task (see envs/README.md)."""
