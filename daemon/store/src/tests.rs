//! Tests of the store on real redb files.

use super::*;
use std::sync::atomic::AtomicUsize;
use vigie_core::alert::{AlertEvent, Change};
use vigie_core::config::ClientId;
use vigie_core::events::{Cause, ConfigEvent, TransitionEvent};
use vigie_core::rules::Status;

fn t0() -> DateTime<Utc> {
    "2026-01-01T00:00:00Z".parse().expect("t")
}

fn alert(id: u64) -> Alert {
    serde_json::from_value(serde_json::json!({
        "id": id, "owner": {"equipment": "cam-1"}, "site": "s", "rule": "temperature", "severity": "critical",
        "state": "open", "summary": "x", "opened_at": t0(), "updated_at": t0(), "notified": true, "timeline": []
    }))
    .expect("alert")
}

fn opened(id: u64) -> EventBody {
    EventBody::Alert(Box::new(AlertEvent {
        alert: alert(id),
        change: Change::Opened,
        notify: true,
    }))
}

fn config_event(n: usize) -> EventBody {
    EventBody::Config(ConfigEvent {
        accepted: true,
        sites: n,
        equipment: 0,
        added: 0,
        changed: 0,
        removed: 0,
        errors: Vec::new(),
    })
}

#[tokio::test]
async fn snapshots_alerts_and_transitions_survive_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let now = t0();
    {
        let (store, restored) = Store::open(dir.path()).expect("open");
        assert!(restored.equipment.is_empty());
        assert_eq!(restored.next_alert_id, 1);
        assert_eq!(restored.last_seq, 0);
        let mut st = EquipmentState::new(now);
        st.offline_since = Some(now);
        store.put_equipment(&EquipmentId::new("cam-1"), &st);
        store.put_equipment(&EquipmentId::new("cam-2"), &st);
        store.remove_equipment(&EquipmentId::new("cam-2"));
        store.append(
            now,
            vec![EventBody::Transition(TransitionEvent {
                equipment: EquipmentId::new("cam-1"),
                site: SiteId::new("s"),
                client: ClientId::new("c"),
                from: Status::Up,
                to: Status::Down,
                reason: Some("timeout".into()),
                cause: Cause::ProbeFailure,
                maintenance: None,
            })],
        );
        store.append(now, vec![opened(41)]);
        store.flush().await.expect("flush");
        assert_eq!(store.health().last_seq, 2);
        store.close();
    }
    let restored = Store::read_snapshot(dir.path()).expect("read");
    assert_eq!(restored.equipment.len(), 1);
    assert_eq!(
        restored.equipment[&EquipmentId::new("cam-1")].offline_since,
        Some(now)
    );
    assert_eq!(restored.next_alert_id, 42);
    assert_eq!(restored.last_seq, 2);
    let reader = StoreReader::open(dir.path()).expect("reader");
    let tr = reader
        .transitions("cam-1", now, now + chrono::Duration::hours(1))
        .expect("transitions");
    assert_eq!(tr.len(), 1);
    assert_eq!(tr[0].0, 1);
    assert_eq!(tr[0].2.to, Status::Down);
    assert_eq!(tr[0].2.client, ClientId::new("c"));
    assert!(
        reader
            .transitions(
                "cam-1",
                now + chrono::Duration::seconds(1),
                now + chrono::Duration::hours(1)
            )
            .expect("transitions")
            .is_empty()
    );
    assert_eq!(reader.alert(41).expect("alert").map(|a| a.id), Some(41));
    assert_eq!(reader.alert(40).expect("alert"), None);
}

#[tokio::test]
async fn events_are_numbered_in_order_published_after_commit_and_continue_after_reopen() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = Store::open(dir.path()).expect("open");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let committed_when_published = Arc::new(AtomicUsize::new(0));
    {
        let seen = Arc::clone(&seen);
        let reader = store.reader();
        let ok = Arc::clone(&committed_when_published);
        store.on_commit(Box::new(move |events| {
            // Published events are already readable from the table.
            let last = events.last().map(|e| e.seq).unwrap_or(0);
            if reader.last_seq().expect("last") >= last {
                ok.fetch_add(events.len(), Ordering::Relaxed);
            }
            seen.lock()
                .expect("lock")
                .extend(events.iter().map(|e| e.seq));
        }));
    }
    for i in 0..100 {
        store.append(t0(), vec![config_event(i), config_event(i + 1000)]);
    }
    store.flush().await.expect("flush");
    let seqs: Vec<u64> = seen.lock().expect("lock").clone();
    assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    assert_eq!(committed_when_published.load(Ordering::Relaxed), 200);
    let events = store.reader().events_after(0, 1000).expect("read");
    let sites: Vec<usize> = events
        .iter()
        .map(|e| match &e.body {
            EventBody::Config(c) => c.sites,
            _ => usize::MAX,
        })
        .collect();
    let expected: Vec<usize> = (0..100).flat_map(|i| [i, i + 1000]).collect();
    assert_eq!(sites, expected);
    store.close();

    let (store, restored) = Store::open(dir.path()).expect("reopen");
    assert_eq!(restored.last_seq, 200);
    store.append(t0(), vec![config_event(7)]);
    store.flush().await.expect("flush");
    let next = store.reader().events_after(200, 10).expect("read");
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![201]);
    store.close();
}

#[tokio::test]
async fn a_reader_far_behind_a_burst_still_reads_every_event_in_pages() {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, _) = Store::open(dir.path()).expect("open");
    // Far more than the writer's channel and any page: the reader catches up from the table.
    let total = 3 * CHANNEL_CAPACITY + 5 * read::MAX_EVENTS_PER_READ;
    let sender = store.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..total {
            sender.append(t0(), vec![config_event(i)]);
        }
    });
    producer.join().expect("producer");
    store.flush().await.expect("flush");
    let reader = store.reader();
    let mut after = 0;
    let mut count = 0;
    loop {
        let page = reader.events_after(after, usize::MAX).expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= read::MAX_EVENTS_PER_READ);
        for e in &page {
            assert_eq!(e.seq, after + 1, "no gap, no duplicate");
            match &e.body {
                EventBody::Config(c) => assert_eq!(c.sites, count),
                other => panic!("unexpected {other:?}"),
            }
            after = e.seq;
            count += 1;
        }
    }
    assert_eq!(count, total);
    store.close();
}

#[test]
fn a_corrupt_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(DB_FILE);
    let garbage = b"this is not a redb database, it is garbage written by a test".repeat(100);
    std::fs::write(&path, &garbage).expect("write");
    let err = Store::open(dir.path()).expect_err("must refuse");
    assert!(matches!(err, StoreError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), garbage);
}

#[test]
fn an_empty_file_is_refused_not_replaced() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join(DB_FILE);
    std::fs::write(&path, b"").expect("write");
    let err = Store::open(dir.path()).expect_err("must refuse");
    assert!(err.to_string().contains("is empty"), "{err}");
    assert!(err.to_string().contains("move it aside"), "{err}");
    assert_eq!(std::fs::metadata(&path).expect("meta").len(), 0);
}

#[tokio::test]
async fn a_truncated_file_is_refused_with_a_message_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let (store, _) = Store::open(dir.path()).expect("open");
        for i in 0..2000 {
            store.append(t0(), vec![opened(i + 1)]);
        }
        store.flush().await.expect("flush");
        store.close();
    }
    let path = dir.path().join(DB_FILE);
    let full = std::fs::read(&path).expect("read");
    for keep in [full.len() / 2, 4096, 100] {
        std::fs::write(&path, &full[..keep]).expect("truncate");
        let err = Store::open(dir.path()).expect_err("must refuse");
        assert!(
            matches!(err, StoreError::Unreadable { .. }),
            "{keep}: {err}"
        );
        assert_eq!(
            std::fs::read(&path).expect("read").len(),
            keep,
            "left untouched"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tmp");
    let dir = parent.path().join("data");
    let (store, _) = Store::open(&dir).expect("open");
    store.close();
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(DB_FILE)), 0o600);
    write_private(&dir.join("daemon.json"), b"{}").expect("write");
    assert_eq!(mode(&dir.join("daemon.json")), 0o600);
}

#[test]
fn the_outbox_keeps_deliveries_and_its_cursor_across_a_reopen_and_caps_what_was_sent() {
    let dir = tempfile::tempdir().expect("tmp");
    {
        let (store, _) = Store::open(dir.path()).expect("open");
        store.write_outbox(OutboxWrite {
            cursor: Some(7),
            entries: vec![(1, Some(b"one".to_vec())), (2, Some(b"two".to_vec()))],
            sent: Vec::new(),
            marks: Vec::new(),
        });
        store.flush_blocking().expect("commit");
        let r = store.reader();
        assert_eq!(r.outbox_cursor().expect("cursor"), Some(7));
        assert_eq!(r.outbox().expect("outbox").len(), 2);
        // Sent: removed from the outbox and kept in the sent table, in one transaction; a
        // cursor never moves back.
        store.write_outbox(OutboxWrite {
            cursor: Some(5),
            entries: vec![(1, None)],
            sent: vec![(1, b"one".to_vec())],
            marks: Vec::new(),
        });
        store.close();
    }
    let r = StoreReader::open(dir.path()).expect("reader");
    assert_eq!(r.outbox_cursor().expect("cursor"), Some(7));
    assert_eq!(r.outbox().expect("outbox"), vec![(2, b"two".to_vec())]);
    assert_eq!(r.outbox_sent().expect("sent"), vec![(1, b"one".to_vec())]);
    assert_eq!(r.outbox_last_id().expect("last"), 2);
    drop(r);
    let (store, _) = Store::open(dir.path()).expect("reopen");
    store.write_outbox(OutboxWrite {
        cursor: None,
        entries: Vec::new(),
        sent: (2..=SENT_KEPT + 10).map(|i| (i, vec![1])).collect(),
        marks: Vec::new(),
    });
    store.flush_blocking().expect("commit");
    let sent = store.reader().outbox_sent().expect("sent");
    assert_eq!(sent.len() as u64, SENT_KEPT);
    assert_eq!(sent.first().map(|(k, _)| *k), Some(11));
    store.close();
}
