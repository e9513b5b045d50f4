//! Writing what was read into the database: each course's text, elements and settings,
//! and what happened to each.

use serde::Serialize;
use tokio_postgres::GenericClient;

use super::{CoursesYml, Source};
use crate::error::{Error, Result};

/// What happened to one course of a courses.yml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Its content was written: course.yaml, the elements, the settings.
    Imported,
    /// Imported before with the same file: nothing to do.
    Unchanged,
    /// `path: db`: in the database already, left as it is.
    InDatabase,
    /// The course has its own course row (published to the database): left as it is.
    HasCourseRow,
    /// The course has elements in the database already: left as it is.
    HasElements,
    /// No row of the legacy tables names the course: nothing to fill.
    NotNamed,
    /// Imported before from another file with other content: left as imported.
    ImportedOtherwise,
    /// An `ext_courses` entry whose course no given courses.yml defines.
    ExtNotFound,
    /// An `ext_courses` entry whose course another given courses.yml defines (imported there).
    ExtElsewhere,
}

/// One course and its outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CourseImport {
    pub course_id: String,
    pub bot: String,
    pub file: String,
    pub outcome: Outcome,
    pub elements: usize,
}

/// Everything an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub courses: Vec<CourseImport>,
}

impl ImportReport {
    pub fn imported(&self) -> usize {
        self.courses.iter().filter(|c| c.outcome == Outcome::Imported).count()
    }
}

fn q(context: &'static str) -> impl Fn(tokio_postgres::Error) -> Error {
    move |e| Error::query(context, &e, "The import transaction was rolled back: nothing was changed.")
}

/// The bot of a courses.yml: given, else its folder's name when a bot has it, else
/// `default_bot`, else the only bot of account 1.
async fn bot_of<C: GenericClient + Sync>(client: &C, y: &CoursesYml, default_bot: Option<&str>) -> Result<String> {
    let bots: Vec<String> = client
        .query("SELECT bot_name FROM bot WHERE account_id = 1 ORDER BY bot_name", &[])
        .await
        .map_err(q("reading the bots"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if let Some(b) = &y.bot {
        if bots.contains(b) {
            return Ok(b.clone());
        }
        return Err(Error::Usage {
            message: format!("--courses-yml {}={}: no bot of the default account is named so", b, y.file.display()),
            hint: format!("Name one of the bots: {}.", bots.join(", ")),
        });
    }
    if let Some(folder) = y.folder_name().filter(|f| bots.contains(f)) {
        return Ok(folder);
    }
    if let Some(d) = default_bot.filter(|d| bots.iter().any(|b| b == d)) {
        return Ok(d.to_string());
    }
    if bots.len() == 1 {
        return Ok(bots[0].clone());
    }
    Err(Error::Usage {
        message: format!("{}: which bot's courses.yml it is cannot be told from its folder", y.file.display()),
        hint: format!("Name the bot: --courses-yml BOT={} (bots: {}).", y.file.display(), bots.join(", ")),
    })
}

/// Courses created from references (they live in YAML files) and whether their
/// content was imported: (course_id, imported, bots deployed).
pub async fn yaml_only_courses<C: GenericClient + Sync>(client: &C) -> Result<Vec<(String, bool, Vec<String>)>> {
    Ok(client
        .query(include_str!("../../sql/courses/yaml_only.sql"), &[&crate::target::REFERENCE_COURSE_METADATA])
        .await
        .map_err(q("reading the courses that live in YAML files"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// Course ids that rows of a legacy database name but no course row holds.
pub async fn yaml_only_courses_legacy<C: GenericClient + Sync>(client: &C) -> Result<Vec<String>> {
    Ok(client
        .query(include_str!("../../sql/courses/yaml_only_legacy.sql"), &[])
        .await
        .map_err(q("reading the courses that live in YAML files"))?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Writes the content of every YAML course that the legacy tables name, in one
/// transaction. `default_bot` names the bot of a courses.yml in `scripts/` itself.
pub async fn import(client: &mut tokio_postgres::Client, files: &[CoursesYml], default_bot: Option<&str>) -> Result<ImportReport> {
    let tx = client.transaction().await.map_err(q("starting the import"))?;
    let mut report = ImportReport::default();
    let mut bots = vec![];
    for y in files {
        bots.push(bot_of(&tx, y, default_bot).await?);
    }
    let hidden: bool = tx
        .query_one("SELECT to_regclass('profochat_saas.legacy_hidden_element') IS NOT NULL", &[])
        .await
        .map_err(q("reading the legacy interface"))?
        .get(0);
    for (y, bot) in files.iter().zip(&bots) {
        for c in &y.courses {
            let mut row = CourseImport {
                course_id: c.course_id.clone(),
                bot: bot.clone(),
                file: y.file.display().to_string(),
                outcome: Outcome::InDatabase,
                elements: 0,
            };
            let (path, text, elements) = match &c.source {
                Source::Db => {
                    report.courses.push(row);
                    continue;
                }
                Source::Elsewhere => {
                    let defined = files.iter().any(|o| {
                        o.courses.iter().any(|oc| oc.course_id == c.course_id && matches!(oc.source, Source::File { .. } | Source::Db))
                    });
                    row.outcome = if defined { Outcome::ExtElsewhere } else { Outcome::ExtNotFound };
                    report.courses.push(row);
                    continue;
                }
                Source::File { path, text, elements } => (path, text, elements),
            };
            row.file = path.display().to_string();
            let state = tx
                .query_opt(include_str!("../../sql/courses/course_state.sql"), &[&c.course_id, &crate::target::REFERENCE_COURSE_METADATA])
                .await
                .map_err(q("reading the course"))?;
            let Some(state) = state else {
                row.outcome = Outcome::NotNamed;
                report.courses.push(row);
                continue;
            };
            let (from_references, imported, yaml, n_elements): (bool, bool, Option<String>, i64) =
                (state.get(0), state.get(1), state.get(2), state.get(3));
            row.outcome = if !from_references {
                Outcome::HasCourseRow
            } else if imported && yaml.as_deref() == Some(text.as_str()) {
                Outcome::Unchanged
            } else if imported {
                Outcome::ImportedOtherwise
            } else if n_elements > 0 {
                Outcome::HasElements
            } else {
                Outcome::Imported
            };
            if row.outcome == Outcome::Imported {
                let mut ids: Vec<i64> = Vec::with_capacity(elements.len());
                for e in elements {
                    let id: i64 = tx
                        .query_one(
                            "INSERT INTO course_element (bot_name, course_id, element_id, json, element_type) VALUES ($1, $2, $3, $4, $5) RETURNING course_element_id",
                            &[bot, &c.course_id, &e.element_id, &e.json, &e.element_type],
                        )
                        .await
                        .map_err(q("writing the course's elements"))?
                        .get(0);
                    ids.push(id);
                }
                if hidden {
                    tx.execute("INSERT INTO profochat_saas.legacy_hidden_element (course_element_id) SELECT unnest($1::int8[]) ON CONFLICT DO NOTHING", &[&ids])
                        .await
                        .map_err(q("keeping the imported elements out of the legacy interface"))?;
                }
                let source = serde_json::json!({
                    "courses_yml": y.file.display().to_string(),
                    "file": path.display().to_string(),
                    "bot": bot,
                    "elements": elements.len(),
                });
                tx.execute(
                    include_str!("../../sql/courses/course_update.sql"),
                    &[&c.course_id, text, &serde_json::Value::Object(c.settings.clone()), &source],
                )
                .await
                .map_err(q("writing the course"))?;
                row.elements = elements.len();
            }
            report.courses.push(row);
        }
    }
    tx.commit().await.map_err(q("committing the import"))?;
    Ok(report)
}
