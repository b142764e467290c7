//! The prose of "What limits each row": one note per group of rows. Every number in it is
//! interpolated from the results (figures, parameters, the machine, the client's settings);
//! a fact the results do not carry is said without a number.

use crate::core_bench::WHOLE_PUBLISH;
use crate::report::{duration, number};
use crate::results::{Figures, Results, Scenario};

/// (label, note) for each group of rows, in the table's order.
pub fn notes(results: &Results) -> Vec<(String, String)> {
    let mut notes: Vec<(String, String)> = Vec::new();
    for s in &results.scenarios {
        let label = label(s);
        let note = note(results, s);
        match notes.iter_mut().find(|(l, _)| *l == label) {
            // Rows of one group share a note; a binding that did not run adds its reason.
            Some((_, existing)) if !existing.contains(&note) => {
                existing.push(' ');
                existing.push_str(&note);
            }
            Some(_) => {}
            None => notes.push((label, note)),
        }
    }
    notes
}

fn label(s: &Scenario) -> String {
    match s.figures {
        Figures::Binding(_) | Figures::BindingNotRun(_) => format!("{}. Bindings", s.id),
        Figures::Core(_) => format!("{}. Core (criterion)", s.id),
        _ if s.id == "7" => "7. Scaling".into(),
        _ => format!("{}. {}", s.id, s.name),
    }
}

fn note(results: &Results, s: &Scenario) -> String {
    let cores = match results.machine.cores {
        1 => "single core".to_owned(),
        n => format!("{n} cores"),
    };
    match &s.figures {
        Figures::Overhead(_) if s.id == "4b" => "`postato batch` does what the client alone does, plus reading and checking each line, the first-line-wins \
             index, a claim, an intent written before the first send and the published record after it. Those \
             writes go through SQLite's group commit: the writes of concurrent publishes share one transaction \
             (one commit for the writes of every line in flight, never a timer), and a writer hears `Ok` only after its \
             commit, so crash safety is that of a commit per write (a crash of the process loses nothing \
             acknowledged; with WAL and synchronous=NORMAL, as before, a power loss may lose the last commits): \
             a post published but not yet recorded when \
             the process dies still has its intent (or nothing) in the store, and the next run sends it again \
             under the same idempotency key, which the server replays. Each side publishes the same number of \
             posts on a simulator process of its own, fresh for each round (before, the client ran on a simulator in \
             the harness's process after a million-post campaign had run through it, and its figure ranged from \
             19,700 to 47,000/s between runs; on this harness it ranged from 38,000 to 48,000/s in one session's \
             runs and from 27,000 to 29,500/s in the next, the machine slower; the ratio from 0.51 to 0.58, then \
             0.62 (16,788 against 27,164/s) and 0.67 (18,458 against 27,688/s, a run not merged) with the change \
             below, whose own measure is the side-by-side one below it, the ratio moving with the machine too). \
             The CLI \
             allocates with mimalloc; the client-alone \
             process with glibc's malloc, as a program using the library does unless it picks another. Before and \
             after, by hand as this row runs it (100,000 posts on a fresh simulator process, two rounds, the CLI of \
             commit caafcdd against 376173b, alternating): 15,391 and 15,197/s against 21,416 and 20,095/s; CPU per \
             post, counted by /proc over each whole run, 81 and 83 µs against 55 and 59 µs. What changed, and \
             what it saved where it was measured (perf builds, 300,000 posts): a claim is taken before the one \
             lookup (two lookups before); a round's reads and writes share one transaction whose `BEGIN` and \
             `COMMIT` are parsed once; the command runs on the runtime's workers; the reader hands lines over half \
             the concurrency at a time from a regular file (one wake-up per chunk instead of one per line; a FIFO \
             or stdin still line by line) — measured together, 64 to 57 µs a post; then mimalloc instead of \
             glibc's malloc, whose arenas locked as one thread freed what another allocated, 57 to 46 µs (and 13 \
             MiB more memory, row 4). Then (after 376173b) a line's store steps no longer hold a request slot: \
             `--concurrency` bounds the requests in flight (a permit held from the intent's write to the last \
             answer), and twice as many lines are in flight, the lookups and records of some running while \
             others' requests are out. By hand, 376173b against this, alternating, each on a fresh simulator \
             process: 300,000 posts at concurrency 64, 15,060 and 15,831/s against 16,807 and 17,036/s (CPU a \
             post 76 and 71 µs against 69 and 68 µs); 100,000 posts at concurrency 8, 9,940 and 10,070/s against \
             11,933 and 11,723/s (110 and 105 µs against 94 and 95 µs). Four lines per request was slower than \
             two (18.8 against 17.6–17.9 s for 300,000 posts). A commit delay in the SQLite store's group \
             commit (under load, a round waited up to 500 µs for more writes, as PostgreSQL's `commit_delay` \
             does) was tried too: no change at concurrency 64, 20 % slower at 8; dropped. \
             The client alone spends 24 µs a post and the simulator 23 µs for either side \
             (/proc, 100,000 posts, in one session; 35 and 28 µs in another, on a slower machine). \
             Then the store's thread, finding its queue empty after a round of 24 operations or more, yields its \
             core once and looks again before it parks: the publishes that round answered may queue their next \
             steps meanwhile (the intent after a lookup, a new line's lookup after a record). Before it, `postato \
             batch` switched contexts 0.65 to 0.72 times a post (perf, 100,000 posts at concurrency 64), the \
             client alone 0.11; part of the difference was the store's thread parking after each flush and being \
             woken for the next (21,000 parks of the runtime's blocking threads in one run). By hand, 8 \
             alternating pairs (100,000 posts, each on a fresh simulator process, perf builds), at concurrency \
             64: CPU a post 55.2 µs with the yield, 58.4 without (medians); context switches 0.40 a post with, \
             0.66 without; throughput a median of 21,319/s with (20,512 to 22,779), 20,506/s without (19,630 to \
             21,715), the yield ahead in 6 of the 8 pairs, a difference within the noise of this machine. At \
             concurrency 16 and 32 (4 pairs each) no difference showed: 18,021/s with (15,842 to 18,889) and \
             17,621/s without (17,205 to 18,754); 20,445/s (18,487 to 21,963) and 20,652/s (18,597 to 21,677). \
             At the default concurrency of 8, rounds never reach 24 (16 lines in flight, one operation each at \
             most), so nothing changes there; a yield after every round cost 9 % at 8 (medians of 5: 12,597/s, \
             12,230 to 13,236, against 13,863/s, 13,340 to 14,212). This does not move the row: the merged run \
             (best of 3 rounds from this run on, as issue #31 judges the rows; best of 2 before) read 24,341/s \
             for the batch and 41,241/s for the client alone, a ratio of 0.59; a first run of this change with \
             2 rounds, 24,367 and 39,172/s (0.62); the run before the change, 16,788 and 27,164/s (0.62). The \
             machine ran faster for both sides, as the client alone's figure shows (it runs no store code). \
             Tried and dropped, measured the same way: tables without rowids (27 % fewer WAL writes, no change \
             in throughput); lookups on a second, read-only connection, run on the runtime's workers (slower: \
             each read transaction takes the WAL's shared-memory locks); mimalloc's version 2 (no change). \
             Where a post's time goes beyond the client alone's, measured by hand after the yield above, as this \
             row runs it (100,000 posts at concurrency 64, each run on a fresh simulator process, the sides \
             alternating, 6 runs of each CLI and 2 of the client alone, each of those the best of 2 rounds in one \
             process as the harness runs it; CPU counted over each whole run): the same CLI with its SQLite store \
             swapped for the memory store (one line of `cmd/batch.rs`, a build made for this measure only) \
             published 29,764 to 35,433/s (5 of the 6 runs at 33,418/s or more) at 33.3 to 38.0 µs of CPU a post, \
             against 22,536 to 24,976/s at 46.3 to 50.3 µs with the SQLite store, and 40,586 and 43,983/s at about \
             23.5 µs for the client alone: the SQLite store costs about 13.5 µs a post (the means, 48.5 against \
             34.9 µs), and without it the batch reads 0.77 to 0.82 of the client alone (0.77 in the one set that \
             measured the client alone's rate beside it, 33,903 against 43,983/s; 0.82 for the memory store's \
             median against the client alone's mean; 0.57 with the SQLite store). The other 9.8 to 14.5 µs are the \
             reader (perf: 6 % of the CLI's CPU, more than half of it parsing JSON), a task spawned and joined per \
             line, the claims, the index and the tally. Inside the store as it is (4 KiB pages; a build counting \
             its rounds, 3 runs): 16,406 to 18,328 rounds per 100,000 posts, 16 to 18 operations a round on \
             average, about 19 writes in a round that writes (about 0.1 commits a post); by perf's call graphs, the \
             operations' statements take about 6 µs of CPU a post (the statement cache's lookups 1 µs of it) and \
             the commits about 3 µs (about 30 µs a commit, over the counting build's number of commits), and the \
             rest, by inference, is the hand-offs and wake-ups; by the counting build's timers (wall time on the \
             store's thread, which the other threads preempt), the writes' statements 4.8 to 4.9 µs a post, the \
             commits 6.3 to 7.2 µs (59 to 71 µs a commit) and the reads 1.2 to 1.3 µs. A commit writes about 8 \
             pages to the WAL (`strace -c` on the counting build: 161,173 `pwrite` calls for 100,000 posts over \
             10,112 commits, two a page, a 24-byte frame header then the 4 KiB page, the checkpoints' few \
             included); since a round's writes share their pages, bigger rounds would write fewer pages a post, but \
             all the commits together come to 3 µs of CPU a post, and the commit delay above, which made rounds \
             bigger, showed no change. Each measured alone, by builds made for the measure (3 alternating pairs \
             each): the lookup removed altogether (not safe; the most that batching the lookups could save) gained \
             1.2 µs of CPU a post, 25,136 to 25,903/s against 24,263 to 25,720/s; the record's two deletes of a \
             dead letter and a deferral removed (idem, for fewer statements a post) about 1 µs, 23,228 to 23,873/s \
             against 22,313 to 23,399/s; the lines polled in the pass's own task (a `FuturesUnordered`) rather than \
             a task spawned for each, 41.6 to 42.6 µs of CPU a post against 42.4 to 46.5 µs and no gain in \
             throughput (24,751 to 25,192/s against 24,350 to 26,559/s, slower in 2 of the 3 pairs). Pages of 1 KiB \
             were ahead of 4 KiB in 5 of 6 comparisons (two pairs, 26,315 and 27,683/s against 24,547 and 25,610/s; \
             then 4 alternations beside tables without rowids, alone and with 1 or 2 KiB pages, where 1 KiB \
             averaged 3 % ahead of the store as it is and the others 0 to 2.5 %), and 2 KiB pages in the first two \
             pairs at 26,507 and 27,187/s, all within this machine's noise and not kept: a smaller page makes \
             deeper trees and more overflow pages for the outbox's payloads and the dead letters' bodies, a trade \
             for new stores only that this evidence does not settle. So the store as the issue asks for it (\"one \
             statement per post, lookups batched, no thread hand-off per post\") would save the 2.2 µs measured \
             above and at most the 4 µs or so of hand-offs (not measured), and leave the ratio at 0.6 to 0.7, an \
             estimate. Reaching 0.8 means cutting about 12 µs a post (an estimate) from a store that costs 13.5 and \
             a rest of the batch that costs 10 to 14.5 (where the one piece tried, a task per line, gave nothing). \
             That takes a durable store of another kind, costing next to nothing a post; or the issue's store asks \
             and most of the rest of the batch together; or the row judged against a peer that keeps the same \
             promises (an intent before each send, a durable record after it)."
            .into(),
        Figures::Overhead(_) if s.id == "7" => SCALING.into(),
        Figures::Overhead(_) if s.id == "9" && s.name.ends_with("the OpenTelemetry API, no SDK") => "The binding \
             as most applications run it: the OpenTelemetry API installed (another library brought it), no SDK. \
             The clients gather their metrics in Rust (a lock and an add per event) and hand them over \
             only when a reader collects (none here), and open no span until a tracer provider is set: \
             nothing of OpenTelemetry's runs on a publish's path (in Node, a check that the meter \
             provider is the same). The baseline is the same script with `OTEL_SDK_DISABLED=true` \
             (nothing loaded), each its own process against one simulator, in rounds that rotate which mode \
             goes first, best of 3 each. A first version added each call's metrics as it returned and opened a \
             non-recording span: 0.63 (threads), 0.77 (asyncio) and 0.93 (Node) of this baseline."
            .into(),
        Figures::Overhead(_) if s.id == "9" && s.name.ends_with("spans and metrics through the SDK") => "The \
             binding with the language's OpenTelemetry SDK set up: a meter provider whose periodic reader \
             collects every second (into an exporter that drops it), a tracer provider whose batch processor \
             exports every publish's CLIENT span to one that drops it. The only telemetry work on a publish's \
             own path is its span (the SDK's, built, made current, given its attributes and ended, in the \
             language), beside a publish that otherwise crosses into Rust once; the metrics are added once \
             per collection and once a second. The \
             baseline is the same script with `OTEL_SDK_DISABLED=true`, in the same rotated rounds, best of 3 \
             each."
            .into(),
        Figures::Overhead(o) if s.id == "9" && o.parameters.latency_ms.is_some() => format!(
            "The spans and metrics of the rows above, against a simulator whose every answer comes {} ms late (a \
             round trip and the server's work, shorter than most APIs'), {} publishes at once: a publish then \
             waits far longer than it computes (the ceiling is {:.0} publishes/s), so what the spans and \
             instruments cost (several µs of CPU a publish, the rows above) does not show in what is published \
             per second. It is what a service publishing to a real API sees, and it says nothing about the cost \
             itself: it carries no target. The rows above, where the simulator answers at once and the client's \
             CPU is all that limits it, are the measure, and they miss theirs.",
            o.parameters.latency_ms.unwrap_or_default(),
            o.parameters.concurrency,
            o.parameters.concurrency as f64 * 1000.0 / o.parameters.latency_ms.unwrap_or(1) as f64
        ),
        Figures::Overhead(_) if s.id == "9" && s.name.ends_with("metrics recorded") => "Each publish's events \
             recorded as OpenTelemetry instruments of the SDK (`ClientBuilder::meter`, a periodic reader): a \
             few counter and histogram updates per publish. The baseline is the same client with no meter and \
             the spans' filter off, on a simulator of its own; rounds alternate which side goes first, best \
             of 5 each."
            .into(),
        Figures::Overhead(_) if s.id == "9" => "Each publish is a span with a span per attempt and per wait under it \
             (`tracing`, exported by `tracing-opentelemetry` into the OpenTelemetry SDK's batch processor, whose \
             exporter here drops what it is given, so no network is measured); with metrics, its events are \
             OpenTelemetry instruments too. The baseline is the same client with the spans' filter off (every \
             callsite disabled, as with no subscriber) and no meter, on a simulator of its own; rounds \
             alternate which side goes first, best of 5 each. The spans cost several µs per publish (a publish \
             span and an attempt span) on this machine, whose two cores the client, the simulator and the \
             SDK's export thread share: tracing's span registry, tracing-opentelemetry's span building and the \
             SDK's queue. Entering the publish span on every poll of the publish cost more, and is gone (the \
             spans row went from 0.73 to 0.81 in a run of its own); turning off tracing-opentelemetry's \
             location, thread and busy-time attributes changed nothing measurable. Against answers 20 ms late it \
             does not show (the last row of 9, which measures what a user sees, not the cost); on this row, where a publish costs about 30 µs of CPU, it \
             misses the target."
            .into(),
        Figures::Overhead(_) => format!(
            "Client and simulator share the {cores}, so every cycle the client spends is taken from the server; this \
             row and row 7's concurrency 64 are the same kind of load (each comparison on a simulator of its own), \
             and their ratios differ from one run to the next by up to 0.1 on this machine. Each side is warmed \
             up untimed, then the rounds alternate which side goes first (before, the plain loop always went \
             first, and one simulator served every row and kept every post). Where a publish's time goes beyond \
             the plain loop, from perf (cpu-clock at 2,999 Hz) on a loop outside the harness, 40,000 publishes at \
             concurrency 64, the simulator on a runtime of its own so that the client's threads are counted \
             alone, after the first of the changes below (the fingerprint, the request's parts, the scope): 11.8 \
             µs of CPU a publish on the plain loop's threads, 16.4 µs on ours. Of the 4.6 µs between them, named \
             functions account for 1.3 µs: building the request (validation, the JSON body, the idempotency key) \
             0.39 µs, reading the answer into a result 0.29 µs, the attempt timeout's tokio timer 0.25 µs, the \
             shared limits 0.25 µs, the clock 0.1 µs; the other 3.3 µs are spread over allocation, the runtime \
             and the kernel in slices too thin to name (each under 0.1 µs). Allocations a publish, client and \
             simulator together (`cargo run --release -p postato-bench --example allocations`): 146 for the \
             plain loop; for ours 172 after the first changes, 162 after the second (the result cloned once \
             less, the request id read without copying the answer's headers, the `Authorization` and \
             `User-Agent` values made once per client, no cancellation token made for a publish given none). \
             Done once per client or not at all since: the path, `User-Agent` and `Authorization` of every \
             request, the SHA-256 payload fingerprint (worked out only when a store asks for it), the account \
             scope's copy for the shared limits (now shared). Per publish now: no task spawned, no copy of the \
             body per attempt (every attempt sends the one shared buffer), one tokio timer per attempt (its \
             timeout) and a mutex taken twice per attempt (the shared limits): the timeout is a guarantee, and \
             the limits are what every publish of a client shares."
        ),
        Figures::Goodput(g) if g.parameters.rate_limit_headers => format!(
            "The first request probes the limit; `RateLimit-Policy` then paces every publish a little below the \
             advertised rate (a margin for clock drift). The reference fires {} requests at a time and sleeps the \
             whole Retry-After on each 429.",
            g.parameters.concurrency
        ),
        Figures::Goodput(g) if g.parameters.limiter.is_some() => format!(
            "The same learned rate as row 2b, against a limiter we did not write: a small HTTP server in the harness \
             whose limit is the governor crate's GCRA (a token bucket by another name: {:.0} requests/s, a burst of \
             {}), answering 429 with `Retry-After: 1` and nothing else, so the fit is not tuned to our simulator's \
             bucket. The reference fires {} requests at a time and sleeps the whole Retry-After on each 429.",
            g.parameters.rate_per_second, g.parameters.burst, g.parameters.concurrency
        ),
        Figures::Goodput(g) => format!(
            "No `RateLimit-*` headers: the gate learns the rate. The first 429s hold everyone for the server's \
             Retry-After and start a slow start from the previous second's success rate, doubling it at short \
             intervals; its first 429s date the moment it passed the server's rate, which fits a token bucket's \
             rate, and pacing goes on a little below the fitted rate, growing CUBIC-style. The hold and the slow \
             start are most of the {:.2} s beyond the ideal. The reference fires {} requests at a time and sleeps \
             the whole Retry-After on each 429.",
            g.ours.seconds - g.ideal_seconds(),
            g.parameters.concurrency
        ),
        Figures::Outage(_) => outage(results),
        Figures::Campaign(c) => format!(
            "The campaign is streamed through a bounded channel; memory holds the in-flight posts, the counters, \
             the list of keys held by other workers (empty when a single worker runs) and the index that makes \
             the first line of each business key win: 16 bytes a key, in shards of 57,344 keys that never grow \
             (a growing table would hold its old and new arrays at once when it doubles). That index is why \
             memory is not flat in N, as it was before first-line-wins: the target is therefore a bound on growth \
             per post beside the 64 MiB ceiling. The binary allocates with mimalloc (row 4b), which keeps more \
             memory at hand than glibc's malloc did: 21 and 38 MiB at 100,000 and 1,000,000 posts before, 32 to 34 \
             and 52 to 57 MiB in the runs after (51.5 and 53.6 MiB with twice as many lines in flight, row 4b) (26 against 39 MiB at 300,000 posts, glibc's and mimalloc's \
             builds of the same code). The store's writes are \
             group-committed (WAL, synchronous=NORMAL; row 4b); the baseline is the store written by one writer, \
             one record per commit: {:.0} records/s on the shared {cores}. It runs right after the \
             million-post campaign and moves more than any other figure of this row between runs of the same \
             store code (39,883 and 44,150 records/s in two runs, 9,903 and 12,863 in two others; 22,898 and \
             54,942 in the two runs of the change to row 4b's store thread, which leaves the one-write rounds \
             of this baseline as they were).",
            c.baseline.figures.records_per_second
        ),
        Figures::Binding(_) => format!(
            "Each publish crosses the boundary once; the peers and the Rust client run as processes of their own \
             against the harness's simulator, everything on the shared {cores}, and these rows move more than any \
             other from one full run to the next (several processes contend for the cores; the asyncio ratio to \
             aiohttp has been on both sides of its target in runs of the same code). Where the time went in Python \
             asyncio (py-spy on a 60,000-publish run): the bridge of pyo3-async-runtimes handed every finished \
             publish to a blocking thread that took the GIL and called `call_soon_threadsafe`, one loop wake-up per \
             publish; the extension's own bridge now queues finished publishes and wakes the loop once per batch, \
             turning them into Python objects on the loop's thread, and a `getpid` system call the extension made \
             several times per publish (to notice a fork) is read once and again after a fork. What remains in the \
             profile is the loop itself (waiting in `epoll_wait`), Python's cyclic GC over the many futures and \
             tasks, asyncio's own `getpid` in `get_running_loop`, and building each post's JSON. Python threads pay \
             the GIL twice per publish (released for the call, taken back for its result), which 64 threads \
             contend for, beside the Python work of each call; fewer hand-offs (64 threads waking one another \
             through the GIL) is what would close that gap, and for a list of posts `publish_many` already does: \
             it crosses once for the whole list, so only each post's conversion is Python's (Node's \
             `publishMany` the same). That conversion is what keeps `publish_many` below the Rust client: each \
             post is type-checked and serialised to JSON in Python (about 4 µs a post measured alone), parsed \
             again in Rust, and each result becomes a dict and then a `Post`; handing the list over as one \
             document and the results back as one, built lazily, would close most of it."
        ),
        Figures::BindingNotRun(b) => format!("The {} binding did not run: {}.", b.language, b.reason),
        Figures::Core(_) => core(results),
        Figures::Scoped(_) => "Limits where the API puts them. (a) A spent account's posts are deferred (kept in the \
             store, published once due), with one request per hold (its probe): the nine healthy accounts run at \
             their own pace; the reference loop sleeps each 429's Retry-After in the worker that got it, so its \
             workers end up asleep on the spent account's posts and the healthy ones wait behind them. (b) Each \
             429 names its scope in its body (`error.scope`, no `RateLimit-*` headers), so the workspace's gate \
             learns the workspace's rate from its 429s and each account's gate holds its own account. Publishes \
             waiting for the workspace's pace go in the order they began waiting, so an account's posts go about \
             as far apart as the campaign puts them (two seconds here); served by whoever asked first as a token \
             came, one that had waited long went just before its account's next post, and a 429 followed (this \
             row was 1.34 × ideal with 9.6 % 429s so). The reference loop retries each 429 after its \
             Retry-After. (c) Every post of the campaign \
             is published, none dead-lettered: each answer's `RateLimit-Remaining` lets that many posts go at \
             once, and a window's quota spent to 0 holds the account until its `RateLimit-Reset` (whole seconds, \
             rounded up), when the next window's posts go."
            .into(),
        Figures::OutboxDrain(d) => format!(
            "Each worker claims due rows with `FOR UPDATE SKIP LOCKED` and publishes them through the Publisher over \
             the same database (a claim, an intent and a record per post, then the row marked), {} at once; with \
             every answer {} ms late a worker is bound by that wait, not by the {cores}, so workers added on other \
             machines add their share. The simulator counts each post's publishes: none lost, none twice.",
            d.parameters.concurrency, d.parameters.latency_ms
        ),
        Figures::OutboxEnqueue(_) => "`SELECT postato_enqueue(…)` is one statement: an INSERT … ON CONFLICT DO \
             NOTHING into the outbox, and a `pg_notify` at commit; the post was validated and keyed in Rust before \
             (included in the figure). The baseline inserts the same four values into a table of the application's."
            .into(),
        Figures::OutboxWake(_) => "The commit's NOTIFY wakes the worker's LISTEN connection, the worker claims the \
             row and sends its request; measured from just before the enqueuing process sends COMMIT to the \
             request's arrival at the simulator (one clock: both are in the harness's process). The worker's poll is far longer than any \
             figure, so every figure is a wake by NOTIFY."
            .into(),
    }
}

/// How the gap to plain reqwest moves with concurrency and body size.
const SCALING: &str =
    "The same two loops as row 1, each comparison on a simulator of its own, each side warmed up untimed, \
     then best of 3 rounds that alternate which side goes first. Before (the client of commit 3571c18 under \
     this same harness, two runs on this machine beside runs of this code): concurrency 1 0.93 and 0.81, 8 \
     0.86 and 0.93, 64 0.85 and 0.84, 512 0.81 and 0.82, 100 B 0.83 and 0.82, 10 KiB 0.79 and 0.80, 1 MiB \
     0.71 and 0.69; the rows here are after. (Under the harness before, whose plain loop always went first \
     and whose one simulator kept every row's posts, the rows read 0.54, 1.08, 0.90, 0.85, 0.88, 0.84 and \
     0.61.) At concurrency 1 every request waits for \
     its answer, and the runtime's scheduling decides much of the figure: a round in which the client's \
     task, its connection and the simulator stay on one thread goes up to twice as fast as one in which \
     each answer wakes another thread (perf: a wake-up of a sleeping thread costs 10 to 20 µs on this \
     machine, the client's own work a few µs), and which kind of round either side gets is not up to it; \
     in the runs seen while profiling, the plain loop's fastest rounds were its first, onto an idle \
     runtime, where it always went first before. What the client adds there (perf, 20,000 publishes, \
     before the changes of row 1): its own functions are 4 to 5 % of the samples (building the request \
     1.2 %, reading the answer 1.2 %, the shared limits 0.4 %), and the attempt timeout's timer wakes the \
     runtime's driver (an eventfd write, 2.4 %). With 1 MiB bodies (perf, 600 publishes at concurrency \
     64, before): the client's SHA-256 payload fingerprint was 6.7 % of all the CPU (the simulator's own \
     SHA-256 of each body as much again, on both sides), serde_json's escaping of the content 6.7 % and \
     the copies of the body's buffer as it doubled 1.3 %. The fingerprint is now worked out only when a \
     store asks for it; the body is written into a buffer sized once, and a string with nothing to escape \
     (no quote, backslash or control character, checked a chunk at a time) is copied as it is, byte for \
     byte what serde_json writes. What is left there is the validation's scan of the content for a NUL \
     (1.4 %) and reading the answer. From 64 on, both sides share the cores with the simulator.";

/// The retry budget and backoff, from the client's recorded settings.
fn outage(results: &Results) -> String {
    let (budget, policy) = (&results.client.retry_budget, &results.client.retry_policy);
    let mut note = format!(
        "The retry budget allows a burst of {} retries, then {}/s, during the outage; each success after recovery \
         funds {} more, so the backlog drains in rounds rather than one retry every {} s.",
        number(budget.capacity / budget.retry_cost),
        number(budget.refill_per_second / budget.retry_cost),
        number(budget.success_deposit / budget.retry_cost),
        number(budget.retry_cost / budget.refill_per_second),
    );
    // The longest backoff comes after the last failure that still allows an attempt.
    if let Some(failures) = policy.max_attempts.checked_sub(1).filter(|f| *f > 0) {
        let jitter = match policy.jitter_max_ms {
            Some(ms) if ms > 0 => format!(" plus up to {} s of jitter", number(ms as f64 / 1000.0)),
            _ => String::new(),
        };
        note.push_str(&format!(
            " Posts still back off between attempts, longest after their {} failure ({} s{jitter}), which bounds \
             the drain time.",
            ordinal(failures),
            number(policy.backoff_ms(failures) as f64 / 1000.0),
        ));
    }
    note
}

/// The machine's whole publish beside the overhead row's cost per publish, when both ran.
fn core(results: &Results) -> String {
    let whole = results.scenarios.iter().find_map(|s| match &s.figures {
        Figures::Core(c) if s.name == WHOLE_PUBLISH => Some(c.ours.nanoseconds),
        _ => None,
    });
    let overhead = results.scenarios.iter().find_map(|s| match &s.figures {
        Figures::Overhead(o) => Some((&s.id, o.ours.publishes_per_second)),
        _ => None,
    });
    let (Some(ns), Some((row, per_second))) = (whole, overhead) else {
        return "Pure logic, no I/O.".into();
    };
    let per_publish_ns = 1e9 / per_second;
    format!(
        "Pure logic, no I/O: a whole publish through the machine takes {}, {:.1} % of the {} per publish (one over \
         the throughput) that the client sustained in row {row}. Building the request is timed as a client \
         builds it, from the parts it made once (`Request::with_parts`), and without the SHA-256 payload \
         fingerprint, now worked out only when a store asks for it: the 522 ns it read before included both.",
        duration(ns),
        ns / per_publish_ns * 100.0,
        duration(per_publish_ns),
    )
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
