//! `plan`: what `migrate` would do on this database, with exact counts, every anomaly
//! of SPEC §1 and its outcome, and the decisions the operator still has to make.
//! Read-only: the analysis runs in a transaction that is rolled back.


use serde::Serialize;

use crate::conn::Db;
use crate::error::{Error, Result};
use crate::migrate::analysis::{self, Analysis};
use crate::migrate::decisions;
use crate::migrate::options::{CourseConflicts, MigrateOptions, Orphans};
use crate::migrate::phases::PHASES;
use crate::schema::{self, SchemaStatus};

pub use crate::migrate::decisions::{Action, Decision, DecisionKind};

/// One anomaly kind and what the migration does about it.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// Stable id, e.g. `null_bot_rows`.
    pub kind: &'static str,
    pub description: String,
    pub count: i64,
    pub outcome: String,
    /// Per-table counts or names, where it helps.
    pub details: Vec<String>,
}

/// A bot the migration creates.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedBot {
    pub name: String,
    pub found_in: Vec<String>,
    pub token: &'static str,
    pub exists: bool,
}

/// One phase and what it will do.
#[derive(Debug, Clone, Serialize)]
pub struct PhasePlan {
    pub number: u8,
    pub name: &'static str,
    pub actions: Vec<String>,
}

/// One step of the online migration: what it does and how `migrate --abort` undoes it.
#[derive(Debug, Clone, Serialize)]
pub struct OnlineStepPlan {
    pub number: u8,
    pub name: String,
    pub does: &'static str,
    pub undo: &'static str,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub target: String,
    pub status: SchemaStatus,
    pub default_bot: Option<String>,
    pub default_bot_source: Option<&'static str>,
    pub bots: Vec<PlannedBot>,
    pub anomalies: Vec<Anomaly>,
    pub course_outcomes: Vec<analysis::CourseCopy>,
    pub created_courses: Vec<analysis::MissingCourse>,
    /// Decisions still missing: `migrate` refuses with them.
    pub decisions: Vec<Decision>,
    pub phases: Vec<PhasePlan>,
    /// The order in which an online `migrate` (the default) does the phases' work.
    pub online_steps: Vec<OnlineStepPlan>,
    pub analysis: Analysis,
    /// Whether `migrate` would run (no decision pending, database migratable).
    pub ready: bool,
    /// What `migrate` does with this database.
    pub action: Action,
    /// The database is migrated already: `migrate` would change nothing.
    pub nothing_to_do: bool,
}

/// Analyses the database and says what `migrate` would do. Changes nothing.
pub async fn plan(db: &mut Db, opts: &MigrateOptions) -> Result<Plan> {
    let status = schema::inspect(db).await?;
    let target = db.settings.display_target();
    let action = decisions::action(&status, &target)?;
    if !status.upstream_since.is_empty() {
        // Upstream's own later migrations ran here: the schema is theirs, and `migrate`
        // changes nothing (the legacy tables are not analysed: they changed shape).
        return Ok(Plan {
            target,
            status,
            default_bot: None,
            default_bot_source: None,
            bots: vec![],
            anomalies: vec![],
            course_outcomes: vec![],
            created_courses: vec![],
            decisions: vec![],
            phases: vec![],
            online_steps: vec![],
            analysis: Analysis::default(),
            ready: true,
            action: Action::Nothing,
            nothing_to_do: true,
        });
    }
    let tx = db
        .client
        .transaction()
        .await
        .map_err(|e| Error::query("starting the analysis", &e, "Nothing was changed."))?;
    let names = crate::migrate::legacy_bot_names(&tx).await?;
    let (default_bot, source) = match decisions::default_bot(opts, &names) {
        Some((name, source)) => (Some(name), Some(source.describe_for(&names))),
        None => (None, None),
    };
    let a = analysis::run(&tx, default_bot.as_deref(), None).await?;
    let existing_bots: Vec<String> = if status.new_tables_found.iter().any(|t| t == "bot") {
        tx.query("SELECT bot_name FROM bot WHERE account_id = 1", &[])
            .await
            .map(|rows| rows.iter().map(|r| r.get(0)).collect())
            .unwrap_or_default()
    } else {
        vec![]
    };
    tx.rollback()
        .await
        .map_err(|e| Error::query("ending the analysis", &e, "Nothing was changed."))?;
    Ok(build(target, status, action, opts, default_bot, source, a, existing_bots))
}

#[allow(clippy::too_many_arguments)]
fn build(
    target: String,
    status: SchemaStatus,
    action: Action,
    opts: &MigrateOptions,
    default_bot: Option<String>,
    source: Option<&'static str>,
    a: Analysis,
    existing_bots: Vec<String>,
) -> Plan {
    let nothing_to_do = action == Action::Nothing;
    let decisions = decisions::pending(opts, default_bot.as_deref(), &a, status.state.is_migrated());

    let mut bots: Vec<PlannedBot> = a
        .bots
        .iter()
        .map(|(name, tables)| PlannedBot {
            name: name.clone(),
            found_in: tables.clone(),
            token: token_source(opts, name),
            exists: existing_bots.contains(name),
        })
        .collect();
    if let Some(d) = &default_bot {
        if !a.bots.contains_key(d) {
            bots.push(PlannedBot {
                name: d.clone(),
                found_in: vec![],
                token: token_source(opts, d),
                exists: existing_bots.contains(d),
            });
        }
    }

    let anomalies = anomalies(&a, opts, default_bot.as_deref());
    let phases = PHASES
        .iter()
        .map(|p| PhasePlan {
            number: p.number(),
            name: p.name(),
            actions: p.describe(&a, opts),
        })
        .collect();
    Plan {
        target,
        ready: decisions.is_empty(),
        action,
        nothing_to_do,
        status,
        default_bot,
        default_bot_source: source,
        bots,
        anomalies,
        course_outcomes: a.course_copies.clone(),
        created_courses: a.missing_courses.clone(),
        decisions,
        phases,
        online_steps: crate::state::OnlineStep::all()
            .into_iter()
            .map(|s| OnlineStepPlan { number: s.number(), name: s.name().to_string(), does: s.describe(), undo: s.undo() })
            .collect(),
        analysis: a,
    }
}

impl Plan {
    /// Upstream's own later migrations were applied since the migration: upstream's
    /// tooling manages the schema, and there is nothing to plan.
    pub fn upstream_managed(&self) -> bool {
        !self.status.upstream_since.is_empty()
    }

    /// The refusal `plan` ends with: a `--default-bot` (or `BOT_NAME`) that names no
    /// bot is refused, as `migrate` refuses it. The other decisions are listed only.
    pub fn refusal(&self) -> Option<Error> {
        self.decisions.iter().find(|d| d.kind == DecisionKind::UnknownDefaultBot).map(Decision::refusal)
    }
}

fn token_source(opts: &MigrateOptions, bot: &str) -> &'static str {
    match &opts.bot_token {
        Some((name, _)) if name == bot => "from BOT_API_TOKEN",
        _ => "placeholder (set it with `bot set-token`)",
    }
}

fn anomalies(a: &Analysis, opts: &MigrateOptions, default_bot: Option<&str>) -> Vec<Anomaly> {
    let mut out = vec![];
    let default = default_bot.map(|d| format!("bot {d:?}")).unwrap_or_else(|| "the default bot (none named yet)".into());
    out.push(Anomaly {
        kind: "several_bots",
        description: "bots named in the legacy tables".into(),
        count: a.bots.len() as i64,
        outcome: "one bot row each in account 1, display name = the name".into(),
        details: a.bots.iter().map(|(b, t)| format!("{b:?}: {}", t.join(", "))).collect(),
    });
    out.push(Anomaly {
        kind: "null_bot_rows",
        description: "rows whose bot name is NULL (written before multi-bot support)".into(),
        count: a.total_null_bot_rows(),
        outcome: format!("they belong to {default}"),
        details: a.null_bot_rows.iter().map(|(t, n)| format!("{t}: {n}")).collect(),
    });
    let only = a.bots_only_in();
    out.push(Anomaly {
        kind: "bots_only_in_one_table",
        description: "bots that appear in only one table".into(),
        count: only.values().map(|v| v.len() as i64).sum(),
        outcome: "they get a bot row like any other".into(),
        details: only.iter().map(|(t, b)| format!("only in {t}: {}", b.join(", "))).collect(),
    });
    out.push(Anomaly {
        kind: "missing_course",
        description: "course ids named by rows but with no course row (courses living in YAML files)".into(),
        count: a.missing_courses.len() as i64,
        outcome: "a course row is created for each (title = course_id, metadata says it came from references)".into(),
        details: a.missing_course_refs.iter().map(|(t, n)| format!("{t}: {n} rows")).collect(),
    });
    out.push(Anomaly {
        kind: "null_course_id",
        description: "rows with a NULL course_id".into(),
        count: a.null_course_rows.values().sum(),
        outcome: "kept as they are; runs without a course keep deployment_id NULL and are reported".into(),
        details: a.null_course_rows.iter().map(|(t, n)| format!("{t}: {n}")).collect(),
    });
    let identical = a.identical_copies();
    out.push(Anomaly {
        kind: "identical_course_copies",
        description: "course ids under several bots with identical content".into(),
        count: identical.len() as i64,
        outcome: "one course, deployed to each bot; the other copies go to the archive".into(),
        details: identical,
    });
    let differing = a.differing_copies();
    out.push(Anomaly {
        kind: "differing_course_copies",
        description: "course ids under several bots with different content".into(),
        count: differing.len() as i64,
        outcome: match opts.course_conflicts {
            CourseConflicts::Rename => "the copy most rows use keeps the id, the others get a new id and their rows follow (archived)".into(),
            CourseConflicts::Fail => "--course-conflicts fail: migrate refuses".into(),
        },
        details: a
            .course_copies
            .iter()
            .filter(|c| !c.identical && c.action == analysis::CourseAction::Rename)
            .map(|c| format!("{} of bot {:?} → {}", c.course_id, c.bot_name, c.new_course_id))
            .collect(),
    });
    out.push(Anomaly {
        kind: "orphan_run_refs",
        description: "conversation rows whose run_id points at no run (deleted long ago)".into(),
        count: a.orphan_run_refs,
        outcome: match opts.orphans {
            Orphans::Detach => "run_id set NULL, the old value archived (--orphans keep keeps it)".into(),
            Orphans::Keep => "kept; the foreign key is added NOT VALID (--orphans keep)".into(),
        },
        details: vec![],
    });
    out.push(Anomaly {
        kind: "null_run_refs",
        description: "conversation rows with a NULL run_id".into(),
        count: a.null_run_refs,
        outcome: "kept as they are".into(),
        details: vec![],
    });
    out.push(Anomaly {
        kind: "duplicate_active_runs",
        description: "chats with several unfinished runs on one bot".into(),
        count: a.duplicate_active_groups,
        outcome: format!("only the newest stays active; {} older runs are deactivated (archived)", a.runs_to_deactivate),
        details: vec![],
    });
    out.push(Anomaly {
        kind: "duplicate_participants",
        description: "duplicate course participants (same course and username)".into(),
        count: a.duplicate_participants,
        outcome: "one row stays, the others go to the archive: a non-NULL username over NULL (legacy reads match '', never NULL), then the oldest".into(),
        details: a.participant_collapses.clone(),
    });
    out.push(Anomaly {
        kind: "duplicate_bans",
        description: "duplicate bans (same bot, chat and excluded flag)".into(),
        count: a.duplicate_bans,
        outcome: "one row stays, the others go to the archive: a named bot over a NULL bot name (legacy reads never see NULL), then the oldest; no banned chat becomes unbanned".into(),
        details: a.ban_collapses.clone(),
    });
    out.push(Anomaly {
        kind: "null_flags",
        description: "runs with is_ended NULL and waiting elements with is_waiting NULL".into(),
        count: a.null_is_ended_runs + a.null_is_waiting,
        outcome: "kept NULL; a run with is_ended NULL counts as not ended".into(),
        details: vec![format!("run.is_ended: {}", a.null_is_ended_runs), format!("waiting_element.is_waiting: {}", a.null_is_waiting)],
    });
    out.push(Anomaly {
        kind: "large_json",
        description: "conversation rows with JSON texts over 64 KiB".into(),
        count: a.large_json_rows,
        outcome: "kept byte for byte".into(),
        details: vec![],
    });
    out
}
