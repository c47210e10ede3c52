"""The sandbox runner on its own: per-run cgroups, the supervisor, bwrap's mounts and
capabilities, the private-answers tripwire. Every run here has small limits and a timeout."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from gome_env.isolation.sandbox import Limits, PrivateTripwire, StepCgroup, cgroup_support, make_sandbox
from helpers import processes_with, wait_until

pytestmark = pytest.mark.timeout(60)

SMALL = Limits(timeout_s=5, memory_mb=256, max_processes=64, file_size_mb=8, output_bytes=1_000_000)
HAS_CGROUP = cgroup_support()[0] is not None


@pytest.fixture
def layout(tmp_path):
    """A workspace, and a task cache with public data and private answers side by side."""
    cache = tmp_path / "cache"
    (cache / "public").mkdir(parents=True)
    (cache / "private").mkdir()
    (cache / "public" / "train.csv").write_text("id,x\n1,2\n")
    (cache / "private" / "test.csv").write_text("id,label\n1,SECRET\n")
    os.chmod(cache / "private", 0o700)
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws, cache / "public", cache / "private"


def run(sandbox_name, layout, code, limits=SMALL):
    ws, public, _ = layout
    box, _ = make_sandbox(sandbox_name)
    box.prepare_workspace(ws, public)
    (ws / "prog.py").write_text(textwrap.dedent(code))
    return box.run([sys.executable, "prog.py"], ws, public, limits)


def test_sandbox_note_says_whether_runs_get_a_cgroup():
    _, note = make_sandbox("subprocess")
    assert "cgroup" in note


def test_exit_codes_and_signals_pass_through_the_supervisor(sandbox, layout):
    r = run(sandbox, layout, "import sys; print('hi'); sys.exit(3)")
    assert r.returncode == 3 and r.stdout.strip() == "hi" and r.signal is None
    r = run(sandbox, layout, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    assert r.signal == "SIGSEGV"


def test_killing_the_parent_ends_the_step_not_the_caller(sandbox, layout):
    r = run(sandbox, layout, """
        import os, signal, time
        print("parent", os.getppid(), flush=True)
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(30)
    """, Limits(timeout_s=3, memory_mb=256, max_processes=32))
    assert f"parent {os.getpid()}" not in r.stdout  # the caller is never the program's parent
    if sandbox == "subprocess":  # the parent is the sh supervisor: it dies, and the step ends at once
        assert r.signal == "SIGKILL" and not r.timed_out and r.runtime_s < 3
    else:  # the parent is the namespace's init, which ignores the signal: the step runs to its timeout
        assert r.timed_out or r.returncode != 0
    assert r.runtime_s < 10


@pytest.mark.skipif(not HAS_CGROUP, reason="no per-run cgroup here")
def test_every_run_gets_its_own_cgroup_that_is_removed(sandbox, layout):
    r = run(sandbox, layout, "print(open('/proc/self/cgroup').read())")
    assert r.ok and r.cgroup in ("v1", "v2")
    if sandbox == "subprocess":
        assert "gome-" in r.stdout
    assert r.cgroup_peak_memory_mb is None or r.cgroup_peak_memory_mb > 0
    if sandbox == "subprocess":
        name = [ln for ln in r.stdout.splitlines() if "pids:" in ln or ln.startswith("0::")][0].rsplit("/", 1)[1]
        assert not list(Path("/sys/fs/cgroup").glob(f"*/{name}")) and not list(Path("/sys/fs/cgroup").glob(name))


@pytest.mark.skipif(not HAS_CGROUP and os.getuid() == 0, reason="root without a pids cgroup: a fork bomb would be unbounded (RLIMIT_NPROC does not apply to root)")
def test_fork_bomb_is_bounded_and_leaves_nothing(sandbox, layout):
    marker = f"gome-bomb-{os.getpid()}-{sandbox}"
    limits = Limits(timeout_s=3, memory_mb=256, max_processes=32, output_bytes=100_000)
    r = run(sandbox, layout, f"""
        import os, sys, time
        sys.argv.append({marker!r})
        n = 0
        while True:
            try:
                os.fork()
                n += 1
            except OSError:
                time.sleep(0.01)
    """, limits)
    assert r.timed_out or r.returncode != 0
    if r.cgroup:
        assert r.process_limit_hit
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the bomb's processes")


def test_background_processes_die_with_the_step(sandbox, layout):
    marker = f"gome-daemon-{os.getpid()}-{sandbox}"
    r = run(sandbox, layout, f"""
        import subprocess, sys
        # one in its own session with the token, one in its own session with an empty environment
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {marker!r}], start_new_session=True)
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", {marker!r}], start_new_session=True, env={{}})
        print("spawned")
    """)
    assert r.ok and "spawned" in r.stdout
    if sandbox == "subprocess" and not HAS_CGROUP:
        for pid in processes_with(marker):  # clean up what this backend cannot catch without a cgroup
            os.kill(pid, 9)
        pytest.skip("without a cgroup, the subprocess backend misses a process that left its group and cleared its environment")
    wait_until(lambda: processes_with(marker) == [], 5, "the end of the step's background processes")
    # The subprocess backend finds and kills them; under bwrap the PID namespace may end them
    # first (its init goes when the program does), so nothing is left for the runner to count.
    assert r.leftover_processes_killed >= (1 if sandbox == "subprocess" else 0)


@pytest.mark.skipif(not HAS_CGROUP, reason="the memory of all processes together needs a memory cgroup")
def test_memory_of_several_processes_together_is_limited(sandbox, layout):
    r = run(sandbox, layout, """
        import os, time
        kids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:
                hog = b"x" * (120 * 1024 * 1024)  # each under the per-process limit, together over it
                time.sleep(1)
                os._exit(0)
            kids.append(pid)
        bad = 0
        for pid in kids:
            _, status = os.waitpid(pid, 0)
            bad += status != 0
        raise SystemExit(1 if bad else 0)
    """, Limits(timeout_s=20, memory_mb=256, max_processes=32))
    assert r.oom_killed and r.memory_exceeded, (r.returncode, r.stderr[-500:])


def test_bwrap_drops_capabilities_and_hides_the_host(layout):
    if "bwrap" not in _backends():
        pytest.skip("bwrap does not work here")
    ws, public, private = layout
    r = run("bwrap", layout, f"""
        import os
        caps = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]
        print('caps', caps)
        print('private', os.path.exists({str(private)!r}), os.path.exists({str(private / 'test.csv')!r}))
        print('root', os.path.exists('/root/.bashrc'), os.path.exists({str(Path(__file__).parent)!r}))
        print('data', sorted(os.listdir('data')))
        try:
            open('data/train.csv', 'a').write('x')
            print('data writable')
        except OSError as exc:
            print('data read-only', exc.errno)
        try:
            open('/usr/gome-probe', 'w')
            print('system writable')
        except OSError:
            print('system read-only')
    """)
    assert r.ok, r.stderr
    assert "caps 0000000000000000" in r.stdout
    assert "private False False" in r.stdout
    assert "root False False" in r.stdout
    assert "data ['train.csv']" in r.stdout and "data read-only" in r.stdout and "system read-only" in r.stdout
    assert (public / "train.csv").read_text() == "id,x\n1,2\n"


def test_subprocess_data_is_hard_links_so_deleting_them_spares_the_cache(layout):
    ws, public, _ = layout
    r = run("subprocess", layout, """
        import os, shutil
        print('islink', os.path.islink('data'))
        os.remove('data/train.csv')
        shutil.rmtree('data')
    """)
    assert r.ok, r.stderr
    assert "islink False" in r.stdout
    assert (public / "train.csv").read_text() == "id,x\n1,2\n"


def test_tripwire_notices_reads_links_and_cover_ups(tmp_path):
    private, public = tmp_path / "private", tmp_path / "public"
    private.mkdir()
    public.mkdir()
    answers = private / "test.csv"
    answers.write_text("id,label\n1,0\n")
    (public / "train.csv").write_text("a\n")
    wire = PrivateTripwire(private, public)
    wire.arm()
    assert wire.check() == [] and wire.changed_public() == []
    wire.arm()
    answers.read_text()
    assert wire.check() == ["test.csv"]
    wire.arm()
    st = os.stat(answers)
    answers.read_text()
    os.utime(answers, ns=(st.st_atime_ns, st.st_mtime_ns))  # a cover-up changes ctime
    assert wire.check() == ["test.csv"]
    wire.arm()
    os.link(answers, tmp_path / "copy.csv")
    assert wire.check() == ["test.csv"]
    wire.arm()
    (public / "train.csv").write_text("changed\n")
    assert wire.changed_public() == ["train.csv"]


def test_output_flood_is_cut_and_kept_small(sandbox, layout):
    r = run(sandbox, layout, """
        import sys
        chunk = "y" * 65536 + "\\n"
        while True:
            sys.stdout.write(chunk)
    """, Limits(timeout_s=20, memory_mb=256, output_bytes=2_000_000))
    assert r.output_limited and not r.timed_out
    assert len(r.stdout) < 300_000  # head and tail only, whatever was printed
    assert r.runtime_s < 15


def test_cgroup_create_and_kill_all_directly():
    group = StepCgroup.create(f"gome-test-{os.getpid()}", Limits(max_processes=8))
    if group is None:
        pytest.skip("no cgroup here")
    import subprocess

    try:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], preexec_fn=group.join)
        wait_until(lambda: proc.pid in group.pids(), 5, "the child joining the cgroup")
        assert group.kill_all() >= 1
        proc.wait(5)
        assert group.pids() == set()
    finally:
        group.kill_all()
        group.remove()
    assert all(not f.exists() for f in group.folders.values())


def _backends():
    from conftest import SANDBOXES

    return SANDBOXES


def test_bwrap_mounts_tmp_before_what_may_lie_under_it(tmp_path):
    # A venv or a checkout under /tmp (CI clones, say) must stay visible inside the sandbox.
    from gome_env.isolation.sandbox import BwrapSandbox

    (tmp_path / "ws").mkdir()
    (tmp_path / "pub").mkdir()
    argv, _ = BwrapSandbox().wrap(["python", "x.py"], tmp_path / "ws", tmp_path / "pub")
    tmpfs = argv.index("/tmp", argv.index("--tmpfs"))
    binds = [i for i, a in enumerate(argv) if a in ("--ro-bind", "--bind")]
    assert binds and all(i > tmpfs for i in binds)


def test_idle_blas_threads_sleep_instead_of_spinning(sandbox, layout):
    """Several environments share the cores: a solution's idle OpenBLAS threads must not spin
    (OpenBLAS's default is ~0.1 s of busy-waiting after every call)."""
    r = run(sandbox, layout, """
        import resource, time
        import numpy as np

        a = np.random.default_rng(0).random((400, 400))
        busy = 0.0
        for _ in range(5):
            a @ a  # large enough for OpenBLAS to use its threads
            before = resource.getrusage(resource.RUSAGE_SELF)
            time.sleep(0.2)
            after = resource.getrusage(resource.RUSAGE_SELF)
            busy += (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(f"busy {busy:.3f}")
    """, limits=Limits(timeout_s=30, memory_mb=2048, threads=2))
    assert r.returncode == 0, r.stderr
    assert float(r.stdout.split()[-1]) < 0.15  # spinning threads would burn about 0.45 s here


@pytest.mark.parametrize("sandbox_name", ["subprocess", "bwrap"])
def test_peak_memory_is_the_programs_not_the_big_host_process(layout, sandbox_name):
    """A child forked from this process starts with its resident size as ``ru_maxrss``: a host
    holding a model (an RL trainer) made every run look hundreds of MB big, and a SIGKILLed run
    "near the memory limit". The peak is the program's (the cgroup's where the rusage says nothing)."""
    if sandbox_name == "bwrap" and make_sandbox("auto")[0].name != "bwrap":
        pytest.skip("bwrap is not usable here")
    ballast = bytearray(600 * 1024 * 1024)  # 600 MB resident in the host
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    result = run(sandbox_name, layout, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    del ballast
    assert result.signal == "SIGKILL"
    assert result.peak_memory_mb < 200, result.peak_memory_mb
    assert not result.memory_exceeded
