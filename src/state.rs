//! What the tool's state tables record, typed: where a migration stands
//! (`profochat_saas.migration.status`, `profochat_saas.online_progress`), the options
//! it was recorded with (`profochat_saas.migration.options`), and the names shared by
//! the code that reads and writes them. Each value is written and parsed in one place.

use serde::{Deserialize, Serialize};

/// The advisory lock one online `migrate` holds on its database, so that two never run
/// at once (`rollback` and `migrate --abort` take it too).
pub const ADVISORY_KEY: i64 = 0x7072_6f66_6f63_6861;

/// The online migration's temporary index on run (chat_id): built by the step "chat
/// index", dropped after the switch; not part of the target schema.
pub const CHAT_INDEX: &str = "profochat_saas_run_chat";

/// The recorded status of one migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationStatus {
    /// Inside the migration transaction (never seen committed).
    Running,
    /// An online migration between its first step and its switch: running, or
    /// interrupted (`profochat_saas.online_progress` says where). `migrate` resumes
    /// it, `migrate --abort` undoes it.
    InProgress,
    /// Data and keys committed; secondary indexes still being built (or interrupted).
    IndexesPending,
    /// Complete; the legacy interface and the compatibility layer are in place.
    Completed,
    /// `finish` removed the legacy interface and the compatibility layer.
    Finished,
    /// Undone by `rollback`.
    RolledBack,
    /// `migrate --abort` of an online migration under way: its undo runs in short
    /// batches (`profochat_saas.undo_progress` says where), running or interrupted;
    /// `migrate --abort` resumes it, and only it.
    Aborting,
}

impl MigrationStatus {
    pub const ALL: [MigrationStatus; 7] = [
        MigrationStatus::Running,
        MigrationStatus::InProgress,
        MigrationStatus::IndexesPending,
        MigrationStatus::Completed,
        MigrationStatus::Finished,
        MigrationStatus::RolledBack,
        MigrationStatus::Aborting,
    ];

    /// As stored in the state table.
    pub fn as_str(self) -> &'static str {
        match self {
            MigrationStatus::Running => "running",
            MigrationStatus::InProgress => "in_progress",
            MigrationStatus::IndexesPending => "indexes_pending",
            MigrationStatus::Completed => "completed",
            MigrationStatus::Finished => "finished",
            MigrationStatus::RolledBack => "rolled_back",
            MigrationStatus::Aborting => "aborting",
        }
    }

    pub fn parse(s: &str) -> Option<MigrationStatus> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    /// The data is migrated (whether or not the indexes are built or `finish` ran).
    pub fn migrated(self) -> bool {
        matches!(self, MigrationStatus::IndexesPending | MigrationStatus::Completed | MigrationStatus::Finished)
    }

    /// The migration changed the legacy tables and was not undone: migrated, an
    /// online migration between its first step and its switch, or one whose abort is
    /// under way.
    pub fn begun(self) -> bool {
        self.online_unswitched() || self.migrated()
    }

    /// An online migration that has not switched: in progress, or being aborted.
    pub fn online_unswitched(self) -> bool {
        matches!(self, MigrationStatus::InProgress | MigrationStatus::Aborting)
    }

    /// The stored names of the statuses for which `f` holds (a parameter of the
    /// statements that select migrations by status).
    pub fn names_where(f: fn(MigrationStatus) -> bool) -> Vec<&'static str> {
        Self::ALL.into_iter().filter(|s| f(*s)).map(MigrationStatus::as_str).collect()
    }
}

/// The same course_id under several bots with differing content. (The values are
/// explained in plain comments, here and in [`Orphans`]: as doc comments they would
/// become each value's help in `--help`, which the flag's own text explains already.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CourseConflicts {
    // One copy keeps the id; the others get a new readable id.
    #[default]
    Rename,
    // Refuse to migrate.
    Fail,
}

/// conversation.run_id pointing at no run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Orphans {
    // Set NULL; the old value goes to the archive.
    #[default]
    Detach,
    // Keep the value; the foreign key is added NOT VALID.
    Keep,
}

/// What `profochat_saas.migration.options` records of the options a migration ran
/// with (never a secret): a resumed online migration goes on with its decisions, and
/// `validate` reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedOptions {
    pub default_bot: Option<String>,
    /// The `BOT_NAME` whose token came from `BOT_API_TOKEN`.
    #[serde(default)]
    pub bot_token_from_env: Option<String>,
    #[serde(default)]
    pub course_conflicts: CourseConflicts,
    #[serde(default)]
    pub orphans: Orphans,
    #[serde(default)]
    pub single_transaction: bool,
    /// Recorded by an online migration only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub online: bool,
    /// Online: the backfill links every row again (the database was partly migrated
    /// by hand or by an older script, so its links cannot be trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relink_all: Option<bool>,
}

/// A legacy table the online migration fills in primary-key batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackfillTable {
    Run,
    WaitingElement,
    Conversation,
    Bannedparticipants,
    Courseparticipants,
    GenSettings,
}

impl BackfillTable {
    /// In the order the online migration fills them: runs first (the waiting
    /// elements look up their run by bot and chat, through an index on run's bot_id).
    pub const ALL: [BackfillTable; 6] = [
        BackfillTable::Run,
        BackfillTable::WaitingElement,
        BackfillTable::Conversation,
        BackfillTable::Bannedparticipants,
        BackfillTable::Courseparticipants,
        BackfillTable::GenSettings,
    ];

    /// The table's name (and its name in the progress table).
    pub fn table(self) -> &'static str {
        match self {
            BackfillTable::Run => "run",
            BackfillTable::WaitingElement => "waiting_element",
            BackfillTable::Conversation => "conversation",
            BackfillTable::Bannedparticipants => "bannedparticipants",
            BackfillTable::Courseparticipants => "courseparticipants",
            BackfillTable::GenSettings => "gen_settings",
        }
    }

    /// Its primary key column (one int column).
    pub fn key(self) -> &'static str {
        match self {
            BackfillTable::Run => "run_id",
            BackfillTable::WaitingElement => "waiting_element_id",
            BackfillTable::Conversation => "conversation_id",
            BackfillTable::Bannedparticipants => "bannedparticipant_id",
            BackfillTable::Courseparticipants => "courseparticipant_id",
            BackfillTable::GenSettings => "id",
        }
    }

    /// The key its batches are ranges of: its own primary key, except conversation,
    /// whose rows that change are found through their run (batches of run_id).
    pub fn batched_by(self) -> &'static str {
        match self {
            BackfillTable::Conversation => "run_id",
            other => other.key(),
        }
    }

    pub fn parse(s: &str) -> Option<BackfillTable> {
        Self::ALL.into_iter().find(|t| t.table() == s)
    }
}

/// The steps of an online migration, in order. Each is done once its work is
/// committed; `online_progress` records the last step done, and for a backfill the
/// last key whose batch committed, so that a resumed `migrate` redoes at most one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "step", content = "table")]
pub enum OnlineStep {
    /// New tables and columns (metadata only), the change log, the fingerprint before.
    Expand,
    /// A temporary index on run (chat_id), built concurrently, that the legacy bot's
    /// course ends and the compatibility layer's lookups use until the switch.
    ChatIndex,
    /// Bots, course copies merged and renamed, deployments, the legacy interface's
    /// memory, the compatibility triggers and the legacy interface.
    Prepare,
    /// One legacy table's links, renames, detaches and collapses, in key batches.
    Backfill(BackfillTable),
    /// The two indexes the later backfills look rows up with (run by bot and chat,
    /// conversation by run), built concurrently.
    LookupIndexes,
    /// The secondary indexes, built concurrently.
    Indexes,
    /// Unique keys (concurrent unique indexes), NOT NULL through validated checks,
    /// foreign keys added NOT VALID and validated.
    Keys,
    /// The no-loss proof and validation (reads only), then the one short switch
    /// transaction that records the migration as completed.
    Switch,
    /// After the switch: the change log's triggers, the temporary index and the
    /// progress record go. Interrupted, it is finished by the next `migrate`.
    Cleanup,
}

impl OnlineStep {
    /// Every step, in order.
    pub fn all() -> Vec<OnlineStep> {
        let mut v = vec![OnlineStep::Expand, OnlineStep::ChatIndex, OnlineStep::Prepare, OnlineStep::Backfill(BackfillTable::Run), OnlineStep::LookupIndexes];
        v.extend(BackfillTable::ALL.into_iter().skip(1).map(OnlineStep::Backfill));
        v.extend([OnlineStep::Indexes, OnlineStep::Keys, OnlineStep::Switch, OnlineStep::Cleanup]);
        v
    }

    /// The name recorded in `online_progress.step` (with the table for a backfill).
    pub fn name(self) -> &'static str {
        match self {
            OnlineStep::Expand => "expand",
            OnlineStep::ChatIndex => "chat index",
            OnlineStep::Prepare => "prepare",
            OnlineStep::Backfill(BackfillTable::Run) => "backfill run",
            OnlineStep::Backfill(BackfillTable::WaitingElement) => "backfill waiting_element",
            OnlineStep::Backfill(BackfillTable::Conversation) => "backfill conversation",
            OnlineStep::Backfill(BackfillTable::Bannedparticipants) => "backfill bannedparticipants",
            OnlineStep::Backfill(BackfillTable::Courseparticipants) => "backfill courseparticipants",
            OnlineStep::Backfill(BackfillTable::GenSettings) => "backfill gen_settings",
            OnlineStep::LookupIndexes => "lookup indexes",
            OnlineStep::Indexes => "indexes",
            OnlineStep::Keys => "keys",
            OnlineStep::Switch => "switch",
            OnlineStep::Cleanup => "cleanup",
        }
    }

    pub fn parse(s: &str) -> Option<OnlineStep> {
        Self::all().into_iter().find(|st| st.name() == s)
    }

    /// The step after this one.
    pub fn next(self) -> Option<OnlineStep> {
        let all = Self::all();
        let i = all.iter().position(|s| *s == self)?;
        all.get(i + 1).copied()
    }
}

/// Where an online migration stands, as `online_progress` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineProgress {
    pub migration_id: i32,
    /// The last step done (None: none yet).
    pub done: Option<OnlineStep>,
    /// The step under way, and for a backfill the last key whose batch committed.
    pub current: Option<OnlineStep>,
    pub last_key: Option<i64>,
    /// The key the backfill of `current` goes up to (captured when it started).
    pub max_key: Option<i64>,
    pub batches: i64,
    pub rows: i64,
}

impl OnlineProgress {
    /// "backfill run, 40 batches done, up to run_id 80000 of 200000".
    pub fn describe(&self) -> String {
        match (self.current, self.done) {
            (Some(OnlineStep::Backfill(t)), _) => match (self.last_key, self.max_key) {
                (_, None) => format!("step {}: started, its key range not read yet", OnlineStep::Backfill(t).name()),
                (None, Some(max)) => {
                    format!("step {}: no batch done yet, {} up to {max}", OnlineStep::Backfill(t).name(), t.batched_by())
                }
                (Some(last), Some(max)) => format!(
                    "step {}: {} batches done, up to {} {last} of {max}",
                    OnlineStep::Backfill(t).name(),
                    self.batches,
                    t.batched_by(),
                ),
            },
            (Some(s), _) => format!("step {} under way", s.name()),
            (None, Some(d)) => format!("step {} done", d.name()),
            (None, None) => "not started".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backfill_before_its_first_batch_is_not_described_as_key_zero_of_zero() {
        let t = OnlineStep::all().into_iter().find_map(|s| match s {
            OnlineStep::Backfill(t) => Some(t),
            _ => None,
        });
        let t = t.expect("a backfill step");
        let p = |last_key, max_key, batches| OnlineProgress {
            migration_id: 1,
            done: None,
            current: Some(OnlineStep::Backfill(t)),
            last_key,
            max_key,
            batches,
            rows: 0,
        };
        let name = OnlineStep::Backfill(t).name();
        let key = t.batched_by();
        assert_eq!(p(None, None, 0).describe(), format!("step {name}: started, its key range not read yet"));
        assert_eq!(p(None, Some(500), 0).describe(), format!("step {name}: no batch done yet, {key} up to 500"));
        assert_eq!(p(Some(200), Some(500), 2).describe(), format!("step {name}: 2 batches done, up to {key} 200 of 500"));
    }

    #[test]
    fn every_status_parses_back() {
        for s in MigrationStatus::ALL {
            assert_eq!(MigrationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MigrationStatus::parse("done"), None);
        assert!(MigrationStatus::Finished.migrated() && !MigrationStatus::RolledBack.migrated());
        assert!(!MigrationStatus::InProgress.migrated());
        assert_eq!(MigrationStatus::names_where(MigrationStatus::migrated), ["indexes_pending", "completed", "finished"]);
        assert_eq!(MigrationStatus::names_where(MigrationStatus::begun), ["in_progress", "indexes_pending", "completed", "finished", "aborting"]);
    }

    #[test]
    fn the_recorded_options_keep_their_shape_and_read_back() {
        let offline = RecordedOptions { default_bot: Some("main_bot".into()), orphans: Orphans::Keep, ..RecordedOptions::default() };
        let v = serde_json::to_value(&offline).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"default_bot": "main_bot", "bot_token_from_env": null, "course_conflicts": "rename", "orphans": "keep", "single_transaction": false})
        );
        let online = RecordedOptions { online: true, relink_all: Some(false), course_conflicts: CourseConflicts::Fail, ..RecordedOptions::default() };
        let v = serde_json::to_value(&online).unwrap();
        assert_eq!((&v["online"], &v["relink_all"], &v["course_conflicts"]), (&true.into(), &false.into(), &"fail".into()));
        for r in [offline, online] {
            assert_eq!(serde_json::from_value::<RecordedOptions>(serde_json::to_value(&r).unwrap()).unwrap(), r);
        }
        // A record with fewer keys (the column's default is '{}') reads as the defaults.
        assert_eq!(serde_json::from_str::<RecordedOptions>("{}").unwrap(), RecordedOptions::default());
    }

    #[test]
    fn every_online_step_parses_back_and_follows_the_one_before() {
        let all = OnlineStep::all();
        assert_eq!(all.len(), 14);
        for w in all.windows(2) {
            assert_eq!(w[0].next(), Some(w[1]));
        }
        for s in &all {
            assert_eq!(OnlineStep::parse(s.name()), Some(*s));
        }
        assert_eq!(OnlineStep::Switch.next(), Some(OnlineStep::Cleanup));
        assert_eq!(OnlineStep::Cleanup.next(), None);
        assert_eq!(OnlineStep::parse("backfill nothing"), None);
        assert_eq!(all[1], OnlineStep::ChatIndex);
        assert_eq!(all[3], OnlineStep::Backfill(BackfillTable::Run));
        assert_eq!(all[4], OnlineStep::LookupIndexes);
        assert_eq!(all[10], OnlineStep::Indexes);
    }
}
