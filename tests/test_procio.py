"""The process-I/O pieces every run shares, on their own (no sandbox)."""

from __future__ import annotations

import os
import threading

from gome_env.isolation.procio import KEEP_BYTES, TOKEN_BYTES, Limits, OutputCapture, build_result, new_token


def _pipes():
    (r1, w1), (r2, w2) = os.pipe(), os.pipe()
    return os.fdopen(r1, "rb"), os.fdopen(r2, "rb"), w1, w2


def test_output_is_read_to_the_end_with_head_and_tail_kept():
    out, err, w_out, w_err = _pipes()
    capture = OutputCapture(out, err, limit=10 * KEEP_BYTES, on_exceed=lambda: None)
    os.write(w_out, b"a" * KEEP_BYTES + b"b" * KEEP_BYTES + b"c" * 100)
    os.write(w_err, b"oops\n")
    os.close(w_out)
    os.close(w_err)
    capture.finish(5)
    assert not capture.abandoned and capture.total == 2 * KEEP_BYTES + 105
    text = capture.stdout.text()
    assert text.startswith("a" * 100) and text.endswith("c" * 100) and "bytes skipped" in text
    assert capture.stderr.text() == "oops\n"


def test_the_budget_calls_back_once():
    out, err, w_out, w_err = _pipes()
    calls = []
    capture = OutputCapture(out, err, limit=1000, on_exceed=lambda: calls.append(1))
    for _ in range(5):
        os.write(w_out, b"x" * 600)
    os.close(w_out)
    os.close(w_err)
    capture.finish(5)
    assert capture.exceeded and calls == [1]


def test_a_pipe_someone_else_keeps_open_is_abandoned_after_the_grace():
    out, err, w_out, w_err = _pipes()  # the write ends stay open: a process that escaped the step
    threads = threading.active_count()
    capture = OutputCapture(out, err, limit=1000, on_exceed=lambda: None)
    os.write(w_out, b"partial")
    capture.finish(0.05)
    assert capture.abandoned and capture.stdout.text() == "partial"
    assert threading.active_count() == threads  # its reader stopped
    result = build_result(returncode=0, runtime_s=0.1, peak_memory_mb=1.0, output=capture, timed_out=False,
                          signal_name=None, sandbox="subprocess", leftovers=0, limits=Limits())
    assert result.output_abandoned and result.ok and result.stdout == "partial"
    os.close(w_out)
    os.close(w_err)


def test_tokens_have_one_length():
    assert {len(new_token()) for _ in range(20)} == {2 * TOKEN_BYTES}
