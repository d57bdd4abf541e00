"""Runs every configured feed until the feeds end or a stop is requested.

One reader thread per feed fills a queue of two frames that drops the oldest (one frame
that waits for room for an unpaced file, which must not drop); one
pipeline thread per feed consumes it; a single stop event (SIGTERM / SIGINT) ends them
all, and each open capture is closed with its true end before the journal is checkpointed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from camaudit import __version__
from camaudit.config.model import Config
from camaudit.core.capture import capture_ids
from camaudit.core.record import Event
from camaudit.errors import CamauditError, JournalError
from camaudit.health.clock_sync import ClockWatch
from camaudit.health.sd_notify import Notifier
from camaudit.health.watchdog import Supervisor
from camaudit.notices.registration import register_notices
from camaudit.pipeline.feed_loop import FeedLoop, FeedStats
from camaudit.pipeline.notice_board import NoticeBoard
from camaudit.pipeline.recovery import close_interrupted_captures

log = logging.getLogger(__name__)


RESTATE_NOTICES_S = 86_400.0  # notice.registered again every day, changed or not


def now_ms() -> int:
    return int(time.time() * 1000)


class Reporter(Protocol):
    def event(self, ev: Event) -> None: ...

    def progress(self, feeds: Mapping[str, FeedStats]) -> None: ...

    def warning(self, text: str) -> None: ...


class QuietReporter:
    def event(self, ev: Event) -> None:
        pass

    def progress(self, feeds: Mapping[str, FeedStats]) -> None:
        pass

    def warning(self, text: str) -> None:
        log.warning("%s", text)


@dataclass
class RunSummary:
    db: Path
    dropped_events: int = 0
    feeds: dict[str, FeedStats] = field(default_factory=dict)
    undecodable: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    events: int = 0
    interrupted: bool = False


def journal_path(cfg: Config, db: Path | None) -> Path:
    return db if db is not None else cfg.device.data_dir / "journal.db"


class _Sink:
    """Appends to the journal, then tells whoever listens (publisher, terminal).

    If the journal cannot be written (disk full), the event is dropped and counted, the
    audit goes on, and once writing works again a `device.fault` event records how many
    events were lost and since when. Nothing already in the journal is touched.
    """

    def __init__(
        self,
        journal: Any,
        reporter: Reporter,
        listeners: list[Callable[[Event], None]],
        *,
        clock: Callable[[], int] = now_ms,
        clip_feeds: frozenset[str] = frozenset(),
    ):
        self.journal = journal
        self.reporter = reporter
        self.listeners = listeners
        self.count = 0
        self.dropped = 0
        self.clock = clock
        # feeds read from a file or folder: their frame times are clip times, which may run
        # ahead of the clock; the journal keeps them in the body as `clip_ts`
        self.clip_feeds = clip_feeds
        self._failing_since: int | None = None
        self._lock = threading.Lock()
        self._last_ts = _last_ts(journal)

    def journal_ts(self) -> int:
        """Now by the clock, never before the journal's last record (a clock set back)."""
        with self._lock:
            self._last_ts = max(self.clock(), self._last_ts)
            return self._last_ts

    def __call__(
        self, type: str, feed: str | None, body: Mapping[str, Any], ts_ms: int
    ) -> Event | None:
        """Journal an event that happened at `ts_ms` (source time). Its `ts` is when it was
        journalled; for a clip feed the source time is kept in the body as `clip_ts`."""
        if feed is not None and feed in self.clip_feeds:
            body = {**body, "clip_ts": int(ts_ms)}
        ts_ms = self.journal_ts()
        try:
            ev: Event = self.journal.append(type, feed, body, ts_ms)
        except JournalError as exc:
            with self._lock:
                self.dropped += 1
                first = self._failing_since is None
                if first:
                    self._failing_since = ts_ms
            if first:  # the reporter logs it (quiet) or shows it (terminal)
                self.reporter.warning(f"journal write failed, events are being dropped: {exc}")
            return None
        with self._lock:
            since, self._failing_since = self._failing_since, None
            lost = self.dropped
        if since is not None:
            self.reporter.warning(f"journal writable again; {lost} event(s) were dropped")
            self._emit(self.journal.append(
                "device.fault", None,
                {"fault": "journal_write_failed", "since": since, "dropped_events": lost}, ts_ms,
            ))
        self._emit(ev)
        return ev

    def _emit(self, ev: Event) -> None:
        with self._lock:
            self.count += 1
        self.reporter.event(ev)
        for fn in self.listeners:
            fn(ev)


def _last_ts(journal: Any) -> int:
    seq = int(journal.head[0])
    if seq == 0:
        return 0
    last = journal.events(after_seq=seq - 1, limit=1)
    return int(last[0].ts) if last else 0


def is_clip(source: Any) -> bool:
    """A file or folder source: its frame times are media times, not the wall clock."""
    from camaudit.sources.file import VideoFileSource
    from camaudit.sources.stills import StillsFolderSource

    return isinstance(source, (VideoFileSource, StillsFolderSource))


def reader_queue_size(source: Any) -> int:
    """Frames a feed's reader may queue. A live feed: 2, the oldest dropped when full (a
    slow frame does not cost the next one). A lossless source (an unpaced file or folder):
    1, the reader waits for room, so no frame is dropped, the decoder still works one frame
    ahead of the pipeline, and one frame less is held (6 MB at 1920x1080; docs/tracks.md
    "Peak memory of one feed")."""
    from camaudit.sources import is_lossless

    return 1 if is_lossless(source) else 2


def _feed_thread(
    loop: FeedLoop,
    reader: Any,
    stop: threading.Event,
    errors: list[BaseException],
    sup: Supervisor | None = None,
) -> None:
    try:
        while not stop.is_set():
            item = reader.get(timeout=0.2)
            if item is None:
                if reader.finished:
                    break
                if sup is not None:
                    sup.beat(loop.name)
                continue
            loop.handle(item)
            if sup is not None:
                sup.beat(loop.name, item)
    except BaseException as exc:  # surfaced by the main thread
        if isinstance(exc, CamauditError):
            log.error("feed %s: stopped: %s", loop.name, exc)
        else:
            log.exception("feed %s: pipeline failed", loop.name)
        errors.append(exc)
        stop.set()
    finally:
        reader.stop()
        try:
            loop.finish()
        except BaseException as exc:
            errors.append(exc)
        if sup is not None:
            sup.ended(loop.name)


def run(
    cfg: Config,
    *,
    db: Path | None = None,
    stop: threading.Event | None = None,
    reporter: Reporter | None = None,
    install_signals: bool = True,
    listeners: list[Callable[[Event], None]] | None = None,
    on_notice_state: Callable[[str, str], None] | None = None,
    clock_watch: ClockWatch | None = None,
) -> RunSummary:
    from camaudit.detect import load_detector
    from camaudit.sources import open_source
    from camaudit.sources.reader import FeedReader
    from camaudit.store.journal import Journal

    reporter = reporter or QuietReporter()
    stop = stop or threading.Event()
    path = journal_path(cfg, db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"data_dir {path.parent}: cannot create it: {exc.strerror or exc}") from None
    policy = build_policy(cfg)
    # one stop event per feed, so a feed that ends does not stop the others; the run's
    # `stop` (SIGTERM) is passed on to all of them by the main loop below
    feed_stops = {name: threading.Event() for name in cfg.feeds}
    sources = {}
    try:
        for name, feed in cfg.feeds.items():
            sources[name] = open_source(
                feed.source, fps=feed.fps, loop=feed.loop, pace=feed.pace, stop=feed_stops[name]
            )
        detectors = {
            name: load_detector(
                cfg.detector.model, threads=cfg.detector.threads, min_score=cfg.detector.min_score
            )
            for name in cfg.feeds
        }
        journal = Journal.open(
            path,
            cfg.device.id,
            checkpoint_every=cfg.device.checkpoint_every,
            checkpoint_s=cfg.device.checkpoint_s,
        )
    except BaseException:
        for src in sources.values():
            src.close()
        raise
    summary = RunSummary(db=path)
    start_seq = 0
    publisher: Any = None
    sink: _Sink | None = None
    restore = None
    try:
        publisher = _start_publisher(cfg, journal)
        listeners = list(listeners or [])
        notice_listeners = [on_notice_state] if on_notice_state else []
        if publisher is not None:
            listeners.append(lambda _ev: publisher.notify())
            notice_listeners.append(publisher.set_notice)

        def notice_changed(notice_id: str, state: str) -> None:
            for fn in notice_listeners:
                fn(notice_id, state)

        start_seq = int(journal.head[0])
        sink = _Sink(
            journal,
            reporter,
            listeners,
            clip_feeds=frozenset(n for n, src in sources.items() if is_clip(src)),
            clock=now_ms,  # looked up at run time (a test's clock can stand in)
        )
        restore = _install_signals(stop) if install_signals else None
        next_number = close_interrupted_captures(journal, path, sink, now_ms())
        clock_watch = clock_watch or ClockWatch()  # issue 21: clock.synced, device.online's clock
        sink(
            "device.online",
            None,
            {
                "version": __version__,
                "feeds": sorted(cfg.feeds),
                "model": cfg.detector.model,
                "timezone": cfg.device.timezone,
                "venue": cfg.device.venue,
                "clock": clock_watch.start(),
            },
            now_ms(),
        )
        register_notices(cfg, path, sink, now_ms())
        ids: Iterator[str] = capture_ids(next_number)
        board = NoticeBoard(cfg, sink, data_dir=path.parent, on_state=notice_changed)
        for notice_id, state in board.states().items():
            notice_changed(notice_id, state)
        loops: dict[str, FeedLoop] = {}
        readers: dict[str, Any] = {}
        threads: list[threading.Thread] = []
        errors: list[BaseException] = []
        sup = Supervisor(
            list(cfg.feeds),
            Notifier(),
            data_dir=path.parent,
            info={"device": cfg.device.id, "version": __version__, "journal": str(path),
                  "mqtt": cfg.mqtt is not None},
        )
        for name, feed in cfg.feeds.items():
            loops[name] = FeedLoop(
                name,
                feed,
                cfg.capture,
                detector=detectors[name],
                policy=policy,
                sink=sink,
                min_face_px=cfg.detector.min_face_px,
                ids=ids,
                identify=cfg.detector,
                evidence_dir=path.parent / "evidence",
                board=board,
                health_dir=path.parent / "camera_health",
                on_faces=publisher.set_faces if publisher is not None else None,
            )
            src = sources[name]
            readers[name] = FeedReader(
                src, name=name, stop=feed_stops[name], maxsize=reader_queue_size(src)
            )
            readers[name].start()
            t = threading.Thread(
                target=_feed_thread,
                args=(loops[name], readers[name], feed_stops[name], errors, sup),
                name=f"pipeline-{name}",
                daemon=True,
            )
            threads.append(t)
            t.start()
            log.info("feed %s: started on %s", name, src.description)
        stats = {n: lp.stats for n, lp in loops.items()}
        summary.feeds = stats
        retention = _Retention(journal, cfg.device.retention, cfg.device.retention_days, reporter)
        stamper = _Stamper(journal.path, cfg.timestamps, reporter)
        restated = time.monotonic()
        while any(t.is_alive() for t in threads):
            retention.maybe_prune()
            stamper.maybe_stamp()
            if (synced := clock_watch.poll()) is not None:  # issue 21
                sink("clock.synced", None, synced, now_ms())
            if time.monotonic() - restated >= RESTATE_NOTICES_S:  # an export of any day carries them
                restated = time.monotonic()
                register_notices(cfg, path, sink, now_ms(), again=True)
            if stop.is_set() or errors:
                for ev in feed_stops.values():
                    ev.set()
            for t in threads:
                t.join(timeout=0.5)
            sup.tick(publisher.connected if publisher is not None else None)
            reporter.progress(stats)
        sup.stopping()
        reporter.progress(stats)
        summary.interrupted = stop.is_set()
        for name, src in sources.items():
            summary.undecodable[name] = int(getattr(src, "skipped_frames", 0))
            summary.dropped[name] = int(readers[name].dropped_frames)
            if summary.undecodable[name]:
                reporter.warning(
                    f"feed {name}: {summary.undecodable[name]} frame(s) could not be decoded "
                    f"and were skipped ({src.description})"
                )
        if errors:
            raise errors[0]
        try:
            journal.checkpoint(sink.journal_ts())
        except JournalError as exc:
            reporter.warning(f"final checkpoint not written: {exc}")
        stamper.final()
    finally:
        # every record this run wrote, checkpoints included (what `verify` counts)
        summary.events = int(journal.head[0]) - start_seq if sink is not None else 0
        summary.dropped_events = sink.dropped if sink is not None else 0
        for src in sources.values():
            src.close()
        if publisher is not None:
            _drain(publisher, journal, timeout=3.0)
            publisher.stop(timeout=5.0)
        journal.close()
        if restore is not None:
            restore()
    return summary


def _start_publisher(cfg: Config, journal: Any) -> Any:
    """The MQTT publisher when the config has an `mqtt:` section (never blocks on the broker)."""
    if cfg.mqtt is None:
        return None
    from camaudit.mqtt.publisher import Publisher

    pub = Publisher(cfg.mqtt, journal, feeds=list(cfg.feeds), notices=list(cfg.notices),
                    evidence=_evidence_sender(cfg, journal), timezone=cfg.device.timezone)
    pub.start()
    return pub


def _evidence_sender(cfg: Config, journal: Any) -> Any:
    """The evidence sender when a feed opted in (`send_evidence: true`), else None."""
    send = {name for name, f in cfg.feeds.items() if f.send_evidence}
    from camaudit.mqtt.evidence_sender import EvidenceSender
    from camaudit.store.evidence_outbox import EvidenceOutbox

    if not send:
        if EvidenceOutbox.exists(journal.path):  # turned off: queued frames are not sent
            outbox = EvidenceOutbox(journal.path, start_cursor=int(journal.head[0]))
            outbox.drop_feeds_except(set())
            outbox.close()
        return None
    outbox = EvidenceOutbox(journal.path, start_cursor=int(journal.head[0]))
    assert cfg.mqtt is not None
    log.info("evidence frames of feed(s) %s are sent to the hub", ", ".join(sorted(send)))
    return EvidenceSender(outbox, journal, journal.path.parent / "evidence", send,
                          ack_timeout_s=cfg.mqtt.ack_timeout_s)


class _Retention:
    """Prunes acknowledged events older than the retention profile's period (or
    retention_days): at start, then hourly; each run journals its signed deletion record."""

    EVERY_S = 3600.0

    def __init__(self, journal: Any, profile: str | None, days: int, reporter: Reporter) -> None:
        from camaudit.trust.retention import policy_period

        self.journal = journal
        self.policy, self.keep_ms = policy_period(profile, days)
        self.reporter = reporter
        self._last = float("-inf")
        try:  # a journal pruned by an older camaudit: record that deletion once
            journal.record_legacy_deletion(now_ms())
        except JournalError as exc:
            reporter.warning(f"retention: cannot record the earlier deletion: {exc}")

    def maybe_prune(self) -> None:
        if time.monotonic() - self._last < self.EVERY_S:
            return
        self._last = time.monotonic()
        now = now_ms()
        try:
            n = self.journal.prune(now - self.keep_ms, policy=self.policy, period_ms=self.keep_ms, now_ms=now)
        except JournalError as exc:
            self.reporter.warning(f"retention: prune failed: {exc}")
            return
        if n:
            log.info("retention: pruned %d acknowledged event(s) older than the limit", n)


class _Stamper:
    """Asks the configured time-stamp authorities for a token over the newest checkpoint,
    every `every_s`, on its own thread (a slow authority never holds the loop)."""

    def __init__(self, db: Path, cfg: Any, reporter: Reporter) -> None:
        self.db, self.cfg, self.reporter = db, cfg, reporter
        self._last = float("-inf")
        self._thread: threading.Thread | None = None

    def maybe_stamp(self) -> None:
        if not self.cfg.urls or time.monotonic() - self._last < self.cfg.every_s:
            return
        if self._thread is not None and self._thread.is_alive():
            return
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="timestamps", daemon=True)
        self._thread.start()

    def final(self) -> None:
        """At a clean stop: stamp the final checkpoint (each authority bounded by timeout_s)."""
        if not self.cfg.urls:
            return
        if self._thread is not None:
            self._thread.join(timeout=self.cfg.timeout_s * len(self.cfg.urls))
        self._run()

    def _run(self) -> None:
        from camaudit.trust.stamper import stamp_latest

        try:
            errors = stamp_latest(self.db, self.cfg.urls, timeout_s=self.cfg.timeout_s)
        except JournalError as exc:
            errors = [str(exc)]
        for e in errors:
            self.reporter.warning(f"timestamps: {e}")


def _drain(publisher: Any, journal: Any, timeout: float) -> None:
    """Give a connected publisher a moment to get the last events acked by the hub.

    Whatever is not acked stays in the outbox and is re-sent on the next start."""
    deadline = time.monotonic() + timeout
    while publisher.connected and (publisher.hub_acked < journal.head[0]
                                   or publisher.evidence_pending()):
        if time.monotonic() > deadline:
            log.info("stopping with %d event(s) not yet acked by the hub", journal.outbox_size())
            return
        publisher.notify()
        time.sleep(0.05)


def build_policy(cfg: Config) -> Any:
    from camaudit.pipeline.policy import policy_from_config

    return policy_from_config(cfg)


def _install_signals(stop: threading.Event) -> Callable[[], None] | None:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for s, h in old.items():
            signal.signal(s, h)

    return restore
