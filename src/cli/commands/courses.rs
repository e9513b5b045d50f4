//! `course import` and `--courses-yml`: the content of the bots' YAML courses, into the database.

use std::process::ExitCode;

use anyhow::Result;
use profochat_saas::courses_yml::{self, CoursesYml, CoursesYmlArg, ImportReport, Outcome};
use profochat_saas::schema;

use crate::cli::args::CourseCommand;
use crate::cli::{connect, output};

/// Reads every courses.yml and its course files (before anything changes).
pub fn read_all(args: &[CoursesYmlArg]) -> Result<Vec<CoursesYml>> {
    Ok(args.iter().map(courses_yml::read).collect::<profochat_saas::Result<Vec<_>>>()?)
}

fn describe(o: &Outcome) -> &'static str {
    match o {
        Outcome::Imported => "imported",
        Outcome::Unchanged => "imported before from the same file: unchanged",
        Outcome::InDatabase => "path: db, in the database already: left as it is",
        Outcome::HasCourseRow => "has its own course row (published to the database): left as it is",
        Outcome::HasElements => "has elements in the database already: left as it is",
        Outcome::NotNamed => "no row of the legacy tables names it: nothing to fill",
        Outcome::ImportedOtherwise => "imported before from another file with other content: left as imported (compare the files)",
        Outcome::ExtNotFound => "ext_courses entry: no given courses.yml defines it (pass that bot's courses.yml too)",
        Outcome::ExtElsewhere => "ext_courses entry: defined by another given courses.yml, imported from there",
    }
}

/// The import, one line per course.
pub fn print_report(r: &ImportReport) {
    println!("YAML courses: {} imported of {} listed", r.imported(), r.courses.len());
    for c in &r.courses {
        let n = if c.outcome == Outcome::Imported { format!(", {} element(s) from {}", c.elements, c.file) } else { String::new() };
        println!("  {} (bot {}): {}{n}", profochat_saas::sql::literal(&c.course_id), profochat_saas::sql::literal(&c.bot), describe(&c.outcome));
    }
}

pub async fn run(c: CourseCommand) -> Result<ExitCode> {
    let CourseCommand::Import { conn, courses_yml: args, default_bot, confirm, out } = c;
    let files = read_all(&args)?;
    let mut db = connect(&conn).await?;
    let target = db.settings.display_target();
    let st = schema::inspect(&db).await?;
    if !st.state.is_migrated() {
        return Err(profochat_saas::Error::state(
            format!("{target} is {}: YAML courses are imported into a migrated database", st.state.describe()),
            "Run `profochat-saas migrate --courses-yml FILE` (it imports them after the migration).",
        )
        .into());
    }
    let n: usize = files.iter().map(|f| f.courses.len()).sum();
    output::confirm(&format!("Import the content of the YAML courses ({n} listed in {} file(s)) into {target}?", files.len()), confirm.yes).await?;
    let r = courses_yml::import(&mut db.client, &files, default_bot.as_deref()).await?;
    if out.json {
        output::print_json(&serde_json::to_value(&r)?)?;
    } else {
        print_report(&r);
    }
    Ok(ExitCode::SUCCESS)
}

/// A course that lives in YAML files, and whether a given courses.yml covers it.
#[derive(Debug, serde::Serialize)]
pub struct Coverage {
    pub course_id: String,
    /// Its content was imported already.
    pub imported: bool,
    /// The course file (or `db`) of the first given courses.yml that lists it.
    pub covered_by: Option<String>,
}

/// The YAML-only courses of this database (made from references, or to be made on a
/// legacy one) and which given courses.yml covers each.
pub async fn coverage(db: &profochat_saas::conn::Db, migrated: bool, files: &[CoursesYml]) -> Result<Vec<Coverage>> {
    let courses: Vec<(String, bool)> = if migrated {
        courses_yml::yaml_only_courses(&db.client).await?.into_iter().map(|(c, i, _)| (c, i)).collect()
    } else {
        courses_yml::yaml_only_courses_legacy(&db.client).await?.into_iter().map(|c| (c, false)).collect()
    };
    Ok(courses
        .into_iter()
        .map(|(course_id, imported)| {
            let covered_by = files.iter().flat_map(|f| &f.courses).filter(|c| c.course_id == course_id).find_map(|c| match &c.source {
                courses_yml::Source::File { path, .. } => Some(path.display().to_string()),
                courses_yml::Source::Db => Some("db".to_string()),
                courses_yml::Source::Elsewhere => None,
            });
            Coverage { course_id, imported, covered_by }
        })
        .collect())
}

pub fn print_coverage(c: &[Coverage]) {
    if c.is_empty() {
        return;
    }
    println!();
    println!("Courses that live in YAML files ({}: rows name them, no course row holds them):", c.len());
    if c.iter().any(|x| x.covered_by.is_none() && !x.imported) {
        println!("  (the application shows a course not covered empty: pass each bot's courses.yml with --courses-yml)");
    }
    for x in c {
        let how = match (&x.covered_by, x.imported) {
            (_, true) => "content imported".to_string(),
            (Some(f), false) if f == "db" => "courses.yml says path: db (nothing to import)".to_string(),
            (Some(f), false) => format!("covered by {f}"),
            (None, false) => "not covered".to_string(),
        };
        println!("  {}: {how}", profochat_saas::sql::literal(&x.course_id));
    }
}
