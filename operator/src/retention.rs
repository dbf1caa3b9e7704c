//! Which backups retention deletes: a pure function of the backups, the policy and the time.
//!
//! - Scheduled backups older than `retentionDays` go, but never one of the newest `minCount` good
//!   scheduled backups, and never the newest good scheduled backup (even with `minCount: 0`).
//! - Pre-deployment, manual and pre-restore backups stay, unless `preDeploymentRetentionDays` is
//!   set; then those older than it go.
//! - The newest good backup of any kind never goes.
//! - Failed backups go by the same ages as good ones of their kind (they hold no usable file).
//! - Backups still pending or running never go.

use crate::crd::{BackupKind, BackupPhase};

const DAY: i64 = 86_400;

/// One backup as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The `Backup` resource.
    pub name: String,
    pub kind: BackupKind,
    pub phase: Option<BackupPhase>,
    /// When it was taken (seconds since the epoch).
    pub taken_at: i64,
    pub file: Option<String>,
}

impl Entry {
    fn is_good(&self) -> bool {
        self.phase == Some(BackupPhase::Completed) && self.file.is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub retention_days: i32,
    pub min_count: i32,
    /// Unset: pre-deployment, manual and pre-restore backups are kept.
    pub other_retention_days: Option<i32>,
}

/// The backups to delete, oldest first.
pub fn choose(entries: &[Entry], policy: Policy, now: i64) -> Vec<Entry> {
    let mut by_age: Vec<&Entry> = entries.iter().collect();
    // Newest first; the name breaks ties so the choice does not depend on input order.
    by_age.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then(b.name.cmp(&a.name)));

    let newest_good = by_age.iter().find(|e| e.is_good()).map(|e| e.name.as_str());
    let protected_scheduled: Vec<&str> = by_age
        .iter()
        .filter(|e| e.kind == BackupKind::Scheduled && e.is_good())
        .take(usize::try_from(policy.min_count.max(1)).unwrap_or(1))
        .map(|e| e.name.as_str())
        .collect();

    let older_than = |entry: &Entry, days: i32| now - entry.taken_at > i64::from(days) * DAY;
    let mut chosen: Vec<Entry> = by_age
        .into_iter()
        .filter(|e| e.phase.is_some_and(BackupPhase::is_terminal))
        .filter(|e| Some(e.name.as_str()) != newest_good)
        .filter(|e| !protected_scheduled.contains(&e.name.as_str()))
        .filter(|e| match e.kind {
            BackupKind::Scheduled => older_than(e, policy.retention_days),
            _ => policy
                .other_retention_days
                .is_some_and(|days| older_than(e, days)),
        })
        .cloned()
        .collect();
    chosen.reverse();
    chosen
}

/// Seconds since the epoch of the time in a backup file name
/// (`toogoodtogo_YYYYMMDD_HHMMSS[_kind].sql.gz`, UTC), if it is one.
pub fn taken_at_from_file(file: &str) -> Option<i64> {
    let stamp = file.strip_prefix("toogoodtogo_")?.get(..15)?;
    let (date, time) = stamp.split_once('_')?;
    if date.len() != 8
        || time.len() != 6
        || !(date.chars().chain(time.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[..4],
        &date[4..6],
        &date[6..],
        &time[..2],
        &time[2..4],
        &time[4..]
    );
    rfc3339
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn entry(name: &str, kind: BackupKind, days_old: i64, phase: BackupPhase) -> Entry {
        Entry {
            name: name.to_owned(),
            kind,
            phase: Some(phase),
            taken_at: NOW - days_old * DAY - 60,
            file: (phase == BackupPhase::Completed).then(|| format!("{name}.sql.gz")),
        }
    }

    fn scheduled(name: &str, days_old: i64) -> Entry {
        entry(
            name,
            BackupKind::Scheduled,
            days_old,
            BackupPhase::Completed,
        )
    }

    fn policy(retention_days: i32, min_count: i32, other: Option<i32>) -> Policy {
        Policy {
            retention_days,
            min_count,
            other_retention_days: other,
        }
    }

    fn names(chosen: &[Entry]) -> Vec<&str> {
        chosen.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn nothing_to_prune_in_an_empty_or_young_set() {
        assert!(choose(&[], policy(7, 0, None), NOW).is_empty());
        let young: Vec<Entry> = (0..7).map(|d| scheduled(&format!("s{d}"), d)).collect();
        assert!(choose(&young, policy(7, 0, None), NOW).is_empty());
    }

    #[test]
    fn scheduled_backups_older_than_the_retention_go_oldest_first() {
        let entries: Vec<Entry> = (0..10).map(|d| scheduled(&format!("s{d}"), d)).collect();
        assert_eq!(
            names(&choose(&entries, policy(7, 0, None), NOW)),
            ["s9", "s8", "s7"]
        );
    }

    #[test]
    fn exactly_the_retention_age_stays() {
        let mut edge = scheduled("edge", 7);
        edge.taken_at = NOW - 7 * DAY;
        let entries = [scheduled("new", 0), edge];
        assert!(choose(&entries, policy(7, 0, None), NOW).is_empty());
    }

    #[test]
    fn min_count_keeps_the_newest_good_ones_even_when_old() {
        let entries: Vec<Entry> = (20..30).map(|d| scheduled(&format!("s{d}"), d)).collect();
        assert_eq!(
            names(&choose(&entries, policy(7, 3, None), NOW)),
            ["s29", "s28", "s27", "s26", "s25", "s24", "s23"]
        );
    }

    #[test]
    fn the_newest_good_scheduled_backup_stays_with_min_count_zero() {
        let entries = [scheduled("old", 30), scheduled("older", 40)];
        assert_eq!(names(&choose(&entries, policy(7, 0, None), NOW)), ["older"]);
    }

    #[test]
    fn failed_backups_do_not_count_as_good() {
        // The newest scheduled backups failed: the newest good one is old and stays.
        let entries = [
            entry("f1", BackupKind::Scheduled, 1, BackupPhase::Failed),
            entry("f2", BackupKind::Scheduled, 9, BackupPhase::Failed),
            scheduled("good", 20),
            scheduled("older", 21),
        ];
        assert_eq!(
            names(&choose(&entries, policy(7, 1, None), NOW)),
            ["older", "f2"]
        );
    }

    #[test]
    fn min_count_counts_only_good_backups() {
        let entries = [
            entry("f", BackupKind::Scheduled, 10, BackupPhase::Failed),
            scheduled("a", 10),
            scheduled("b", 11),
            scheduled("c", 12),
        ];
        assert_eq!(
            names(&choose(&entries, policy(7, 2, None), NOW)),
            ["c", "f"]
        );
    }

    #[test]
    fn running_and_pending_backups_never_go() {
        let mut running = entry("r", BackupKind::Scheduled, 30, BackupPhase::Running);
        running.file = None;
        let mut pending = entry("p", BackupKind::Manual, 30, BackupPhase::Pending);
        pending.phase = None;
        let entries = [scheduled("new", 0), running, pending];
        assert!(choose(&entries, policy(7, 0, Some(1)), NOW).is_empty());
    }

    #[test]
    fn pre_deployment_and_manual_backups_stay_without_their_own_retention() {
        let entries = [
            scheduled("new", 0),
            entry(
                "pre",
                BackupKind::PreDeployment,
                400,
                BackupPhase::Completed,
            ),
            entry("man", BackupKind::Manual, 400, BackupPhase::Completed),
            entry(
                "safety",
                BackupKind::PreRestore,
                400,
                BackupPhase::Completed,
            ),
        ];
        assert!(choose(&entries, policy(7, 0, None), NOW).is_empty());
    }

    #[test]
    fn pre_deployment_retention_prunes_the_other_kinds_by_their_own_age() {
        let entries = [
            scheduled("new", 0),
            entry(
                "pre-old",
                BackupKind::PreDeployment,
                40,
                BackupPhase::Completed,
            ),
            entry(
                "pre-new",
                BackupKind::PreDeployment,
                10,
                BackupPhase::Completed,
            ),
            entry("man-old", BackupKind::Manual, 31, BackupPhase::Completed),
            entry(
                "safety-old",
                BackupKind::PreRestore,
                35,
                BackupPhase::Completed,
            ),
            // a scheduled backup of 20 days goes by retentionDays, not by the 30 days
            scheduled("s20", 20),
        ];
        assert_eq!(
            names(&choose(&entries, policy(7, 0, Some(30)), NOW)),
            ["pre-old", "safety-old", "man-old", "s20"]
        );
    }

    #[test]
    fn the_newest_good_backup_of_any_kind_never_goes() {
        // Only old manual backups: the newest stays even past their retention.
        let entries = [
            entry("m1", BackupKind::Manual, 50, BackupPhase::Completed),
            entry("m2", BackupKind::Manual, 60, BackupPhase::Completed),
        ];
        assert_eq!(
            names(&choose(&entries, policy(7, 0, Some(30)), NOW)),
            ["m2"]
        );
    }

    #[test]
    fn the_choice_does_not_depend_on_the_order_of_the_input() {
        let mut entries: Vec<Entry> = (0..12).map(|d| scheduled(&format!("s{d:02}"), d)).collect();
        let forward = choose(&entries, policy(5, 2, None), NOW);
        entries.reverse();
        assert_eq!(choose(&entries, policy(5, 2, None), NOW), forward);
        assert_eq!(forward.len(), 7, "days 5 to 11 are older than 5 days");
    }

    #[test]
    fn a_daily_backup_with_a_weeks_retention_settles_at_eight_files() {
        // Simulate 30 days of 03:00 backups, pruning after each: the set never grows.
        let mut kept: Vec<Entry> = Vec::new();
        for day in 0..30 {
            let now = NOW + day * DAY;
            kept.push(Entry {
                taken_at: now,
                ..scheduled(&format!("d{day:02}"), 0)
            });
            let gone = choose(&kept, policy(7, 0, None), now);
            kept.retain(|e| !gone.contains(e));
            assert!(kept.len() <= 8, "day {day}: {}", kept.len());
        }
        assert_eq!(kept.len(), 8);
    }

    #[test]
    fn file_names_give_their_time() {
        assert_eq!(
            taken_at_from_file("toogoodtogo_20260101_030000.sql.gz"),
            Some(1_767_236_400)
        );
        assert_eq!(
            taken_at_from_file("toogoodtogo_20260101_030000_pre_deployment.sql.gz"),
            Some(1_767_236_400)
        );
        assert_eq!(taken_at_from_file("toogoodtogo_2026_03.sql.gz"), None);
        assert_eq!(taken_at_from_file("other_20260101_030000.sql.gz"), None);
        assert_eq!(
            taken_at_from_file("toogoodtogo_20261399_030000.sql.gz"),
            None
        );
    }
}
